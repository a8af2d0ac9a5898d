/*
 * tests/unit/test_auth.c - token verification and the verified-token cache
 * (fcgi-api/auth.h), without a database: the pre-command query is replaced
 * by filling the context as auth_load() would
 */
#include "auth/auth.h"
#include "pclient.h"
#include "testreg.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    arena_t *a;
    auth_identity_t who;
    int64_t now_us;
    pclient_key_t key;
} fixture;

static void fx_init(fixture *f, const char *org)
{
    memset(f, 0, sizeof *f);
    f->a = arena_new();
    pclient_key_generate(&f->key);
    f->who.route = AUTH_AUTHENTICATED;
    f->now_us = pclient_now_us();
    f->who.org.id = org;
    f->who.org.exists = true;
    f->who.device.id = "alice@dev1";
    memcpy(f->who.device.verify_key, f->key.pub, 32);
    f->who.device_found = true;
}

static proto_auth_t token(fixture *f, const char *org, const char *device, const pclient_key_t *key,
                          int64_t t)
{
    char *tok = pclient_auth_token(org, device, key, t);
    char *h = arena_printf(f->a, "PARSEC-SIGN-ED25519 %s", tok);
    free(tok);
    proto_auth_t out;
    const char *why;
    ck_assert(proto_auth_parse(f->a, h, &out, &why));
    return out;
}

START_TEST(verify_once_then_cached)
{
    auth_cache_clear();
    fixture f;
    fx_init(&f, "CoolOrg");
    int64_t t = f.now_us / 1000000;
    proto_auth_t tok = token(&f, "CoolOrg", "alice@dev1", &f.key, t);
    uint64_t v0, h0, v1, h1;
    auth_cache_counters(&v0, &h0);
    const char *why;
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(auth_verify(&f.who, &tok, f.now_us, &why), AUTH_OK);
    auth_cache_counters(&v1, &h1);
    /* steady state: one Ed25519 verification for a hundred requests */
    ck_assert_uint_eq(v1 - v0, 1);
    ck_assert_uint_eq(h1 - h0, 99);

    /* a new token (next second) is verified once more */
    proto_auth_t tok2 = token(&f, "CoolOrg", "alice@dev1", &f.key, t - 1);
    ck_assert_int_eq(auth_verify(&f.who, &tok2, f.now_us, &why), AUTH_OK);
    ck_assert_int_eq(auth_verify(&f.who, &tok2, f.now_us, &why), AUTH_OK);
    auth_cache_counters(&v0, NULL);
    ck_assert_uint_eq(v0 - v1, 1);
    arena_free(f.a);
}
END_TEST

START_TEST(refusals)
{
    auth_cache_clear();
    fixture f;
    fx_init(&f, "CoolOrg");
    int64_t t = f.now_us / 1000000;
    pclient_key_t other;
    pclient_key_generate(&other);
    const char *why;

    proto_auth_t good = token(&f, "CoolOrg", "alice@dev1", &f.key, t);
    ck_assert_int_eq(auth_verify(&f.who, &good, f.now_us, &why), AUTH_OK);

    /* another organization's token, even cached and well signed */
    proto_auth_t foreign = token(&f, "OtherOrg", "alice@dev1", &f.key, t);
    ck_assert_int_eq(auth_verify(&f.who, &foreign, f.now_us, &why), AUTH_BAD);
    ck_assert_str_eq(why, "token for another organization");

    /* freshness on every request, cached or not: 50 s early, 70 s late */
    ck_assert_int_eq(auth_verify(&f.who, &good, f.now_us, &why), AUTH_OK);
    ck_assert_int_eq(auth_verify(&f.who, &good, (t + 71) * 1000000, &why), AUTH_STALE);
    ck_assert_int_eq(auth_verify(&f.who, &good, (t - 51) * 1000000, &why), AUTH_STALE);
    ck_assert_int_eq(auth_verify(&f.who, &good, (t + 69) * 1000000, &why), AUTH_OK);

    /* unknown device, bad signature, another key: not cached, refused */
    auth_identity_t none = f.who;
    none.device_found = false;
    ck_assert_int_eq(auth_verify(&none, &good, f.now_us, &why), AUTH_BAD);
    ck_assert_str_eq(why, "unknown device");
    proto_auth_t forged = token(&f, "CoolOrg", "alice@dev1", &other, t);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(auth_verify(&f.who, &forged, f.now_us, &why), AUTH_BAD);
        ck_assert_str_eq(why, "bad signature");
    }
    /* the device's key changed (a re-created organization): the cached
     * token does not ride on the old entry */
    auth_identity_t rekeyed = f.who;
    memcpy(rekeyed.device.verify_key, other.pub, 32);
    ck_assert_int_eq(auth_verify(&rekeyed, &good, f.now_us, &why), AUTH_BAD);
    ck_assert(auth_cache_check(f.key.pub, &good, f.now_us));
    ck_assert(!auth_cache_check(other.pub, &good, f.now_us));
    arena_free(f.a);
}
END_TEST

START_TEST(cache_bounds_and_expiry)
{
    auth_cache_clear();
    fixture f;
    fx_init(&f, "CoolOrg");
    int64_t now = f.now_us;
    proto_auth_t tok = token(&f, "CoolOrg", "alice@dev1", &f.key, now / 1000000);
    auth_cache_add(f.key.pub, &tok, now + 1000);
    ck_assert(auth_cache_check(f.key.pub, &tok, now));
    ck_assert(!auth_cache_check(f.key.pub, &tok, now + 1000)); /* expired */
    auth_cache_add(f.key.pub, &tok, now + 1000000);
    ck_assert(auth_cache_check(f.key.pub, &tok, now + 1000));

    /* many more tokens than entries: the table stays bounded, the newest
     * entries are found, older ones may have been evicted, never confused */
    int n = AUTH_CACHE_BUCKETS * AUTH_CACHE_WAYS * 2;
    proto_auth_t *toks = malloc((size_t)n * sizeof *toks);
    for (int i = 0; i < n; i++) {
        toks[i] = tok;
        char *sp = arena_strdup(f.a, tok.signed_part);
        /* distinct signed texts (not valid signatures: the cache does not care) */
        snprintf(sp + strlen(sp) - 6, 7, "%06d", i % 1000000);
        toks[i].signed_part = sp;
        toks[i].signature[0] = (uint8_t)i;
        toks[i].signature[1] = (uint8_t)(i >> 8);
        toks[i].signature[2] = (uint8_t)(i >> 16);
        auth_cache_add(f.key.pub, &toks[i], now + 1000000 + i);
    }
    int found = 0;
    for (int i = 0; i < n; i++)
        found += auth_cache_check(f.key.pub, &toks[i], now);
    ck_assert_int_le(found, AUTH_CACHE_BUCKETS * AUTH_CACHE_WAYS);
    ck_assert_int_gt(found, AUTH_CACHE_BUCKETS * AUTH_CACHE_WAYS / 2);
    ck_assert(auth_cache_check(f.key.pub, &toks[n - 1], now));
    auth_cache_clear();
    ck_assert(!auth_cache_check(f.key.pub, &toks[n - 1], now));
    free(toks);
    arena_free(f.a);
}
END_TEST

/* Threads verifying and hitting at once (ASan/TSan-style smoke: no crash,
 * every answer right). */
typedef struct {
    fixture *f;
    proto_auth_t tok;
    int bad;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    const char *why;
    for (int i = 0; i < 2000; i++)
        if (auth_verify(&w->f->who, &w->tok, w->f->now_us, &why) != AUTH_OK)
            w->bad++;
    return NULL;
}

START_TEST(threads)
{
    auth_cache_clear();
    fixture f;
    fx_init(&f, "CoolOrg");
    int64_t t = f.now_us / 1000000;
    worker_arg w[4];
    pthread_t tid[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_arg){&f, token(&f, "CoolOrg", "alice@dev1", &f.key, t - i), 0};
        ck_assert_int_eq(pthread_create(&tid[i], NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        ck_assert_int_eq(w[i].bad, 0);
    }
    arena_free(f.a);
}
END_TEST

START_TEST(invitation_token)
{
    proto_uuid_t u;
    ck_assert(auth_invitation_token("00112233445566778899aabbccddeeff", &u));
    ck_assert_str_eq(u.hex, "00112233445566778899aabbccddeeff");
    ck_assert_int_eq(u.bytes[0], 0x00);
    ck_assert_int_eq(u.bytes[15], 0xff);
    static const char *const bad[] = {NULL,
                                      "",
                                      "00112233445566778899AABBCCDDEEFF",
                                      "00112233-4455-6677-8899-aabbccddeeff",
                                      "00112233445566778899aabbccddeef",
                                      "00112233445566778899aabbccddeeff0",
                                      "0011223344556677889gaabbccddeeff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert(!auth_invitation_token(bad[i], &u));
}
END_TEST

TEST_SUITE(rpc_auth)
{
    Suite *s = suite_create("rpc_auth");
    TCase *tc = tcase_create("auth");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, verify_once_then_cached);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, cache_bounds_and_expiry);
    tcase_add_test(tc, threads);
    tcase_add_test(tc, invitation_token);
    suite_add_tcase(s, tc);
    return s;
}
