/* tests/unit/test_proto.c - common/proto: the JSON mapping and its refusals */
#include "crypto.h"
#include "pclient.h"
#include "proto.h"
#include "testreg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static arena_t *A;

static void setup(void)
{
    A = arena_new();
}

static void teardown(void)
{
    arena_free(A);
    A = NULL;
}

/* A reader over text (which must be a valid object). */
static proto_in_t *reader(const char *text)
{
    const char *why = NULL;
    json_object *o = proto_json_parse(A, text, strlen(text), &why);
    ck_assert_msg(o != NULL, "parse failed: %s: %s", text, why);
    return proto_in_new(A, o, NULL);
}

/* ---- strict JSON ---------------------------------------------------------- */

static const char *const json_good[] = {
    "{}",
    " {\"a\" : 1 }\n",
    "{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false,\"e\":-0.5e-3}",
    "{\"s\":\"\\ud83d\\ude00 \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9\"}",
    "{\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}",
    "{\"a\":{\"a\":{\"a\":1}}}", /* same key in different objects */
};

START_TEST(json_accepts_strict_json)
{
    const char *why = NULL;
    const char *t = json_good[_i];
    ck_assert_msg(proto_json_parse(A, t, strlen(t), &why) != NULL, "%s refused: %s", t, why);
}
END_TEST

static const char *const json_bad[] = {
    "",
    "[]",
    "1",
    "\"x\"",
    "null",
    "{'a':1}",
    "{\"a\":NaN}",
    "{\"a\":Infinity}",
    "{\"a\":-Infinity}",
    "{\"a\":1.}",
    "{\"a\":01}",
    "{\"a\":.5}",
    "{\"a\":+1}",
    "{\"a\":0x10}",
    "{\"a\":1,}",
    "{\"a\":1} x",
    "{\"a\":1}{}",
    "{\"a\":1,\"a\":2}",
    "{\"b\":{\"a\":1,\"a\":1}}",
    "{\"a\":\"\t\"}",
    "{\"a\":\"\\u0000\"}",
    "{\"a\\u0000b\":1}",
    "{\"a\":\"\\ud800\"}",
    "{\"a\":\"\\udc00\"}",
    "{\"a\":\"\\ud800\\u0041\"}",
    "{\"a\":\"\\x41\"}",
    "{\"a\":\"\\'\"}",
    "{\"a\":\"\xff\"}",
    "{\"a\":\"\xc0\xaf\"}",
    "{\"a\":\"\xed\xa0\x80\"}",
    "{\"a\":\"\xf4\x90\x80\x80\"}",
    "{\"a\":\"\xe2\x82\"}",
    "/*c*/{}",
    "{\"a\":1}//",
    "{\"a\":tru}",
    "{\"a\":True}",
    "{a:1}",
    "{\"a\" 1}",
    "{\"a\":\"unterminated}",
    "{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}",
};

START_TEST(json_refuses_lax_json)
{
    const char *why = NULL;
    const char *t = json_bad[_i];
    ck_assert_msg(proto_json_parse(A, t, strlen(t), &why) == NULL, "accepted: %s", t);
    ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(json_refuses_nul_byte)
{
    const char *why = NULL;
    ck_assert_ptr_null(proto_json_parse(A, "{\"a\":1}\0", 8, &why));
    ck_assert_ptr_null(proto_json_parse(A, "{\"a\":\"x\0y\"}", 11, &why));
}
END_TEST

/* ---- the envelope ----------------------------------------------------------- */

START_TEST(decode_request_envelope)
{
    proto_in_t *in;
    const char *cmd, *why;
    const char *body = "{\"cmd\":\"ping\",\"ping\":\"hello\"}";
    ck_assert_int_eq(proto_decode_request(A, body, strlen(body), &in, &cmd, &why), PROTO_REQ_OK);
    ck_assert_str_eq(cmd, "ping");
    const char *ping;
    ck_assert(proto_str(in, "ping", 100, &ping));
    ck_assert_str_eq(ping, "hello");
    ck_assert(proto_in_end(in));

    static const struct {
        const char *body;
        proto_req_status want;
    } cases[] = {
        {"not json", PROTO_REQ_INVALID_MSG_FORMAT},
        {"[\"cmd\"]", PROTO_REQ_INVALID_MSG_FORMAT},
        {"{\"cmd\":\"ping\",\"cmd\":\"user_create\"}", PROTO_REQ_INVALID_MSG_FORMAT},
        {"{}", PROTO_REQ_UNKNOWN_COMMAND},
        {"{\"cmd\":null}", PROTO_REQ_UNKNOWN_COMMAND},
        {"{\"cmd\":1}", PROTO_REQ_UNKNOWN_COMMAND},
        {"{\"cmd\":\"\"}", PROTO_REQ_UNKNOWN_COMMAND},
        {"{\"cmd\":\"Ping\"}", PROTO_REQ_UNKNOWN_COMMAND},
        {"{\"cmd\":\"ping \"}", PROTO_REQ_UNKNOWN_COMMAND},
        {"{\"cmd\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
         PROTO_REQ_UNKNOWN_COMMAND},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        proto_req_status st =
            proto_decode_request(A, cases[k].body, strlen(cases[k].body), &in, &cmd, &why);
        ck_assert_msg(st == cases[k].want, "%s: got %d", cases[k].body, st);
        ck_assert_ptr_null(in);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

START_TEST(unknown_fields_refused)
{
    proto_in_t *in;
    const char *cmd, *why, *ping;
    const char *body = "{\"cmd\":\"ping\",\"ping\":\"x\",\"pong\":1}";
    ck_assert_int_eq(proto_decode_request(A, body, strlen(body), &in, &cmd, &why), PROTO_REQ_OK);
    ck_assert(proto_str(in, "ping", 100, &ping));
    ck_assert(!proto_in_end(in));
    ck_assert_str_eq(proto_in_field(in), "pong");
    json_object *rep = proto_reply_bad_message(in);
    ck_assert_str_eq(json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN),
                     "{\"status\":\"bad_message\",\"reason\":\"field `pong`: unknown "
                     "field\",\"field\":\"pong\"}");
    json_object_put(rep);
}
END_TEST

START_TEST(unknown_nested_fields_refused)
{
    proto_in_t *in = reader("{\"batch\":[{\"vlob_id\":\"00112233445566778899aabbccddeeff\"},"
                            "{\"vlob_id\":\"00112233445566778899aabbccddeeff\",\"x\":1}]}");
    size_t n;
    ck_assert(proto_list(in, "batch", 10, &n));
    ck_assert_uint_eq(n, 2);
    for (size_t k = 0; k < n; k++) {
        proto_in_t *item = proto_list_object(in, "batch", k);
        ck_assert_ptr_nonnull(item);
        proto_uuid_t u;
        ck_assert(proto_uuid(item, "vlob_id", &u));
    }
    ck_assert(!proto_in_end(in));
    ck_assert_str_eq(proto_in_field(in), "batch[1].x");
}
END_TEST

START_TEST(first_error_is_kept)
{
    proto_in_t *in = reader("{\"a\":1,\"b\":\"x\"}");
    const char *s;
    int64_t i;
    ck_assert(!proto_str(in, "a", 10, &s));
    ck_assert_ptr_null(s);
    ck_assert(!proto_int(in, "b", 0, 10, &i)); /* would fail anyway */
    ck_assert(!proto_str(in, "b", 10, &s));    /* would succeed: sticky failure */
    ck_assert_ptr_null(s);
    ck_assert(!proto_in_end(in));
    ck_assert_str_eq(proto_in_field(in), "a");
    ck_assert_str_eq(proto_in_reason(in), "field `a`: expected a string");
}
END_TEST

/* One getter call on field "f" of {"f": <value>}; true iff accepted. */
typedef enum {
    G_STR,
    G_BYTES,
    G_KEY,
    G_DT,
    G_UUID,
    G_INT,
    G_BOOL,
    G_ENUM,
    G_UID,
    G_DID,
    G_DLABEL,
    G_HH
} getter;

static bool try_get(getter g, const char *value)
{
    char *text = arena_printf(A, "{\"f\":%s}", value);
    proto_in_t *in = reader(text);
    static const char *const names[] = {"USER", "DEVICE", NULL};
    const char *s, *e, *l;
    proto_bytes_t b;
    const uint8_t *k;
    int64_t i64;
    bool bo;
    int en;
    proto_uuid_t u;
    switch (g) {
    case G_STR:
        proto_str(in, "f", 8, &s);
        break;
    case G_BYTES:
        proto_bytes(in, "f", 4, &b);
        break;
    case G_KEY:
        proto_bytes_n(in, "f", 32, &k);
        break;
    case G_DT:
        proto_datetime(in, "f", &i64);
        break;
    case G_UUID:
        proto_uuid(in, "f", &u);
        break;
    case G_INT:
        proto_int(in, "f", 1, 100, &i64);
        break;
    case G_BOOL:
        proto_bool(in, "f", &bo);
        break;
    case G_ENUM:
        proto_enum(in, "f", names, &en);
        break;
    case G_UID:
        proto_user_id(in, "f", &s);
        break;
    case G_DID:
        proto_device_id(in, "f", &s);
        break;
    case G_DLABEL:
        proto_device_label(in, "f", &s);
        break;
    case G_HH:
        proto_human_handle(in, "f", &e, &l);
        break;
    }
    bool ok = proto_in_end(in);
    if (!ok) {
        /* every refusal names the field (or a sub-field of it) */
        ck_assert_ptr_nonnull(proto_in_field(in));
        ck_assert_int_eq(proto_in_field(in)[0], 'f');
    }
    return ok;
}

static const struct {
    getter g;
    const char *value;
    bool ok;
} getter_cases[] = {
    {G_STR, "\"\"", true},
    {G_STR, "\"12345678\"", true},
    {G_STR, "\"123456789\"", false}, /* over 8 bytes */
    {G_STR, "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"", true},
    {G_STR, "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x\"", false},
    {G_STR, "null", false},
    {G_STR, "1", false},
    {G_STR, "true", false},
    {G_STR, "[\"a\"]", false},
    {G_STR, "{}", false},
    {G_BYTES, "\"\"", true},
    {G_BYTES, "\"AAECAw==\"", true},
    {G_BYTES, "\"AAECAwQ=\"", false}, /* 5 bytes > 4 */
    {G_BYTES, "\"AAECAw\"", false},   /* unpadded */
    {G_BYTES, "\"AAECAx==\"", false}, /* non-canonical */
    {G_BYTES, "\"AA-CAw==\"", false}, /* base64url */
    {G_BYTES, "\"AAEC Aw==\"", false},
    {G_BYTES, "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"", false},
    {G_BYTES, "[0,1]", false},
    {G_KEY, "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"", true},
    {G_KEY, "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"", false}, /* 31 */
    {G_KEY, "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", false}, /* 33 */
    {G_DT, "\"2024-02-29T23:59:59.999999Z\"", true},
    {G_DT, "\"2023-02-29T00:00:00.000000Z\"", false},
    {G_DT, "\"2024-01-01T00:00:00Z\"", false},
    {G_DT, "\"2024-01-01T00:00:00.000Z\"", false},
    {G_DT, "\"2024-01-01T00:00:00.000000+00:00\"", false},
    {G_DT, "\"2024-01-01t00:00:00.000000z\"", false},
    {G_DT, "\"2024-01-01 00:00:00.000000Z\"", false},
    {G_DT, "1704067200", false},
    {G_UUID, "\"00112233445566778899aabbccddeeff\"", true},
    {G_UUID, "\"00112233445566778899AABBCCDDEEFF\"", false},
    {G_UUID, "\"00112233-4455-6677-8899-aabbccddeeff\"", false},
    {G_UUID, "\"00112233445566778899aabbccddeef\"", false},
    {G_UUID, "\"00112233445566778899aabbccddeeffa\"", false},
    {G_UUID, "\"0011223344556677889gaabbccddeeff\"", false},
    {G_INT, "1", true},
    {G_INT, "100", true},
    {G_INT, "0", false},
    {G_INT, "101", false},
    {G_INT, "-1", false},
    {G_INT, "1.0", false},
    {G_INT, "1e1", false},
    {G_INT, "\"5\"", false},
    {G_INT, "true", false},
    {G_INT, "9223372036854775807", false},
    {G_INT, "9223372036854775808", false},
    {G_INT, "99999999999999999999999999", false},
    {G_INT, "-9223372036854775809", false},
    {G_BOOL, "true", true},
    {G_BOOL, "false", true},
    {G_BOOL, "0", false},
    {G_BOOL, "\"true\"", false},
    {G_BOOL, "null", false},
    {G_ENUM, "\"USER\"", true},
    {G_ENUM, "\"DEVICE\"", true},
    {G_ENUM, "\"user\"", false},
    {G_ENUM, "\"OTHER\"", false},
    {G_ENUM, "0", false},
    {G_UID, "\"alice\"", true},
    {G_UID, "\"Alice_01-x\"", true},
    {G_UID, "\"12345678901234567890123456789012\"", true},
    {G_UID, "\"123456789012345678901234567890123\"", false},
    {G_UID, "\"\"", false},
    {G_UID, "\"al ice\"", false},
    {G_UID, "\"alice@dev\"", false},
    {G_UID,
     "\"al\xc3\xaf"
     "ce\"",
     false}, /* non-ASCII letter: our ASCII rule */
    {G_DID, "\"alice@dev1\"", true},
    {G_DID, "\"alice@\"", false},
    {G_DID, "\"@dev1\"", false},
    {G_DID, "\"alice@dev@1\"", false},
    {G_DID, "\"alice\"", false},
    {G_DLABEL, "\"My laptop \xf0\x9f\x92\xbb\"", true},
    {G_DLABEL, "\"\"", false},
    {G_DLABEL, "\"a\\nb\"", false},
    {G_DLABEL, "\"a\\u007fb\"", false},
    {G_DLABEL, "\"a\\u0085b\"", false},
    {G_HH, "{\"email\":\"alice@example.com\",\"label\":\"Alice Liddell\"}", true},
    {G_HH, "{\"email\":\"alice@example.com\"}", false},
    {G_HH, "{\"email\":\"alice@example.com\",\"label\":\"A\",\"x\":1}", false},
    {G_HH, "{\"email\":\"alice\",\"label\":\"A\"}", false},
    {G_HH, "{\"email\":\"alice@example.com\",\"label\":\"A <b>\"}", false},
    {G_HH, "{\"email\":\"alice@example.com\",\"label\":\"\"}", false},
    {G_HH, "[\"alice@example.com\",\"Alice\"]", false},
    {G_HH, "null", false},
};

START_TEST(getters_accept_and_refuse)
{
    bool ok = try_get(getter_cases[_i].g, getter_cases[_i].value);
    ck_assert_msg(ok == getter_cases[_i].ok, "getter %d on %s: got %d", getter_cases[_i].g,
                  getter_cases[_i].value, ok);
}
END_TEST

START_TEST(getter_values)
{
    proto_in_t *in = reader("{\"b\":\"AAECAw==\",\"t\":\"1970-01-01T00:00:01.000002Z\","
                            "\"u\":\"00112233445566778899aabbccddeeff\",\"i\":42,\"n\":null,"
                            "\"hh\":{\"email\":\"a@b.c\",\"label\":\"A B\"}}");
    proto_bytes_t b;
    int64_t t, i;
    proto_uuid_t u;
    const char *e, *l;
    ck_assert(proto_bytes(in, "b", 10, &b));
    ck_assert_uint_eq(b.len, 4);
    ck_assert_mem_eq(b.data, "\x00\x01\x02\x03", 4);
    ck_assert(proto_datetime(in, "t", &t));
    ck_assert_int_eq(t, 1000002);
    ck_assert(proto_uuid(in, "u", &u));
    ck_assert_str_eq(u.hex, "00112233445566778899aabbccddeeff");
    ck_assert_uint_eq(u.bytes[0], 0x00);
    ck_assert_uint_eq(u.bytes[15], 0xff);
    ck_assert(proto_int(in, "i", 0, 100, &i));
    ck_assert_int_eq(i, 42);
    ck_assert(!proto_has(in, "n"));       /* null: none */
    ck_assert(!proto_has(in, "missing")); /* absent: none */
    ck_assert(proto_has(in, "hh"));
    ck_assert(proto_human_handle(in, "hh", &e, &l));
    ck_assert_str_eq(e, "a@b.c");
    ck_assert_str_eq(l, "A B");
    ck_assert(proto_in_end(in)); /* "n" counts as read */
}
END_TEST

/* json-c saturates: a huge number must not pass as INT64_MAX even when the
 * caller's range reaches that far. */
START_TEST(int_saturation)
{
    int64_t x;
    proto_in_t *in = reader("{\"f\":9223372036854775808}");
    ck_assert(!proto_int(in, "f", 0, INT64_MAX, &x));
    in = reader("{\"f\":-9223372036854775809}");
    ck_assert(!proto_int(in, "f", INT64_MIN, 0, &x));
    in = reader("{\"f\":9223372036854775806}");
    ck_assert(proto_int(in, "f", 0, INT64_MAX, &x));
    ck_assert_int_eq(x, INT64_MAX - 1);
}
END_TEST

START_TEST(missing_and_null_fields)
{
    proto_in_t *in = reader("{\"a\":null}");
    const char *s;
    ck_assert(!proto_str(in, "a", 10, &s));
    ck_assert_str_eq(proto_in_reason(in), "field `a`: must not be null");
    in = reader("{}");
    ck_assert(!proto_str(in, "a", 10, &s));
    ck_assert_str_eq(proto_in_reason(in), "field `a`: missing");
}
END_TEST

START_TEST(bytes_maps)
{
    proto_in_t *in = reader("{\"m\":{\"alice\":\"AQ==\",\"bob\":\"\"}}");
    proto_bytes_entry_t *e;
    size_t n;
    ck_assert(proto_bytes_map(in, "m", PROTO_KEY_USER_ID, 10, 10, &e, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(e[0].key, "alice");
    ck_assert_uint_eq(e[0].value.len, 1);
    ck_assert_str_eq(e[1].key, "bob");
    ck_assert_uint_eq(e[1].value.len, 0);
    ck_assert(proto_in_end(in));

    in = reader("{\"m\":{\"00112233445566778899aabbccddeeff\":\"AQ==\"}}");
    ck_assert(proto_bytes_map(in, "m", PROTO_KEY_UUID, 10, 10, &e, &n));
    ck_assert_uint_eq(n, 1);

    static const char *const bad[] = {
        "{\"m\":{\"not valid\":\"AQ==\"}}",
        "{\"m\":{\"alice\":\"AQ\"}}",
        "{\"m\":{\"alice\":1}}",
        "{\"m\":{\"alice\":null}}",
        "{\"m\":{\"alice\":\"AQID\"}}", /* 3 bytes > 2 */
        "{\"m\":{\"a\":\"\",\"b\":\"\",\"c\":\"\"}}",
        "{\"m\":[]}",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        in = reader(bad[k]);
        ck_assert_msg(!proto_bytes_map(in, "m", PROTO_KEY_USER_ID, 2, 2, &e, &n), "%s", bad[k]);
        ck_assert(!proto_in_end(in));
        ck_assert_int_eq(proto_in_field(in)[0], 'm');
    }
    in = reader("{\"m\":{\"0011\":\"\"}}");
    ck_assert(!proto_bytes_map(in, "m", PROTO_KEY_UUID, 2, 2, &e, &n));
}
END_TEST

START_TEST(lists)
{
    proto_in_t *in = reader("{\"l\":[1,2,3]}");
    size_t n;
    ck_assert(!proto_list(in, "l", 2, &n));
    in = reader("{\"l\":[1]}");
    ck_assert(proto_list(in, "l", 2, &n));
    ck_assert_ptr_null(proto_list_object(in, "l", 0));
    ck_assert_str_eq(proto_in_field(in), "l[0]");
    in = reader("{\"l\":{}}");
    ck_assert(!proto_list(in, "l", 2, &n));
}
END_TEST

/* ---- identifiers ------------------------------------------------------------ */

START_TEST(identifier_rules)
{
    ck_assert(proto_valid_organization_id("CoolOrg"));
    ck_assert(proto_valid_organization_id("a"));
    ck_assert(proto_valid_organization_id("_-"));
    ck_assert(!proto_valid_organization_id(""));
    ck_assert(!proto_valid_organization_id("a.b"));
    ck_assert(!proto_valid_organization_id("a/b"));
    ck_assert(!proto_valid_organization_id(NULL));
    ck_assert(proto_valid_device_name("dev1"));
    ck_assert(proto_valid_device_id("a@b"));
    ck_assert(!proto_valid_device_id("a@b "));
    char *u = proto_device_id_user(A, "alice@dev1");
    ck_assert_str_eq(u, "alice");

    ck_assert(proto_valid_email("alice@example.com"));
    ck_assert(proto_valid_email("a.b+c@sub.example-x.org"));
    /* a single-label domain is refused, as Parsec 2.12 refuses it (its
     * email parser requires a dot): a handle one client accepts and another
     * refuses would split an organization */
    ck_assert(!proto_valid_email("x@localhost"));
    ck_assert(!proto_valid_email("a@com"));
    ck_assert(proto_valid_email("x@localhost.localdomain"));
    ck_assert(!proto_valid_email("alice"));
    ck_assert(!proto_valid_email("@example.com"));
    ck_assert(!proto_valid_email("alice@"));
    ck_assert(!proto_valid_email("a@b@c"));
    ck_assert(!proto_valid_email(".a@b.c"));
    ck_assert(!proto_valid_email("a.@b.c"));
    ck_assert(!proto_valid_email("a..b@c.d"));
    ck_assert(!proto_valid_email("a b@c.d"));
    ck_assert(!proto_valid_email("a@-b.c"));
    ck_assert(!proto_valid_email("a@b-.c"));
    ck_assert(!proto_valid_email("a@b..c"));
    ck_assert(!proto_valid_email("a@b.c."));
    ck_assert(!proto_valid_email("a@b.c\r\nBcc: x@y.z"));
    ck_assert(!proto_valid_email("\xc3\xa9@b.c"));
    char big[300];
    memset(big, 'a', sizeof big);
    memcpy(big + 240, "@example.com", 13); /* 252 bytes, local part too long */
    ck_assert(!proto_valid_email(big));

    ck_assert(proto_valid_human_label("Alice Liddell"));
    ck_assert(proto_valid_human_label("\xc3\x89lodie"));
    ck_assert(!proto_valid_human_label(""));
    ck_assert(!proto_valid_human_label("Dr. Who"));
    ck_assert(!proto_valid_human_label("a\r\nb"));
    ck_assert(!proto_valid_human_label("a\"b"));
    ck_assert(!proto_valid_human_label("a<b"));
    memset(big, 'a', sizeof big);
    big[254] = '\0';
    ck_assert(proto_valid_human_label(big));
    big[254] = 'a';
    big[255] = '\0';
    ck_assert(!proto_valid_human_label(big));
    ck_assert(proto_valid_device_label(big));
    big[255] = 'a';
    big[256] = '\0';
    ck_assert(!proto_valid_device_label(big));
}
END_TEST

START_TEST(utf8_rules)
{
    ck_assert(proto_valid_utf8("", 0));
    ck_assert(proto_valid_utf8("\x7f", 1));
    ck_assert(proto_valid_utf8("\xc2\x80", 2));
    ck_assert(proto_valid_utf8("\xef\xbf\xbf", 3));
    ck_assert(proto_valid_utf8("\xf4\x8f\xbf\xbf", 4));
    ck_assert(!proto_valid_utf8("\x80", 1));
    ck_assert(!proto_valid_utf8("\xc1\xbf", 2));         /* overlong */
    ck_assert(!proto_valid_utf8("\xe0\x9f\xbf", 3));     /* overlong */
    ck_assert(!proto_valid_utf8("\xf0\x8f\xbf\xbf", 4)); /* overlong */
    ck_assert(!proto_valid_utf8("\xed\xbf\xbf", 3));     /* surrogate */
    ck_assert(!proto_valid_utf8("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    ck_assert(!proto_valid_utf8("\xf8\x88\x80\x80\x80", 5));
    ck_assert(!proto_valid_utf8("\xc3", 1)); /* truncated */
    ck_assert(!proto_valid_utf8("\xe2\x82", 2));
    ck_assert(!proto_valid_utf8("\xc3\x28", 2));
}
END_TEST

/* ---- datetimes ------------------------------------------------------------------ */

START_TEST(datetime_round_trips)
{
    static const struct {
        const char *text;
        int64_t us;
    } v[] = {
        {"1970-01-01T00:00:00.000000Z", 0},
        {"1970-01-01T00:00:00.000001Z", 1},
        {"1969-12-31T23:59:59.999999Z", -1},
        {"2000-02-29T12:34:56.789012Z", INT64_C(951827696789012)},
        {"2024-02-29T23:59:59.999999Z", INT64_C(1709251199999999)},
        {"0001-01-01T00:00:00.000000Z", INT64_C(-62135596800000000)},
        {"9999-12-31T23:59:59.999999Z", INT64_C(253402300799999999)},
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        int64_t us;
        ck_assert_msg(proto_datetime_parse(v[k].text, strlen(v[k].text), &us), "%s", v[k].text);
        ck_assert_int_eq(us, v[k].us);
        char out[PROTO_DATETIME_LEN + 1];
        proto_datetime_format(v[k].us, out);
        ck_assert_str_eq(out, v[k].text);
    }
    /* agrees with the client's independent formatting (libc gmtime_r) */
    int64_t now = proto_now_us();
    for (int64_t t = now - INT64_C(400) * 86400 * 1000000 * 365; t < now;
         t += INT64_C(86400) * 1000000 * 37 + 123457) {
        char *c = pclient_datetime(t);
        char out[PROTO_DATETIME_LEN + 1];
        proto_datetime_format(t, out);
        ck_assert_str_eq(out, c);
        int64_t back;
        ck_assert(proto_datetime_parse(c, strlen(c), &back));
        ck_assert_int_eq(back, t);
        free(c);
    }
    char out[PROTO_DATETIME_LEN + 1];
    proto_datetime_format(INT64_MAX, out);
    ck_assert_str_eq(out, "9999-12-31T23:59:59.999999Z");
    proto_datetime_format(INT64_MIN, out);
    ck_assert_str_eq(out, "0001-01-01T00:00:00.000000Z");
}
END_TEST

START_TEST(datetime_refusals)
{
    static const char *const bad[] = {
        "0000-01-01T00:00:00.000000Z", "1900-02-29T00:00:00.000000Z",
        "2023-13-01T00:00:00.000000Z", "2023-00-01T00:00:00.000000Z",
        "2023-04-31T00:00:00.000000Z", "2023-01-00T00:00:00.000000Z",
        "2023-01-01T24:00:00.000000Z", "2023-01-01T00:60:00.000000Z",
        "2023-01-01T00:00:60.000000Z", "2023-01-01T00:00:00.0000000Z",
        "2023-01-01T00:00:00.00000Z",  "2023-01-01T00:00:00,000000Z",
        "+2023-01-01T00:00:00.00000Z", "2023-1-01T00:00:00.0000000Z",
        "2023-01-01T00:00:00.00000aZ", "2023-01-01T00:00:00.000000 ",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int64_t us;
        ck_assert_msg(!proto_datetime_parse(bad[k], strlen(bad[k]), &us), "%s", bad[k]);
    }
}
END_TEST

START_TEST(ballpark_bounds)
{
    const int64_t now = INT64_C(1700000000000000);
    ck_assert(proto_ballpark_ok(now, now));
    /* client early: its timestamp is ahead of the server */
    ck_assert(proto_ballpark_ok(now, now + 49999999));
    ck_assert(!proto_ballpark_ok(now, now + 50000000));
    /* client late: behind */
    ck_assert(proto_ballpark_ok(now, now - 69999999));
    ck_assert(!proto_ballpark_ok(now, now - 70000000));
    ck_assert(!proto_ballpark_ok(INT64_MAX, INT64_MIN));
    ck_assert(!proto_ballpark_ok(INT64_MIN, INT64_MAX));
}
END_TEST

START_TEST(reply_builders)
{
    json_object *o = proto_reply_bad_timestamp(0, 1, NULL);
    ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                     "{\"status\":\"bad_timestamp\",\"reason\":null,"
                     "\"ballpark_client_early_offset\":50.0,\"ballpark_client_late_offset\":70.0,"
                     "\"backend_timestamp\":\"1970-01-01T00:00:00.000000Z\","
                     "\"client_timestamp\":\"1970-01-01T00:00:00.000001Z\"}");
    json_object_put(o);
    o = proto_reply_unknown_command();
    ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                     "{\"status\":\"unknown_command\",\"reason\":\"Unknown command\"}");
    json_object_put(o);
    o = json_object_new_object();
    const uint8_t id[16] = {0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff};
    json_object_object_add(o, "u", proto_json_uuid(id));
    json_object_object_add(o, "b", proto_json_bytes("\xfb\xff", 2));
    json_object_object_add(o, "h", proto_json_human_handle("a@b.c", "A"));
    json_object_object_add(o, "n", proto_json_human_handle(NULL, NULL));
    ck_assert_str_eq(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        "{\"u\":\"ab0102030405060708090a0b0c0d0eff\",\"b\":\"+/8=\","
        "\"h\":{\"email\":\"a@b.c\",\"label\":\"A\"},\"n\":null}");
    json_object_put(o);
}
END_TEST

START_TEST(content_types)
{
    ck_assert(proto_content_type_ok("application/json"));
    ck_assert(proto_content_type_ok("Application/JSON"));
    ck_assert(proto_content_type_ok("application/json; charset=utf-8"));
    ck_assert(proto_content_type_ok("application/json;charset=UTF-8"));
    ck_assert(proto_content_type_ok("application/json ; charset=\"utf-8\" "));
    ck_assert(!proto_content_type_ok(NULL));
    ck_assert(!proto_content_type_ok(""));
    ck_assert(!proto_content_type_ok("application/msgpack"));
    ck_assert(!proto_content_type_ok("application/x-www-form-urlencoded"));
    ck_assert(!proto_content_type_ok("application/jsonx"));
    ck_assert(!proto_content_type_ok("application/json; charset=latin-1"));
    ck_assert(!proto_content_type_ok("application/json; charset=utf-8; x=y"));
    ck_assert(!proto_content_type_ok("application/json; charset=\"utf-8"));
    ck_assert(!proto_content_type_ok("text/json"));
    /* exactly what docs/protocol.md 1.1 says, and nothing more */
    ck_assert(proto_content_type_ok("APPLICATION/JSON; CHARSET=\"UTF-8\""));
    ck_assert(!proto_content_type_ok("application/json-seq"));
    ck_assert(!proto_content_type_ok("application/json; charset = utf-8"));
    ck_assert(!proto_content_type_ok("application/json; boundary=x"));
    ck_assert(!proto_content_type_ok("application/json;"));
    ck_assert(!proto_content_type_ok("application/json, text/plain"));
}
END_TEST

START_TEST(uuid_texts)
{
    proto_uuid_t u;
    ck_assert(proto_uuid_parse("00112233445566778899aabbccddeeff", 32, &u));
    ck_assert_str_eq(u.hex, "00112233445566778899aabbccddeeff");
    ck_assert_uint_eq(u.bytes[1], 0x11);
    ck_assert(!proto_uuid_parse("00112233445566778899AABBCCDDEEFF", 32, &u));
    ck_assert(!proto_uuid_parse("00112233445566778899aabbccddeef", 31, &u));
    ck_assert(!proto_uuid_parse("00112233-4455-6677-8899-aabbccddeeff", 36, &u));
}
END_TEST

START_TEST(api_versions)
{
    ck_assert(proto_api_version_ok(NULL));
    ck_assert(proto_api_version_ok("3.2"));
    ck_assert(proto_api_version_ok("3.0"));
    ck_assert(proto_api_version_ok("3.99"));
    ck_assert(!proto_api_version_ok("2.8"));
    ck_assert(!proto_api_version_ok("4.0"));
    ck_assert(!proto_api_version_ok("3"));
    ck_assert(!proto_api_version_ok("3."));
    ck_assert(!proto_api_version_ok(".2"));
    ck_assert(!proto_api_version_ok("3.x"));
    ck_assert(!proto_api_version_ok(""));
    ck_assert(!proto_api_version_ok(" 3.2"));
    ck_assert(!proto_api_version_ok("3.2.1"));
    ck_assert(!proto_api_version_ok("-3.2"));
}
END_TEST

/* ---- Authorization ------------------------------------------------------------------ */

START_TEST(auth_token_from_client_parses_and_verifies)
{
    pclient_key_t k;
    pclient_key_generate(&k);
    char *token = pclient_auth_token("CoolOrg", "alice@dev1", &k, 1700000000);
    char *header = arena_printf(A, "PARSEC-SIGN-ED25519 %s", token);
    proto_auth_t auth;
    const char *why;
    ck_assert_msg(proto_auth_parse(A, header, &auth, &why), "%s", why);
    ck_assert_str_eq(auth.organization_id, "CoolOrg");
    ck_assert_str_eq(auth.device_id, "alice@dev1");
    ck_assert_int_eq(auth.timestamp, 1700000000);
    ck_assert_str_eq(auth.token, token);
    ck_assert(crypto_ed25519_verify(k.pub, auth.signed_part, auth.signed_len, auth.signature));
    ck_assert_int_eq(strncmp(auth.signed_part, "PARSEC-SIGN-ED25519.", 20), 0);
    ck_assert(proto_auth_fresh(&auth, INT64_C(1700000000) * 1000000));
    ck_assert(proto_auth_fresh(&auth, INT64_C(1700000069) * 1000000));
    ck_assert(!proto_auth_fresh(&auth, INT64_C(1700000070) * 1000000));
    ck_assert(proto_auth_fresh(&auth, INT64_C(1699999951) * 1000000));
    ck_assert(!proto_auth_fresh(&auth, INT64_C(1699999950) * 1000000));

    /* the scheme name is case-insensitive, the signed text is not */
    header = arena_printf(A, "parsec-sign-ed25519 %s", token);
    ck_assert(proto_auth_parse(A, header, &auth, &why));
    ck_assert(crypto_ed25519_verify(k.pub, auth.signed_part, auth.signed_len, auth.signature));

    /* another organization in the token is another signed text */
    char *other = pclient_auth_token("OtherOrg", "alice@dev1", &k, 1700000000);
    const char *sig_other = strrchr(other, '.');
    const char *sig_mine = strrchr(token, '.');
    header =
        arena_printf(A, "PARSEC-SIGN-ED25519 %.*s%s", (int)(sig_mine - token), token, sig_other);
    ck_assert(proto_auth_parse(A, header, &auth, &why));
    ck_assert(!crypto_ed25519_verify(k.pub, auth.signed_part, auth.signed_len, auth.signature));
    free(other);
    free(token);
}
END_TEST

/* The worked example of docs/protocol.md: RFC 8032 TEST 1's key. */
START_TEST(auth_token_doc_example)
{
    static const char example[] = "Q29vbE9yZw.YWxpY2VAZGV2MQ.1700000000."
                                  "956TixiV0fvMSSaujSGdIlfSK67bLsZE-3C7_p2zuSJk0SIocFM4yAtimr5GCp"
                                  "5GqETG7K3FMkldTZxWZ62sBQ";
    size_t n;
    uint8_t *seed = crypto_hex_decode(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", 64, &n);
    pclient_key_t k;
    pclient_key_from_seed(&k, seed);
    char *token = pclient_auth_token("CoolOrg", "alice@dev1", &k, 1700000000);
    ck_assert_str_eq(token, example);
    proto_auth_t auth;
    const char *why;
    ck_assert(proto_auth_parse(A, arena_printf(A, "PARSEC-SIGN-ED25519 %s", example), &auth, &why));
    ck_assert_str_eq(auth.signed_part, "PARSEC-SIGN-ED25519.Q29vbE9yZw.YWxpY2VAZGV2MQ.1700000000");
    ck_assert(crypto_ed25519_verify(k.pub, auth.signed_part, auth.signed_len, auth.signature));
    free(token);
    free(seed);
}
END_TEST

START_TEST(auth_token_refusals)
{
    pclient_key_t k;
    pclient_key_generate(&k);
    char *good = pclient_auth_token("CoolOrg", "alice@dev1", &k, 1700000000);
    char *org = pclient_b64url("CoolOrg", 7), *dev = pclient_b64url("alice@dev1", 10);
    const char *sig = strrchr(good, '.') + 1;
    char *sig63 =
        pclient_b64url("0123456789012345678901234567890123456789012345678901234567890123", 63);
    char *bad_org = pclient_b64url("Cool Org", 8), *bad_dev = pclient_b64url("alice", 5);
    char *nul_org = pclient_b64url("Cool\0Org", 8);
    const char *cases[] = {
        NULL,
        "",
        arena_printf(A, "Bearer %s", good),
        arena_printf(A, "PARSEC-SIGN-ED25519  %s", good),
        arena_printf(A, "PARSEC-SIGN-ED25519%s", good),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.", good),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.%s.%s", org, dev, sig),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.%s.01700000000.%s", org, dev, sig),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.%s.-1.%s", org, dev, sig),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.%s.1700000000000.%s", org, dev, sig),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.%s..%s", org, dev, sig),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.%s.1700000000.%s", org, dev, sig63),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.%s.1700000000.%s=", org, dev, sig),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s=.%s.1700000000.%s", org, dev, sig),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.%s.1700000000.%s", bad_org, dev, sig),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.%s.1700000000.%s", nul_org, dev, sig),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.%s.1700000000.%s", org, bad_dev, sig),
        arena_printf(A, "PARSEC-SIGN-ED25519 .%s.1700000000.%s", dev, sig),
        arena_printf(A, "PARSEC-SIGN-ED25519 %s.%s.1700000000.%s %s", org, dev, sig, sig),
    };
    for (size_t k2 = 0; k2 < sizeof cases / sizeof cases[0]; k2++) {
        proto_auth_t auth;
        const char *why = NULL;
        ck_assert_msg(!proto_auth_parse(A, cases[k2], &auth, &why), "accepted case %zu: %s", k2,
                      cases[k2]);
        ck_assert_ptr_nonnull(why);
    }
    /* too long */
    char longh[PROTO_AUTH_MAX + 2];
    memset(longh, 'A', sizeof longh - 1);
    longh[sizeof longh - 1] = '\0';
    memcpy(longh, "PARSEC-SIGN-ED25519 ", 20);
    proto_auth_t auth;
    const char *why;
    ck_assert(!proto_auth_parse(A, longh, &auth, &why));
    free(good);
    free(org);
    free(dev);
    free(sig63);
    free(bad_org);
    free(bad_dev);
    free(nul_org);
}
END_TEST

/* The lenient form of the one RFC 3339 parser (the administration API's
 * at/from): offsets, 1 to 9 fraction digits, either case of T and Z. */
START_TEST(rfc3339_lenient)
{
    static const struct {
        const char *in;
        int64_t us;
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2024-02-29T12:34:56.5Z", INT64_C(1709210096500000)},
        {"2000-01-01T01:00:00+01:00", INT64_C(946684800000000)},
        {"1999-12-31T23:30:00-00:30", INT64_C(946684800000000)},
        {"0001-01-01T00:00:00Z", INT64_C(-62135596800000000)},
        {"9999-12-31T23:59:59.999999999z", INT64_C(253402300799999999)},
        {"2000-02-29t00:00:00Z", INT64_C(951782400000000)},
        {"2023-11-14T22:13:20.123456Z", INT64_C(1700000000123456)},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t us = -1;
        ck_assert_msg(proto_rfc3339_parse(ok[i].in, strlen(ok[i].in), false, &us), "%s", ok[i].in);
        ck_assert_msg(us == ok[i].us, "%s: %lld", ok[i].in, (long long)us);
    }
    static const char *const bad[] = {
        "",
        "2024-01-01",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00Z",
        "2024-01-01 00:00:00Z",
        "2024-1-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:60:00Z",
        "2024-01-01T23:59:60Z",
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00.1234567890Z",
        "2024-01-01T00:00:00+1:00",
        "2024-01-01T00:00:00+01",
        "2024-01-01T00:00:00+0100",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+01:60",
        "2024-01-01T00:00:00ZZ",
        "2024-01-01T00:00:00Z ",
        " 2024-01-01T00:00:00Z",
        "+2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00UTC",
        "2024-01-01T0a:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us;
        ck_assert_msg(!proto_rfc3339_parse(bad[i], strlen(bad[i]), false, &us), "accepted %s",
                      bad[i]);
    }
    /* the canonical form is the strict one: proto_datetime_parse */
    int64_t us;
    ck_assert(proto_rfc3339_parse("2023-11-14T22:13:20.123456Z", 27, true, &us));
    ck_assert(!proto_rfc3339_parse("2023-11-14T22:13:20Z", 20, true, &us));
    ck_assert(!proto_rfc3339_parse("2023-11-14T22:13:20.123456+00:00", 32, true, &us));
    ck_assert(!proto_rfc3339_parse("2023-11-14t22:13:20.123456z", 27, true, &us));
}
END_TEST

TEST_SUITE(proto)
{
    Suite *s = suite_create("proto");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, json_accepts_strict_json, 0,
                        (int)(sizeof json_good / sizeof json_good[0]));
    tcase_add_loop_test(tc, json_refuses_lax_json, 0, (int)(sizeof json_bad / sizeof json_bad[0]));
    tcase_add_test(tc, json_refuses_nul_byte);
    tcase_add_test(tc, decode_request_envelope);
    tcase_add_test(tc, unknown_fields_refused);
    tcase_add_test(tc, unknown_nested_fields_refused);
    tcase_add_test(tc, first_error_is_kept);
    tcase_add_loop_test(tc, getters_accept_and_refuse, 0,
                        (int)(sizeof getter_cases / sizeof getter_cases[0]));
    tcase_add_test(tc, getter_values);
    tcase_add_test(tc, int_saturation);
    tcase_add_test(tc, missing_and_null_fields);
    tcase_add_test(tc, bytes_maps);
    tcase_add_test(tc, lists);
    tcase_add_test(tc, identifier_rules);
    tcase_add_test(tc, utf8_rules);
    tcase_add_test(tc, datetime_round_trips);
    tcase_add_test(tc, datetime_refusals);
    tcase_add_test(tc, ballpark_bounds);
    tcase_add_test(tc, reply_builders);
    tcase_add_test(tc, content_types);
    tcase_add_test(tc, uuid_texts);
    tcase_add_test(tc, api_versions);
    tcase_add_test(tc, auth_token_from_client_parses_and_verifies);
    tcase_add_test(tc, auth_token_doc_example);
    tcase_add_test(tc, auth_token_refusals);
    tcase_add_test(tc, rfc3339_lenient);
    suite_add_tcase(s, tc);
    return s;
}
