/*
 * tests/unit/test_invite_conduit.c - the conduit of the invitation exchange
 * (fcgi-api/cmd/invite_conduit.h) against docs/protocol.md section 7.2
 *
 * Each rule of 7.2 by a scenario (past, repeat of a state-4 round, current,
 * early, step 1's reset, the greeter's state-4 answer waiting for the
 * claimer), then two honest clients driven by a seeded random schedule
 * thousands of times, losing replies and restarting, which must always end
 * with each side holding what the other said.  The SQL around the conduit
 * is tested end to end by tests/integration/test_invite_exchange.c.
 */
#include "cmd/invite_conduit.h"
#include "testreg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Payloads are test strings; a conduit keeps pointers to them, so they
 * must outlive it (string literals, or the pool below). */
static invite_payload_t P(const char *s)
{
    return (invite_payload_t){(const uint8_t *)s, strlen(s)};
}

typedef struct {
    invite_conduit_result res;
    char answer[64];
    bool changed;
} step_t;

static step_t call(invite_conduit_t *c, invite_side side, invite_step step, const char *says)
{
    invite_exchange_t ex[2];
    size_t n = invite_conduit_exchanges(side, step, P(says), ex);
    invite_payload_t a;
    step_t r = {0};
    r.res = invite_conduit_step(c, side, ex, n, &a, &r.changed);
    if (r.res == INVITE_CONDUIT_OK) {
        ck_assert_ptr_nonnull(a.data);
        ck_assert_uint_lt(a.len, sizeof r.answer);
        memcpy(r.answer, a.data, a.len);
    } else {
        ck_assert_ptr_null(a.data);
    }
    return r;
}

#define G INVITE_GREETER
#define C INVITE_CLAIMER

static void expect_ok(invite_conduit_t *c, invite_side side, invite_step step, const char *says,
                      const char *answer)
{
    step_t r = call(c, side, step, says);
    ck_assert_msg(r.res == INVITE_CONDUIT_OK, "%s step %d: result %d, expected ok",
                  side == G ? "greeter" : "claimer", (int)step, (int)r.res);
    ck_assert_str_eq(r.answer, answer);
}

static void expect(invite_conduit_t *c, invite_side side, invite_step step, const char *says,
                   invite_conduit_result want)
{
    step_t r = call(c, side, step, says);
    ck_assert_msg(r.res == want, "%s step %d: result %d, expected %d",
                  side == G ? "greeter" : "claimer", (int)step, (int)r.res, (int)want);
}

/* expect invalid_state, and nothing changed */
static void expect_invalid(invite_conduit_t *c, invite_side side, invite_step step,
                           const char *says)
{
    invite_conduit_t before = *c;
    step_t r = call(c, side, step, says);
    ck_assert_int_eq(r.res, INVITE_CONDUIT_INVALID_STATE);
    ck_assert(!r.changed);
    ck_assert(memcmp(&before, c, sizeof before) == 0);
}

/* The whole exchange up to state 4, the greeter speaking first each time. */
static void up_to_4(invite_conduit_t *c)
{
    invite_conduit_reset(c);
    expect(c, G, INVITE_STEP_1, "GK", INVITE_CONDUIT_NOT_READY);
    expect_ok(c, C, INVITE_STEP_1, "CK", "GK");
    expect_ok(c, G, INVITE_STEP_1, "GK", "CK");
    expect(c, G, INVITE_STEP_2A, "", INVITE_CONDUIT_NOT_READY);
    expect(c, C, INVITE_STEP_2A, "HN", INVITE_CONDUIT_NOT_READY);
    expect_ok(c, G, INVITE_STEP_2A, "", "HN");
    expect(c, G, INVITE_STEP_2B, "GN", INVITE_CONDUIT_NOT_READY);
    expect_ok(c, C, INVITE_STEP_2A, "HN", "GN");
    expect_ok(c, C, INVITE_STEP_2B, "CN", "");
    expect_ok(c, G, INVITE_STEP_2B, "GN", "CN");
    expect(c, G, INVITE_STEP_3A, "", INVITE_CONDUIT_NOT_READY);
    expect_ok(c, C, INVITE_STEP_3A, "", "");
    expect_ok(c, G, INVITE_STEP_3A, "", "");
    expect(c, C, INVITE_STEP_3B, "", INVITE_CONDUIT_NOT_READY);
    expect_ok(c, G, INVITE_STEP_3B, "", "");
    expect_ok(c, C, INVITE_STEP_3B, "", "");
    ck_assert_int_eq(c->state, INVITE_CONDUIT_4_COMMUNICATE);
}

START_TEST(state_names)
{
    for (int i = 0; i < INVITE_CONDUIT__COUNT; i++) {
        invite_conduit_state s;
        ck_assert(invite_conduit_state_from_name(invite_conduit_state_name(i), &s));
        ck_assert_int_eq(s, i);
    }
    invite_conduit_state s;
    ck_assert(!invite_conduit_state_from_name("5_NOPE", &s));
    ck_assert(!invite_conduit_state_from_name(NULL, &s));
    ck_assert_str_eq(invite_conduit_state_name(INVITE_CONDUIT_2_3_CLAIMER_NONCE),
                     "2_3_CLAIMER_NONCE");
}
END_TEST

/* The claimer speaking first at every step. */
START_TEST(claimer_first)
{
    invite_conduit_t c;
    invite_conduit_reset(&c);
    expect(&c, C, INVITE_STEP_1, "CK", INVITE_CONDUIT_NOT_READY);
    expect(&c, C, INVITE_STEP_1, "CK", INVITE_CONDUIT_NOT_READY); /* repeated: nothing new */
    expect_ok(&c, G, INVITE_STEP_1, "GK", "CK");
    expect_ok(&c, C, INVITE_STEP_1, "CK", "GK");
    expect(&c, C, INVITE_STEP_2A, "HN", INVITE_CONDUIT_NOT_READY);
    expect_ok(&c, G, INVITE_STEP_2A, "", "HN");
    /* the claimer's 2a went on to 2_2 and waits for the greeter's nonce */
    expect(&c, C, INVITE_STEP_2A, "HN", INVITE_CONDUIT_NOT_READY);
    ck_assert_int_eq(c.state, INVITE_CONDUIT_2_2_GREETER_NONCE);
    expect(&c, G, INVITE_STEP_2B, "GN", INVITE_CONDUIT_NOT_READY);
    ck_assert_int_eq(c.state, INVITE_CONDUIT_2_3_CLAIMER_NONCE);
    expect_ok(&c, C, INVITE_STEP_2A, "HN", "GN");
    expect_ok(&c, C, INVITE_STEP_2B, "CN", "");
    expect_ok(&c, G, INVITE_STEP_2B, "GN", "CN");
    expect(&c, C, INVITE_STEP_3A, "", INVITE_CONDUIT_NOT_READY);
    expect_ok(&c, G, INVITE_STEP_3A, "", "");
    expect_ok(&c, C, INVITE_STEP_3A, "", "");
    expect(&c, C, INVITE_STEP_3B, "", INVITE_CONDUIT_NOT_READY);
    expect_ok(&c, G, INVITE_STEP_3B, "", "");
    expect_ok(&c, C, INVITE_STEP_3B, "", "");
    /* round 1 of 4: the claimer's data; the greeter completes, and its
     * answer waits until the claimer has had the greeter's */
    expect(&c, C, INVITE_STEP_4, "DATA", INVITE_CONDUIT_NOT_READY);
    expect(&c, G, INVITE_STEP_4, "", INVITE_CONDUIT_NOT_READY);
    expect(&c, G, INVITE_STEP_4, "", INVITE_CONDUIT_NOT_READY);
    ck_assert(!c.claimer_fetched);
    expect_ok(&c, C, INVITE_STEP_4, "DATA", "");
    expect_ok(&c, G, INVITE_STEP_4, "", "DATA");
    /* round 2: the confirmation */
    expect(&c, C, INVITE_STEP_4, "", INVITE_CONDUIT_NOT_READY);
    expect(&c, G, INVITE_STEP_4, "CONF", INVITE_CONDUIT_NOT_READY);
    expect_ok(&c, C, INVITE_STEP_4, "", "CONF");
    expect_ok(&c, G, INVITE_STEP_4, "CONF", "");
}
END_TEST

/* A lost ok is answered again, for each step and each side, as long as the
 * peer has not completed the next state. */
START_TEST(lost_ok_answered_again)
{
    invite_conduit_t c;
    invite_conduit_reset(&c);
    expect(&c, G, INVITE_STEP_1, "GK", INVITE_CONDUIT_NOT_READY);
    expect_ok(&c, C, INVITE_STEP_1, "CK", "GK");
    for (int i = 0; i < 3; i++) {
        step_t r = call(&c, C, INVITE_STEP_1, "CK");
        ck_assert_int_eq(r.res, INVITE_CONDUIT_OK);
        ck_assert_str_eq(r.answer, "GK");
        ck_assert(!r.changed); /* a repeat writes nothing */
    }
    expect_ok(&c, G, INVITE_STEP_1, "GK", "CK");
    expect_ok(&c, G, INVITE_STEP_1, "GK", "CK");
    expect(&c, C, INVITE_STEP_2A, "HN", INVITE_CONDUIT_NOT_READY);
    /* both still answered while state 2_1 is not complete */
    expect_ok(&c, C, INVITE_STEP_1, "CK", "GK");
    expect_ok(&c, G, INVITE_STEP_1, "GK", "CK");
    expect_ok(&c, G, INVITE_STEP_2A, "", "HN");
    expect_ok(&c, G, INVITE_STEP_2A, "", "HN");
    /* state 2_1 completed: step 1's answers are gone; a step 1 now resets */
    expect(&c, G, INVITE_STEP_2B, "GN", INVITE_CONDUIT_NOT_READY);
    expect_ok(&c, C, INVITE_STEP_2A, "HN", "GN");
    expect_ok(&c, C, INVITE_STEP_2A, "HN", "GN");
    expect(&c, G, INVITE_STEP_2B, "GN", INVITE_CONDUIT_NOT_READY); /* waits for 2_3 */
    expect_ok(&c, C, INVITE_STEP_2B, "CN", "");
    expect_ok(&c, C, INVITE_STEP_2B, "CN", "");
    expect_ok(&c, G, INVITE_STEP_2B, "GN", "CN");
    expect_ok(&c, G, INVITE_STEP_2B, "GN", "CN");
    expect_ok(&c, C, INVITE_STEP_2B, "CN", "");
    expect(&c, C, INVITE_STEP_3A, "", INVITE_CONDUIT_NOT_READY);
    expect_ok(&c, G, INVITE_STEP_3A, "", "");
    expect_ok(&c, G, INVITE_STEP_3A, "", "");
    expect_ok(&c, C, INVITE_STEP_3A, "", "");
    expect_ok(&c, C, INVITE_STEP_3A, "", "");
    /* 3_1 complete: a claimer 2b repeat is now out of turn */
    expect_invalid(&c, C, INVITE_STEP_2B, "CN");
    expect(&c, G, INVITE_STEP_3B, "", INVITE_CONDUIT_NOT_READY);
    expect_ok(&c, C, INVITE_STEP_3B, "", "");
    expect_ok(&c, G, INVITE_STEP_3B, "", "");
    expect_ok(&c, C, INVITE_STEP_3B, "", "");
    expect_ok(&c, G, INVITE_STEP_3B, "", "");
}
END_TEST

/* Step 4 loops; each round's answers are repeated until the next round
 * completes; the greeter's answer waits for the claimer's. */
START_TEST(step4_rounds)
{
    invite_conduit_t c;
    up_to_4(&c);
    static const char *const g[] = {"g1", "g2", "g3", "g4"};
    static const char *const cl[] = {"c1", "c2", "c3", "c4"};
    for (int round = 0; round < 4; round++) {
        if (round % 2 == 0) { /* greeter first: the claimer completes */
            expect(&c, G, INVITE_STEP_4, g[round], INVITE_CONDUIT_NOT_READY);
            expect_ok(&c, C, INVITE_STEP_4, cl[round], g[round]);
            ck_assert(c.claimer_fetched);
            expect_ok(&c, G, INVITE_STEP_4, g[round], cl[round]);
        } else { /* claimer first: the greeter completes, then waits */
            expect(&c, C, INVITE_STEP_4, cl[round], INVITE_CONDUIT_NOT_READY);
            step_t r = call(&c, G, INVITE_STEP_4, g[round]);
            ck_assert_int_eq(r.res, INVITE_CONDUIT_NOT_READY);
            ck_assert(r.changed);
            r = call(&c, G, INVITE_STEP_4, g[round]);
            ck_assert_int_eq(r.res, INVITE_CONDUIT_NOT_READY);
            ck_assert(!r.changed);
            r = call(&c, C, INVITE_STEP_4, cl[round]);
            ck_assert_int_eq(r.res, INVITE_CONDUIT_OK);
            ck_assert(r.changed); /* the fetch is recorded (and announced) */
            expect_ok(&c, G, INVITE_STEP_4, g[round], cl[round]);
        }
        /* lost oks, repeated any number of times */
        for (int k = 0; k < 2; k++) {
            expect_ok(&c, C, INVITE_STEP_4, cl[round], g[round]);
            expect_ok(&c, G, INVITE_STEP_4, g[round], cl[round]);
        }
    }
    /* a round started by one side keeps the last round's answers for the
     * other until it completes */
    expect(&c, G, INVITE_STEP_4, "g5", INVITE_CONDUIT_NOT_READY);
    expect_ok(&c, C, INVITE_STEP_4, "c4", "g4");
    /* a different payload while mine waits in the round: out of turn */
    expect_invalid(&c, G, INVITE_STEP_4, "other");
    expect_ok(&c, C, INVITE_STEP_4, "c5", "g5");
    expect_ok(&c, G, INVITE_STEP_4, "g5", "c5");
}
END_TEST

/* A claimer that starts a new round without fetching the last one lets the
 * greeter have its answer. */
START_TEST(step4_claimer_moves_on)
{
    invite_conduit_t c;
    up_to_4(&c);
    expect(&c, C, INVITE_STEP_4, "c1", INVITE_CONDUIT_NOT_READY);
    expect(&c, G, INVITE_STEP_4, "g1", INVITE_CONDUIT_NOT_READY);
    expect(&c, C, INVITE_STEP_4, "c2", INVITE_CONDUIT_NOT_READY);
    expect_ok(&c, G, INVITE_STEP_4, "g1", "c1");
}
END_TEST

/* Out of turn: early steps, another payload in the current state, a step
 * whose state completed with other payloads. */
START_TEST(invalid_state_leaves_conduit)
{
    invite_conduit_t c;
    invite_conduit_reset(&c);
    for (invite_step s = INVITE_STEP_2A; s < INVITE_STEP__COUNT; s++) {
        expect_invalid(&c, G, s, "x");
        expect_invalid(&c, C, s, "x");
    }
    expect(&c, G, INVITE_STEP_1, "GK", INVITE_CONDUIT_NOT_READY);
    expect_ok(&c, C, INVITE_STEP_1, "CK", "GK");
    expect(&c, C, INVITE_STEP_2A, "HN", INVITE_CONDUIT_NOT_READY);
    expect_invalid(&c, C, INVITE_STEP_2A, "OTHER"); /* another hashed nonce */
    expect_invalid(&c, C, INVITE_STEP_2B, "CN");    /* early */
    expect_invalid(&c, G, INVITE_STEP_3A, "");
    expect_ok(&c, G, INVITE_STEP_2A, "", "HN");
    expect(&c, G, INVITE_STEP_2B, "GN", INVITE_CONDUIT_NOT_READY);
    expect_invalid(&c, G, INVITE_STEP_2B, "GN2"); /* GN waits in 2_2: another nonce */
    expect_ok(&c, G, INVITE_STEP_2A, "", "HN");   /* 2_1 is the last completed: a repeat */
    expect_invalid(&c, G, INVITE_STEP_3B, "");    /* early */
    expect_ok(&c, C, INVITE_STEP_2A, "HN", "GN");
    expect(&c, C, INVITE_STEP_2B, "CN", INVITE_CONDUIT_NOT_READY);
    expect_invalid(&c, G, INVITE_STEP_2A, ""); /* 2_1 is no longer the last completed */
}
END_TEST

/* Step 1 resets the conduit wherever it finds it out of turn. */
START_TEST(step1_resets)
{
    invite_conduit_t c;
    /* a new key at state 1 over one's own */
    invite_conduit_reset(&c);
    expect(&c, G, INVITE_STEP_1, "GK", INVITE_CONDUIT_NOT_READY);
    step_t r = call(&c, G, INVITE_STEP_1, "GK2");
    ck_assert_int_eq(r.res, INVITE_CONDUIT_NOT_READY);
    ck_assert(r.changed);
    expect_ok(&c, C, INVITE_STEP_1, "CK", "GK2");

    /* from each later state, by either side */
    for (int side = 0; side < 2; side++) {
        for (int depth = 1; depth <= 7; depth++) {
            invite_conduit_t d;
            up_to_4(&d);
            if (depth < 7) { /* rewind: replay up to a given state */
                invite_conduit_reset(&d);
                static const struct {
                    invite_side side;
                    invite_step step;
                    const char *says;
                } script[] = {
                    {G, INVITE_STEP_1, "GK"}, {C, INVITE_STEP_1, "CK"},  {C, INVITE_STEP_2A, "HN"},
                    {G, INVITE_STEP_2A, ""},  {G, INVITE_STEP_2B, "GN"}, {C, INVITE_STEP_2B, "CN"},
                    {C, INVITE_STEP_3A, ""},  {G, INVITE_STEP_3A, ""},   {C, INVITE_STEP_3B, ""},
                    {G, INVITE_STEP_3B, ""},
                };
                for (int k = 0; k < 2 * depth - 1 && k < 10; k++)
                    (void)call(&d, script[k].side, script[k].step, script[k].says);
            }
            invite_side me = side ? C : G, peer = side ? G : C;
            if (depth == 1 && me == C)
                continue; /* the greeter's key waits: the claimer completes state 1 */
            r = call(&d, me, INVITE_STEP_1, "NEW");
            ck_assert_msg(r.res == INVITE_CONDUIT_NOT_READY, "depth %d side %d: %d", depth, side,
                          (int)r.res);
            ck_assert(r.changed);
            ck_assert_int_eq(d.state, INVITE_CONDUIT_1_WAIT_PEERS);
            ck_assert(!d.has_prev);
            ck_assert_ptr_null(d.said[peer].data);
            /* the peer's next step is out of turn; its step 1 meets the new key */
            expect_invalid(&d, peer, INVITE_STEP_3A, "");
            expect_ok(&d, peer, INVITE_STEP_1, "PEER", "NEW");
            expect_ok(&d, me, INVITE_STEP_1, "NEW", "PEER");
        }
    }
}
END_TEST

/* ---------------------------------------------------------------------------
 * Two honest clients under random schedules
 */

typedef struct {
    invite_side side;
    int step;            /* index in the script; 7: done */
    int generation;      /* restarts so far (new payloads) */
    const char *said[7]; /* what this client says at each script position */
    char got[7][64];     /* what it received */
    /* an ok whose reply was lost: the same call is repeated later, and must
     * answer the same unless a restart reset the conduit meanwhile */
    bool lost;
    int lost_restarts;
    char lost_answer[64];
} client_t;

/* The script of each side.  Positions 5 and 6 are the two rounds of step 4:
 * the claimer's data then empty; the greeter's empty then confirmation. */
static const invite_step script_steps[7] = {INVITE_STEP_1,  INVITE_STEP_2A, INVITE_STEP_2B,
                                            INVITE_STEP_3A, INVITE_STEP_3B, INVITE_STEP_4,
                                            INVITE_STEP_4};

/* What the clients say, never rewritten: a conduit keeps pointers to what
 * it was told, as the server's keeps the bytes of a database row. */
#define MAX_GENERATION 16
static char pool[2][MAX_GENERATION][7][32];

static void client_init(client_t *k, invite_side side, int generation)
{
    ck_assert_int_lt(generation, MAX_GENERATION);
    memset(k, 0, sizeof *k);
    k->side = side;
    k->generation = generation;
    /* greeter: key, "", nonce, "", "", "", confirmation
     * claimer: key, hashed nonce, nonce, "", "", data, "" */
    char(*p)[32] = pool[side][generation];
    memset(p, 0, sizeof pool[side][generation]);
    snprintf(p[0], sizeof p[0], "%skey%d", side == G ? "g" : "c", generation);
    if (side == G) {
        snprintf(p[2], sizeof p[2], "gnonce%d", generation);
        snprintf(p[6], sizeof p[6], "conf%d", generation);
    } else {
        snprintf(p[1], sizeof p[1], "hash%d", generation);
        snprintf(p[2], sizeof p[2], "cnonce%d", generation);
        snprintf(p[5], sizeof p[5], "data%d", generation);
    }
    for (int i = 0; i < 7; i++)
        k->said[i] = p[i];
}

/* One call of client k; *restarts counts restarts of either side. */
static void client_act(invite_conduit_t *c, client_t *k, unsigned *rng, int *restarts)
{
    if (k->step >= 7)
        return;
    step_t r = call(c, k->side, script_steps[k->step], k->said[k->step]);
    if (r.res == INVITE_CONDUIT_NOT_READY)
        return;
    if (r.res == INVITE_CONDUIT_INVALID_STATE) {
        /* the peer restarted: start over with new payloads */
        ck_assert_int_gt(*restarts, 0);
        client_init(k, k->side, k->generation + 1);
        (*restarts)++;
        return;
    }
    if (k->lost && k->lost_restarts == *restarts)
        ck_assert_str_eq(r.answer, k->lost_answer);
    /* one ok in three is lost: the client will send the same call again */
    if (!k->lost && rand_r(rng) % 3 == 0) {
        k->lost = true;
        k->lost_restarts = *restarts;
        snprintf(k->lost_answer, sizeof k->lost_answer, "%s", r.answer);
        return;
    }
    k->lost = false;
    snprintf(k->got[k->step], sizeof k->got[k->step], "%s", r.answer);
    k->step++;
}

START_TEST(random_schedules)
{
    int completed = 0;
    for (unsigned seed = 1; seed <= 3000; seed++) {
        unsigned rng = seed;
        invite_conduit_t c;
        invite_conduit_reset(&c);
        client_t k[2];
        client_init(&k[G], G, 0);
        client_init(&k[C], C, 0);
        int restarts = 0, crashes = 0;
        int calls = 0;
        while ((k[G].step < 7 || k[C].step < 7) && calls < 2000) {
            calls++;
            int who = rand_r(&rng) % 2;
            /* now and then (at most twice per run) a client crashes and
             * restarts from step 1 with new payloads */
            if (crashes < 2 && k[who].step > 0 && k[who].step < 7 && rand_r(&rng) % 97 == 0) {
                client_init(&k[who], k[who].side, k[who].generation + 1);
                crashes++;
                restarts++;
            }
            client_act(&c, &k[who], &rng, &restarts);
        }
        /* A greeter that finished can no longer restart, so a claimer restart
         * after it cannot complete: those runs end with the claimer stuck
         * (the real greeter would then create a new invitation). */
        if (k[G].step < 7 || k[C].step < 7) {
            ck_assert_msg(restarts > 0, "seed %u: stuck without a restart (G %d, C %d)", seed,
                          k[G].step, k[C].step);
            continue;
        }
        completed++;
        /* each side got exactly what the other said, in its last generation */
        const client_t *g = &k[G], *cl = &k[C];
        ck_assert_str_eq(g->got[0], cl->said[0]);
        ck_assert_str_eq(cl->got[0], g->said[0]);
        ck_assert_str_eq(g->got[1], cl->said[1]);
        ck_assert_str_eq(cl->got[1], g->said[2]); /* claimer 2a: the greeter's nonce */
        ck_assert_str_eq(g->got[2], cl->said[2]); /* greeter 2b: the claimer's nonce */
        ck_assert_str_eq(g->got[5], cl->said[5]); /* round 1: the claimer's data */
        ck_assert_str_eq(cl->got[5], "");
        ck_assert_str_eq(cl->got[6], g->said[6]); /* round 2: the confirmation */
        ck_assert_str_eq(g->got[6], "");
    }
    ck_assert_int_gt(completed, 2500);
}
END_TEST

TEST_SUITE(invite_conduit)
{
    Suite *s = suite_create("invite_conduit");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, state_names);
    tcase_add_test(tc, claimer_first);
    tcase_add_test(tc, lost_ok_answered_again);
    tcase_add_test(tc, step4_rounds);
    tcase_add_test(tc, step4_claimer_moves_on);
    tcase_add_test(tc, invalid_state_leaves_conduit);
    tcase_add_test(tc, step1_resets);
    tcase_add_test(tc, random_schedules);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
