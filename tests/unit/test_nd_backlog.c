/*
 * tests/unit/test_nd_backlog.c - notifyd's count of what a client has not
 * confirmed reading (notifyd/backlog.h); the integration suites show it
 * closing stalled clients behind every proxy.
 */
#include "backlog.h"
#include "testreg.h"

#include <string.h>

START_TEST(probe_and_ack)
{
    nd_backlog_t b;
    memset(&b, 0, sizeof b);
    ck_assert(!nd_backlog_want_probe(&b)); /* nothing written */
    nd_backlog_sent(&b, 100);
    nd_backlog_sent(&b, 50);
    ck_assert(nd_backlog_want_probe(&b));
    uint8_t p1[ND_PROBE_LEN];
    nd_backlog_probe(&b, p1);
    ck_assert(!nd_backlog_want_probe(&b)); /* one outstanding at a time */
    nd_backlog_sent(&b, 25);               /* written after the probe */
    ck_assert_uint_eq(nd_backlog_unacked_msgs(&b), 3);
    ck_assert_uint_eq(nd_backlog_unacked_bytes(&b), 175);

    ck_assert(nd_backlog_pong(&b, p1, sizeof p1));
    /* acknowledged up to the probe, not beyond */
    ck_assert_uint_eq(nd_backlog_unacked_msgs(&b), 1);
    ck_assert_uint_eq(nd_backlog_unacked_bytes(&b), 25);
    ck_assert(nd_backlog_want_probe(&b));
    /* the same pong again is stale */
    ck_assert(!nd_backlog_pong(&b, p1, sizeof p1));

    uint8_t p2[ND_PROBE_LEN];
    nd_backlog_probe(&b, p2);
    ck_assert_mem_ne(p1, p2, ND_PROBE_LEN);
    ck_assert(nd_backlog_pong(&b, p2, sizeof p2));
    ck_assert_uint_eq(nd_backlog_unacked_msgs(&b), 0);
    ck_assert(!nd_backlog_want_probe(&b));
}
END_TEST

/* lws's keepalive pongs (8 bytes), a forged or stale probe: ignored. */
START_TEST(other_pongs_ignored)
{
    nd_backlog_t b;
    memset(&b, 0, sizeof b);
    nd_backlog_sent(&b, 10);
    uint8_t p[ND_PROBE_LEN];
    nd_backlog_probe(&b, p);
    uint8_t keepalive[8] = {0, 0, 1, 2, 3, 4, 5, 6};
    ck_assert(!nd_backlog_pong(&b, keepalive, sizeof keepalive));
    ck_assert(!nd_backlog_pong(&b, "", 0));
    uint8_t forged[ND_PROBE_LEN];
    memcpy(forged, p, sizeof forged);
    forged[ND_PROBE_LEN - 1] ^= 1; /* another sequence number */
    ck_assert(!nd_backlog_pong(&b, forged, sizeof forged));
    forged[ND_PROBE_LEN - 1] ^= 1;
    forged[0] = 'x'; /* not ours */
    ck_assert(!nd_backlog_pong(&b, forged, sizeof forged));
    ck_assert_uint_eq(nd_backlog_unacked_msgs(&b), 1);
    ck_assert(nd_backlog_pong(&b, p, sizeof p));
    ck_assert_uint_eq(nd_backlog_unacked_msgs(&b), 0);
    /* no probe outstanding: even a well-formed pong acknowledges nothing */
    nd_backlog_sent(&b, 10);
    ck_assert(!nd_backlog_pong(&b, p, sizeof p));
    ck_assert_uint_eq(nd_backlog_unacked_msgs(&b), 1);
}
END_TEST

TEST_SUITE(nd_backlog)
{
    Suite *s = suite_create("nd_backlog");
    TCase *tc = tcase_create("backlog");
    tcase_add_test(tc, probe_and_ack);
    tcase_add_test(tc, other_pongs_ignored);
    suite_add_tcase(s, tc);
    return s;
}
