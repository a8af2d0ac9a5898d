/*
 * tests/unit/test_event.c - the one definition of the events (common/event.c)
 *
 * For every event type: the producers' encoding, decoded as notifyd decodes
 * it, gives back the same values; the payload and the clients' message are
 * exactly the text docs/events.md shows.  Then the decoder's strictness and
 * the encoder's refusals.
 */
#include "arena.h"
#include "event.h"
#include "testreg.h"

#include <stdlib.h>
#include <string.h>

#define R16                                                                                        \
    {                                                                                              \
        0x5b, 0x1f, 0x0a, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,  \
            0xe2                                                                                   \
    }
#define R16_HEX "5b1f0a00112233445566778899aabbe2"
#define T16                                                                                        \
    {                                                                                              \
        0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11                               \
    }
#define T16_HEX "deadbeef000102030405060708090a0b"
#define S16                                                                                        \
    {                                                                                              \
        1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef   \
    }
#define S16_HEX "0123456789abcdef0123456789abcdef"

/* One sample per type, its payload with "n" = 5, and what clients get. */
static const struct {
    event_t ev;
    const char *payload;
    const char *client; /* NULL: not pushed */
} samples[] = {
    {{.type = EVENT_PINGED, .org = "MyOrg", .author = "alice@dev1", .ping = "hé \"x\""},
     "{\"o\":\"MyOrg\",\"t\":\"pinged\",\"a\":\"alice@dev1\",\"n\":5,\"ping\":\"hé \\\"x\\\"\"}",
     "{\"status\":\"ok\",\"event\":\"pinged\",\"ping\":\"hé \\\"x\\\"\"}"},
    {{.type = EVENT_MESSAGE_RECEIVED,
      .org = "MyOrg",
      .author = "alice@dev1",
      .user = "bob",
      .index = 3},
     "{\"o\":\"MyOrg\",\"t\":\"message.received\",\"a\":\"alice@dev1\",\"n\":5,"
     "\"recipient\":\"bob\",\"index\":3}",
     "{\"status\":\"ok\",\"event\":\"message.received\",\"index\":3}"},
    {{.type = EVENT_INVITE_STATUS_CHANGED,
      .org = "MyOrg",
      .user = "alice",
      .token = T16,
      .invitation_status = EVENT_INVITATION_READY},
     "{\"o\":\"MyOrg\",\"t\":\"invite.status_changed\",\"a\":null,\"n\":5,\"greeter\":\"alice\","
     "\"token\":\"" T16_HEX "\",\"status\":\"READY\"}",
     "{\"status\":\"ok\",\"event\":\"invite.status_changed\",\"token\":\"" T16_HEX
     "\",\"invitation_status\":\"READY\"}"},
    {{.type = EVENT_REALM_ROLES_UPDATED,
      .org = "MyOrg",
      .author = "alice@dev1",
      .user = "bob",
      .realm_id = R16,
      .role = EVENT_ROLE_CONTRIBUTOR},
     "{\"o\":\"MyOrg\",\"t\":\"realm.roles_updated\",\"a\":\"alice@dev1\",\"n\":5,"
     "\"realm_id\":\"" R16_HEX "\",\"user\":\"bob\",\"role\":\"CONTRIBUTOR\"}",
     "{\"status\":\"ok\",\"event\":\"realm.roles_updated\",\"realm_id\":\"" R16_HEX
     "\",\"role\":\"CONTRIBUTOR\"}"},
    {{.type = EVENT_REALM_ROLES_UPDATED,
      .org = "MyOrg",
      .author = "alice@dev1",
      .user = "bob",
      .realm_id = R16,
      .role = EVENT_ROLE_NONE},
     "{\"o\":\"MyOrg\",\"t\":\"realm.roles_updated\",\"a\":\"alice@dev1\",\"n\":5,"
     "\"realm_id\":\"" R16_HEX "\",\"user\":\"bob\",\"role\":null}",
     "{\"status\":\"ok\",\"event\":\"realm.roles_updated\",\"realm_id\":\"" R16_HEX
     "\",\"role\":null}"},
    {{.type = EVENT_REALM_VLOBS_UPDATED,
      .org = "MyOrg",
      .author = "alice@dev1",
      .realm_id = R16,
      .checkpoint = 42,
      .src_id = S16,
      .src_version = 7},
     "{\"o\":\"MyOrg\",\"t\":\"realm.vlobs_updated\",\"a\":\"alice@dev1\",\"n\":5,"
     "\"realm_id\":\"" R16_HEX "\",\"checkpoint\":42,\"src_id\":\"" S16_HEX "\",\"src_version\":7}",
     "{\"status\":\"ok\",\"event\":\"realm.vlobs_updated\",\"realm_id\":\"" R16_HEX
     "\",\"checkpoint\":42,\"src_id\":\"" S16_HEX "\",\"src_version\":7}"},
    {{.type = EVENT_REALM_MAINTENANCE_STARTED,
      .org = "MyOrg",
      .author = "alice@dev1",
      .realm_id = R16,
      .encryption_revision = 2},
     "{\"o\":\"MyOrg\",\"t\":\"realm.maintenance_started\",\"a\":\"alice@dev1\",\"n\":5,"
     "\"realm_id\":\"" R16_HEX "\",\"encryption_revision\":2}",
     "{\"status\":\"ok\",\"event\":\"realm.maintenance_started\",\"realm_id\":\"" R16_HEX
     "\",\"encryption_revision\":2}"},
    {{.type = EVENT_REALM_MAINTENANCE_FINISHED,
      .org = "MyOrg",
      .author = "alice@dev1",
      .realm_id = R16,
      .encryption_revision = 3},
     "{\"o\":\"MyOrg\",\"t\":\"realm.maintenance_finished\",\"a\":\"alice@dev1\",\"n\":5,"
     "\"realm_id\":\"" R16_HEX "\",\"encryption_revision\":3}",
     "{\"status\":\"ok\",\"event\":\"realm.maintenance_finished\",\"realm_id\":\"" R16_HEX
     "\",\"encryption_revision\":3}"},
    {{.type = EVENT_PKI_ENROLLMENT_UPDATED, .org = "MyOrg"},
     "{\"o\":\"MyOrg\",\"t\":\"pki_enrollment.updated\",\"a\":null,\"n\":5}",
     "{\"status\":\"ok\",\"event\":\"pki_enrollment.updated\"}"},
    {{.type = EVENT_USER_REVOKED, .org = "MyOrg", .author = "admin@dev1", .user = "bob"},
     "{\"o\":\"MyOrg\",\"t\":\"user.revoked\",\"a\":\"admin@dev1\",\"n\":5,\"user\":\"bob\"}",
     NULL},
    {{.type = EVENT_ORGANIZATION_EXPIRED, .org = "MyOrg"},
     "{\"o\":\"MyOrg\",\"t\":\"organization.expired\",\"a\":null,\"n\":5}",
     NULL},
    {{.type = EVENT_INVITE_CONDUIT_UPDATED,
      .org = "MyOrg",
      .author = "zack@claim",
      .user = "alice",
      .token = T16},
     "{\"o\":\"MyOrg\",\"t\":\"invite.conduit_updated\",\"a\":\"zack@claim\",\"n\":5,"
     "\"greeter\":\"alice\",\"token\":\"" T16_HEX "\"}",
     "{\"status\":\"ok\",\"event\":\"invite.conduit_updated\",\"token\":\"" T16_HEX "\"}"},
};
#define NSAMPLES (sizeof samples / sizeof *samples)

static const char *or_null(const char *s)
{
    return s ? s : "(null)";
}

static void assert_same(const event_t *got, const event_t *want)
{
    ck_assert_int_eq(got->type, want->type);
    ck_assert_str_eq(or_null(got->org), or_null(want->org));
    ck_assert_str_eq(or_null(got->author), or_null(want->author));
    ck_assert_str_eq(or_null(got->user), or_null(want->user));
    ck_assert_str_eq(or_null(got->ping), or_null(want->ping));
    ck_assert_mem_eq(got->realm_id, want->realm_id, 16);
    ck_assert_mem_eq(got->token, want->token, 16);
    ck_assert_mem_eq(got->src_id, want->src_id, 16);
    ck_assert_int_eq(got->index, want->index);
    ck_assert_int_eq(got->checkpoint, want->checkpoint);
    ck_assert_int_eq(got->src_version, want->src_version);
    ck_assert_int_eq(got->encryption_revision, want->encryption_revision);
    ck_assert_int_eq(got->invitation_status, want->invitation_status);
    ck_assert_int_eq(got->role, want->role);
}

/* Every type is sampled (the table above cannot silently miss one). */
START_TEST(every_type_sampled)
{
    for (int t = 0; t < EVENT__COUNT; t++) {
        bool found = false;
        for (size_t i = 0; i < NSAMPLES; i++)
            found = found || samples[i].ev.type == (event_type)t;
        ck_assert_msg(found, "no sample of %s", event_type_name((event_type)t));
    }
}
END_TEST

/* Loop over the samples: encode -> exact payload -> decode -> same values
 * -> exact client message. */
START_TEST(round_trip)
{
    const event_t *want = &samples[_i].ev;
    const char *why = NULL;
    size_t len = 0;
    char *payload = event_encode(want, 5, &len, &why);
    ck_assert_msg(payload != NULL, "%s: %s", event_type_name(want->type), why);
    ck_assert_str_eq(payload, samples[_i].payload);
    ck_assert_uint_eq(len, strlen(payload));

    arena_t *a = arena_new();
    event_t got;
    ck_assert_msg(event_decode(a, payload, len, &got, &why), "%s: %s", payload, why);
    assert_same(&got, want);

    json_object *client = event_client_json(&got);
    ck_assert_int_eq(event_is_pushed(want->type), samples[_i].client != NULL);
    if (samples[_i].client)
        ck_assert_str_eq(json_object_to_json_string_ext(client, JSON_C_TO_STRING_PLAIN),
                         samples[_i].client);
    else
        ck_assert_ptr_null(client);
    json_object_put(client);
    arena_free(a);
    free(payload);
}
END_TEST

START_TEST(names)
{
    for (int t = 0; t < EVENT__COUNT; t++) {
        event_type back;
        ck_assert(event_type_from_name(event_type_name((event_type)t), &back));
        ck_assert_int_eq(back, t);
    }
    event_type x;
    ck_assert(!event_type_from_name("nope", &x));
    ck_assert(!event_type_from_name(NULL, &x));
    ck_assert_str_eq(event_type_name(EVENT__COUNT), "unknown");
    ck_assert(!event_is_pushed(EVENT__COUNT));
}
END_TEST

/* A payload written by hand (no "n") decodes; "n" wraps below INT64_MAX
 * (where json-c saturates), so every counter value decodes. */
START_TEST(envelope)
{
    arena_t *a = arena_new();
    event_t ev;
    const char *why = NULL;
    const char *hand = "{\"o\":\"MyOrg\",\"t\":\"pinged\",\"ping\":\"p\"}";
    ck_assert_msg(event_decode(a, hand, strlen(hand), &ev, &why), "%s", why);
    ck_assert_ptr_null(ev.author);
    ck_assert_str_eq(ev.ping, "p");
    event_t big = {.type = EVENT_PKI_ENROLLMENT_UPDATED, .org = "O"};
    char *p = event_encode(&big, (uint64_t)INT64_MAX - 1, NULL, &why);
    ck_assert_str_eq(p, "{\"o\":\"O\",\"t\":\"pki_enrollment.updated\",\"a\":null,"
                        "\"n\":9223372036854775806}");
    ck_assert_msg(event_decode(a, p, strlen(p), &ev, &why), "%s", why);
    free(p);
    p = event_encode(&big, (uint64_t)INT64_MAX, NULL, &why);
    ck_assert_str_eq(p, "{\"o\":\"O\",\"t\":\"pki_enrollment.updated\",\"a\":null,\"n\":0}");
    free(p);
    p = event_encode(&big, UINT64_MAX, NULL, &why);
    ck_assert_msg(event_decode(a, p, strlen(p), &ev, &why), "%s", why);
    free(p);
    arena_free(a);
}
END_TEST

/* What a buggy producer could write: each refused, with a reason. */
START_TEST(decode_strict)
{
    static const char *const bad[] = {
        "garbage",
        "{}",
        "[1]",
        "{\"o\":\"MyOrg\",\"t\":\"pinged\",\"a\":null}",                    /* no ping */
        "{\"o\":\"MyOrg\",\"t\":\"pinged\",\"a\":null,\"ping\":1}",         /* wrong type */
        "{\"o\":\"MyOrg\",\"t\":\"nope\",\"a\":null}",                      /* unknown type */
        "{\"o\":\"My Org\",\"t\":\"pinged\",\"ping\":\"p\"}",               /* bad org id */
        "{\"o\":\"MyOrg\",\"t\":\"pinged\",\"a\":\"x\",\"ping\":\"p\"}",    /* bad author */
        "{\"o\":\"MyOrg\",\"t\":\"pinged\",\"n\":-1,\"ping\":\"p\"}",       /* bad n */
        "{\"o\":\"MyOrg\",\"t\":\"pinged\",\"n\":\"1\",\"ping\":\"p\"}",    /* bad n */
        "{\"o\":\"MyOrg\",\"t\":\"pinged\",\"ping\":\"p\",\"more\":1}",     /* unknown field */
        "{\"o\":\"MyOrg\",\"t\":\"pinged\",\"ping\":\"p\",\"ping\":\"q\"}", /* duplicate */
        "{\"o\":\"MyOrg\",\"t\":\"pki_enrollment.updated\",\"user\":\"bob\"}",
        "{\"o\":\"MyOrg\",\"t\":\"user.revoked\"}",
        "{\"o\":\"MyOrg\",\"t\":\"user.revoked\",\"user\":\"bob@dev\"}",
        "{\"o\":\"MyOrg\",\"t\":\"message.received\",\"recipient\":\"bob\",\"index\":-1}",
        "{\"o\":\"MyOrg\",\"t\":\"message.received\",\"recipient\":\"bob\",\"index\":1.5}",
        "{\"o\":\"MyOrg\",\"t\":\"invite.status_changed\",\"greeter\":\"a\",\"token\":\"" T16_HEX
        "\",\"status\":\"ready\"}",
        "{\"o\":\"MyOrg\",\"t\":\"invite.conduit_updated\",\"greeter\":\"a\",\"token\":\"DEADBEEF"
        "000102030405060708090a0b\"}",
        /* role: required, null for a removal; absent is an error */
        "{\"o\":\"MyOrg\",\"t\":\"realm.roles_updated\",\"realm_id\":\"" R16_HEX
        "\",\"user\":\"bob\"}",
        "{\"o\":\"MyOrg\",\"t\":\"realm.roles_updated\",\"realm_id\":\"" R16_HEX
        "\",\"user\":\"bob\",\"role\":\"ADMIN\"}",
        "{\"o\":\"MyOrg\",\"t\":\"realm.vlobs_updated\",\"realm_id\":\"zz\",\"checkpoint\":1,"
        "\"src_id\":\"" S16_HEX "\",\"src_version\":1}",
    };
    arena_t *a = arena_new();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        event_t ev;
        const char *why = NULL;
        ck_assert_msg(!event_decode(a, bad[i], strlen(bad[i]), &ev, &why), "accepted: %s", bad[i]);
        ck_assert_msg(why && *why, "no reason for %s", bad[i]);
        arena_reset(a);
    }
    arena_free(a);
}
END_TEST

/* The producer side refuses what notifyd would drop, and what NOTIFY would
 * not carry, so a bad event fails the command instead of vanishing. */
START_TEST(encode_refusals)
{
    char big[EVENT_PAYLOAD_MAX + 1];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const event_t bad[] = {
        {.type = EVENT__COUNT, .org = "O"},
        {.type = EVENT_PINGED, .org = NULL, .ping = "p"},
        {.type = EVENT_PINGED, .org = "bad org", .ping = "p"},
        {.type = EVENT_PINGED, .org = "O", .author = "nodevice", .ping = "p"},
        {.type = EVENT_PINGED, .org = "O", .ping = NULL},
        {.type = EVENT_PINGED, .org = "O", .ping = "\xff"},
        {.type = EVENT_PINGED, .org = "O", .ping = big},
        {.type = EVENT_USER_REVOKED, .org = "O", .user = NULL},
        {.type = EVENT_USER_REVOKED, .org = "O", .user = "a@b"},
        {.type = EVENT_MESSAGE_RECEIVED, .org = "O", .user = "bob", .index = -1},
        {.type = EVENT_MESSAGE_RECEIVED, .org = "O", .user = "bob", .index = INT64_MAX},
        {.type = EVENT_INVITE_STATUS_CHANGED,
         .org = "O",
         .user = "bob",
         .invitation_status = EVENT_INVITATION__COUNT},
        {.type = EVENT_REALM_ROLES_UPDATED, .org = "O", .user = "bob", .role = EVENT_ROLE__COUNT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = NULL;
        char *p = event_encode(&bad[i], 1, NULL, &why);
        ck_assert_msg(p == NULL, "encoded #%zu: %s", i, p);
        ck_assert_msg(why && *why, "no reason for #%zu", i);
    }
    /* Just under the limit is fine. */
    big[EVENT_PAYLOAD_MAX - 100] = '\0';
    event_t ok = {.type = EVENT_PINGED, .org = "O", .ping = big};
    const char *why = NULL;
    char *p = event_encode(&ok, 1, NULL, &why);
    ck_assert_msg(p != NULL, "%s", why);
    free(p);
}
END_TEST

TEST_SUITE(event)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, every_type_sampled);
    tcase_add_loop_test(tc, round_trip, 0, (int)NSAMPLES);
    tcase_add_test(tc, names);
    tcase_add_test(tc, envelope);
    tcase_add_test(tc, decode_strict);
    tcase_add_test(tc, encode_refusals);
    suite_add_tcase(s, tc);
    return s;
}
