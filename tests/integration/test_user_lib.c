/*
 * tests/integration/test_user_lib.c - helpers of the user and device
 * command suites (see test_user_lib.h)
 */
#include "test_user_lib.h"

#include "testenv.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

porg_srv_t *ut_srv;

char *ut_sql(const char *sql, ...)
{
    va_list ap;
    va_start(ap, sql);
    char *out = porg_vsql(ut_srv, sql, ap);
    va_end(ap);
    return out;
}

long ut_sql_long(const char *sql, ...)
{
    va_list ap;
    va_start(ap, sql);
    char *v = porg_vsql(ut_srv, sql, ap);
    va_end(ap);
    long n = v ? atol(v) : 0;
    free(v);
    return n;
}

TCase *ut_tcase(const char *name)
{
    return porg_tcase(name, &ut_srv, WEBSRV_LIGHTTPD, NULL);
}

int64_t ut_now(void)
{
    return pclient_now_us();
}

char *ut_hex(const void *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;
    char *out = xmalloc(2 * len + 1);
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

pclient_device_t *ut_new_user(const porg_t *o, const pclient_device_t *certifier,
                              const char *device_id, const char *profile, const char *email,
                              int64_t ts)
{
    const char *at = strchr(device_id, '@');
    char *label = xasprintf("%.*s Label", (int)(at ? at - device_id : 0), device_id);
    char *dlabel = xasprintf("%s label", device_id);
    pclient_device_t *d = pclient_user_new(o->organization_id, device_id, profile, email, label,
                                           dlabel, certifier, NULL, ts);
    free(label);
    free(dlabel);
    return d;
}

pclient_user_certif_t ut_user_fields(const pclient_device_t *d, const char *author)
{
    pclient_user_certif_t c = {
        .author = author,
        .timestamp = d->created_on,
        .user_id = d->user_id,
        .human_email = d->human_email,
        .human_label = d->human_label,
        .profile = d->profile,
        .is_admin = -1,
    };
    memcpy(c.public_key, d->user_public_key, 32);
    return c;
}

pclient_device_certif_t ut_device_fields(const pclient_device_t *d, const char *author)
{
    pclient_device_certif_t c = {
        .author = author,
        .timestamp = d->created_on,
        .device_id = d->device_id,
        .device_label = d->device_label,
    };
    memcpy(c.verify_key, d->key.pub, 32);
    return c;
}

json_object *set_json(json_object *req, const char *field, json_object *v)
{
    json_object_object_add(req, field, v);
    return req;
}

json_object *set_blob(json_object *req, const char *field, pclient_blob_t b)
{
    json_object_object_add(req, field, pclient_json_blob(&b));
    pclient_blob_free(&b);
    return req;
}

json_object *set_str(json_object *req, const char *field, const char *s)
{
    return set_json(req, field, json_object_new_string(s));
}

json_object *without(json_object *req, const char *field)
{
    json_object_object_del(req, field);
    return req;
}

json_object *ut_copy(json_object *o)
{
    json_object *c = NULL;
    ck_assert_int_eq(json_object_deep_copy(o, &c, NULL), 0);
    return c;
}

void ut_bad_bytes_field(const pclient_device_t *caller, json_object *base, const char *field,
                        size_t max)
{
    /* One byte too many, validly encoded (SIZE_MAX: bounded only by the
     * request's size, a limit test_front.c covers: "-_-_" again). */
    char *big64 = xstrdup("-_-_");
    if (max != SIZE_MAX) {
        uint8_t *big = xcalloc(max + 1, 1);
        free(big64);
        big64 = pclient_b64(big, max + 1);
        free(big);
    }
    const char *bad_strings[] = {
        "not base64!", /* alphabet */
        "Zh==",        /* non-zero unused bits: not the canonical spelling */
        "QUJD=",       /* bad padding */
        "QUJDRA",      /* missing padding */
        " QUJD",       /* whitespace */
        "QU\nJD",      /* line break */
        "QUJD\\u0000", /* not base64 once unescaped */
        "-_-_",        /* base64url alphabet */
        big64,
    };
    for (size_t i = 0; i < sizeof bad_strings / sizeof bad_strings[0]; i++)
        porg_expect_no_trace(ut_srv, caller, set_str(ut_copy(base), field, bad_strings[i]),
                             "bad_message", field);
    free(big64);

    json_object *bad_values[] = {
        NULL, /* null */
        json_object_new_int(42),
        json_object_new_boolean(1),
        json_object_new_double(1.5),
        json_object_new_array(),
        json_object_new_object(),
    };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
        porg_expect_no_trace(ut_srv, caller, set_json(ut_copy(base), field, bad_values[i]),
                             "bad_message", field);
    porg_expect_no_trace(ut_srv, caller, without(ut_copy(base), field), "bad_message", field);
    porg_expect_no_trace(ut_srv, caller,
                         set_json(ut_copy(base), "unexpected_field", json_object_new_int(1)),
                         "bad_message", "unexpected_field");
}

/* payload with key set to v (NULL: removed), as JSON text (malloc'd). */
static char *edit_payload(const char *payload, const char *key, json_object *v, bool remove)
{
    json_object *o = json_tokener_parse(payload);
    ck_assert_ptr_nonnull(o);
    if (remove)
        json_object_object_del(o, key);
    else
        json_object_object_add(o, key, v);
    char *text = xstrdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return text;
}

/* payload with text inserted right after its opening brace (malloc'd). */
static char *insert_after_brace(const char *payload, const char *text)
{
    ck_assert(payload[0] == '{');
    return xasprintf("{%s%s", text, payload + 1);
}

void ut_bad_certificates(const pclient_device_t *caller, json_object *base, const char *field,
                         const char *good_payload, const pclient_blob_t *wrong_type)
{
    const pclient_key_t *key = &caller->key;
    size_t plen = strlen(good_payload);
    pclient_key_t other;
    pclient_key_generate(&other);

    /* signed by another key, with the right author */
    porg_expect_no_trace(ut_srv, caller,
                         set_blob(ut_copy(base), field, pclient_signed(&other, good_payload, plen)),
                         "invalid_certification", "bad signature");

    /* one bit of the signature flipped */
    pclient_blob_t b = pclient_signed(key, good_payload, plen);
    b.data[5] ^= 0x10;
    porg_expect_no_trace(ut_srv, caller, set_blob(ut_copy(base), field, b), "invalid_certification",
                         "bad signature");

    /* signed by the caller, naming another device as author; naming none
     * (the root key's null author) */
    const char *authors[] = {"eve@dev1", NULL};
    for (size_t i = 0; i < 2; i++) {
        json_object *a = authors[i] ? json_object_new_string(authors[i]) : NULL;
        char *p = edit_payload(good_payload, "author", a, false);
        porg_expect_no_trace(ut_srv, caller,
                             set_blob(ut_copy(base), field, pclient_signed(key, p, strlen(p))),
                             "invalid_certification", "author");
        free(p);
    }

    /* a valid certificate of another type */
    pclient_blob_t wt = {xmalloc(wrong_type->len), wrong_type->len};
    memcpy(wt.data, wrong_type->data, wt.len);
    porg_expect_no_trace(ut_srv, caller, set_blob(ut_copy(base), field, wt),
                         "invalid_certification", "expected a");

    /* truncated: shorter than a signature; signature and half the payload */
    b = pclient_signed(key, good_payload, plen);
    b.len = 40;
    porg_expect_no_trace(ut_srv, caller, set_blob(ut_copy(base), field, b), "invalid_certification",
                         NULL);
    b = pclient_signed(key, good_payload, plen);
    b.len = 64 + plen / 2;
    porg_expect_no_trace(ut_srv, caller, set_blob(ut_copy(base), field, b), "invalid_certification",
                         NULL);
    /* the signature alone; nothing at all */
    b = pclient_signed(key, good_payload, plen);
    b.len = 64;
    porg_expect_no_trace(ut_srv, caller, set_blob(ut_copy(base), field, b), "invalid_certification",
                         NULL);
    porg_expect_no_trace(ut_srv, caller, set_str(ut_copy(base), field, ""), "invalid_certification",
                         NULL);

    /* payloads that are not the certificate's strict JSON, each correctly
     * signed by the caller */
    char *variants[] = {
        xstrdup("hello"),
        xstrdup("[1, 2]"),
        insert_after_brace(good_payload, "\"x\": \"\xc3\x28\", "),     /* invalid UTF-8 */
        insert_after_brace(good_payload, "\"x\": \"\xed\xa0\x80\", "), /* UTF-8 surrogate */
        insert_after_brace(good_payload, "\"author\": null, "),        /* duplicate key */
        insert_after_brace(good_payload, "\"extra\": 1, "),            /* unknown field */
        insert_after_brace(good_payload, "\"y\": NaN, "),              /* not JSON */
        xasprintf("%s x", good_payload),                               /* trailing bytes */
        xasprintf("%.*s", (int)plen - 1, good_payload),                /* unterminated */
        edit_payload(good_payload, "timestamp", NULL, true),           /* missing field */
        edit_payload(good_payload, "timestamp", json_object_new_string("2023-01-01T00:00:00Z"),
                     false), /* datetime spelling */
        edit_payload(good_payload, "type", json_object_new_string("nope"), false),
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        porg_expect_no_trace(
            ut_srv, caller,
            set_blob(ut_copy(base), field, pclient_signed(key, variants[i], strlen(variants[i]))),
            "invalid_certification", "Invalid certification data");
        free(variants[i]);
    }
}

char *ut_ping(const pclient_device_t *dev)
{
    json_object *req = pclient_req("ping");
    json_object_object_add(req, "ping", json_object_new_string("hello"));
    json_object *r = porg_call(ut_srv, dev, req);
    char *st = xstrdup(porg_status(r));
    json_object_put(r);
    return st;
}

typedef struct {
    const pclient_device_t *caller;
    json_object *req;
    pthread_barrier_t *start;
    char *status;
} racer_t;

static void *racer(void *arg)
{
    racer_t *r = arg;
    pthread_barrier_wait(r->start);
    pclient_resp_t resp;
    pclient_cmd(porg_srv_url(ut_srv), "authenticated", r->caller->organization_id, r->caller,
                r->req, &resp);
    if (resp.status == 200 && pclient_status(&resp))
        snprintf(r->status, UT_STATUS_MAX, "%s", pclient_status(&resp));
    else
        snprintf(r->status, UT_STATUS_MAX, "HTTP %ld: %s", resp.status, resp.body);
    pclient_resp_free(&resp);
    return NULL;
}

void ut_race(const pclient_device_t *const *callers, json_object **reqs, int n,
             char statuses[][UT_STATUS_MAX])
{
    ck_assert(n > 0 && n <= 32);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    racer_t rs[32];
    pthread_t th[32];
    for (int i = 0; i < n; i++) {
        rs[i] = (racer_t){callers[i], reqs[i], &start, statuses[i]};
        ck_assert_int_eq(pthread_create(&th[i], NULL, racer, &rs[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        json_object_put(reqs[i]);
    }
    pthread_barrier_destroy(&start);
}
