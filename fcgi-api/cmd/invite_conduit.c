/*
 * fcgi-api/cmd/invite_conduit.c - one step call applied to a conduit (see
 * invite_conduit.h and docs/protocol.md section 7.2)
 */
#include "invite_conduit.h"

#include "crypto.h"

#include <string.h>

static const char *const state_names[INVITE_CONDUIT__COUNT] = {
    "1_WAIT_PEERS",      "2_1_CLAIMER_HASHED_NONCE", "2_2_GREETER_NONCE", "2_3_CLAIMER_NONCE",
    "3_1_CLAIMER_TRUST", "3_2_GREETER_TRUST",        "4_COMMUNICATE",
};

const char *invite_conduit_state_name(invite_conduit_state s)
{
    return (unsigned)s < INVITE_CONDUIT__COUNT ? state_names[s] : "?";
}

bool invite_conduit_state_from_name(const char *name, invite_conduit_state *out)
{
    for (int i = 0; name && i < INVITE_CONDUIT__COUNT; i++)
        if (strcmp(state_names[i], name) == 0) {
            *out = (invite_conduit_state)i;
            return true;
        }
    return false;
}

void invite_conduit_reset(invite_conduit_t *c)
{
    memset(c, 0, sizeof *c);
    c->state = INVITE_CONDUIT_1_WAIT_PEERS;
    c->prev_state = INVITE_CONDUIT_1_WAIT_PEERS;
    c->claimer_fetched = true;
}

/* a and b were both said and are the same bytes (constant time: a
 * claimer's nonce is compared here before the greeter has seen it). */
static bool same(invite_payload_t a, invite_payload_t b)
{
    if (!a.data || !b.data || a.len != b.len)
        return false;
    return a.len == 0 || crypto_equal(a.data, b.data, a.len);
}

static const invite_payload_t nothing = {NULL, 0};
static const invite_payload_t empty = {(const uint8_t *)"", 0};

/* The states of each step's exchanges (7.1); the step's payload goes to the
 * first, the others say nothing but empty. */
static const struct {
    size_t n;
    invite_conduit_state s[2];
} plans[2][INVITE_STEP__COUNT] = {
    [INVITE_GREETER] =
        {
            [INVITE_STEP_1] = {1, {INVITE_CONDUIT_1_WAIT_PEERS}},
            [INVITE_STEP_2A] = {1, {INVITE_CONDUIT_2_1_CLAIMER_HASHED_NONCE}},
            [INVITE_STEP_2B] = {2,
                                {INVITE_CONDUIT_2_2_GREETER_NONCE,
                                 INVITE_CONDUIT_2_3_CLAIMER_NONCE}},
            [INVITE_STEP_3A] = {1, {INVITE_CONDUIT_3_1_CLAIMER_TRUST}},
            [INVITE_STEP_3B] = {1, {INVITE_CONDUIT_3_2_GREETER_TRUST}},
            [INVITE_STEP_4] = {1, {INVITE_CONDUIT_4_COMMUNICATE}},
        },
    [INVITE_CLAIMER] =
        {
            [INVITE_STEP_1] = {1, {INVITE_CONDUIT_1_WAIT_PEERS}},
            [INVITE_STEP_2A] = {2,
                                {INVITE_CONDUIT_2_1_CLAIMER_HASHED_NONCE,
                                 INVITE_CONDUIT_2_2_GREETER_NONCE}},
            [INVITE_STEP_2B] = {1, {INVITE_CONDUIT_2_3_CLAIMER_NONCE}},
            [INVITE_STEP_3A] = {1, {INVITE_CONDUIT_3_1_CLAIMER_TRUST}},
            [INVITE_STEP_3B] = {1, {INVITE_CONDUIT_3_2_GREETER_TRUST}},
            [INVITE_STEP_4] = {1, {INVITE_CONDUIT_4_COMMUNICATE}},
        },
};

size_t invite_conduit_exchanges(invite_side side, invite_step step, invite_payload_t says,
                                invite_exchange_t ex[2])
{
    size_t n = plans[side][step].n;
    for (size_t i = 0; i < n; i++) {
        ex[i].state = plans[side][step].s[i];
        ex[i].says = i == 0 ? says : empty;
    }
    return n;
}

/* Complete the current state: both payloads become the previous ones, the
 * state advances (4 stays 4), the slots empty. */
static void complete(invite_conduit_t *w, invite_side me)
{
    w->has_prev = true;
    w->prev_state = w->state;
    w->prev[INVITE_GREETER] = w->said[INVITE_GREETER];
    w->prev[INVITE_CLAIMER] = w->said[INVITE_CLAIMER];
    w->claimer_fetched = me == INVITE_CLAIMER;
    w->said[INVITE_GREETER] = w->said[INVITE_CLAIMER] = nothing;
    if (w->state != INVITE_CONDUIT_4_COMMUNICATE)
        w->state++;
}

invite_conduit_result invite_conduit_step(invite_conduit_t *c, invite_side me,
                                          const invite_exchange_t *ex, size_t n,
                                          invite_payload_t *answer, bool *changed)
{
    invite_side peer = me == INVITE_GREETER ? INVITE_CLAIMER : INVITE_GREETER;
    /* Work on a copy: an invalid_state answer leaves c as it was. */
    invite_conduit_t w = *c;
    bool dirty = false;
    invite_conduit_result res = INVITE_CONDUIT_INVALID_STATE;
    *answer = nothing;
    *changed = false;

    for (size_t i = 0; i < n; i++) {
        invite_conduit_state s = ex[i].state;
        invite_payload_t p = ex[i].says;
        bool last = i + 1 == n;

        /* 1. Past */
        if (w.state > s) {
            if (!last)
                continue;
            if (w.has_prev && w.prev_state == s && same(w.prev[me], p)) {
                *answer = w.prev[peer];
                res = INVITE_CONDUIT_OK;
                goto done;
            }
            if (s != INVITE_CONDUIT_1_WAIT_PEERS)
                return INVITE_CONDUIT_INVALID_STATE;
            invite_conduit_reset(&w);
            dirty = true;
        }

        /* 2. A repeat of the state-4 round just completed */
        if (s == INVITE_CONDUIT_4_COMMUNICATE && w.state == s && w.has_prev && w.prev_state == s &&
            same(w.prev[me], p)) {
            if (me == INVITE_CLAIMER) {
                if (!w.claimer_fetched) {
                    w.claimer_fetched = true;
                    dirty = true;
                }
                *answer = w.prev[peer];
                res = INVITE_CONDUIT_OK;
            } else if (w.claimer_fetched) {
                *answer = w.prev[peer];
                res = INVITE_CONDUIT_OK;
            } else {
                res = INVITE_CONDUIT_NOT_READY;
            }
            goto done;
        }

        /* 4. Early */
        if (w.state < s)
            return INVITE_CONDUIT_INVALID_STATE;

        /* 3. Current: talk */
        if (!w.said[me].data) {
            w.said[me] = p;
            dirty = true;
        } else if (!same(w.said[me], p)) {
            if (s != INVITE_CONDUIT_1_WAIT_PEERS)
                return INVITE_CONDUIT_INVALID_STATE;
            invite_conduit_reset(&w);
            w.said[me] = p;
            dirty = true;
        }
        /* a claimer speaking in a new round has done with the last one */
        if (me == INVITE_CLAIMER && s == INVITE_CONDUIT_4_COMMUNICATE && w.has_prev &&
            w.prev_state == s && !w.claimer_fetched) {
            w.claimer_fetched = true;
            dirty = true;
        }
        if (!w.said[peer].data) {
            res = INVITE_CONDUIT_NOT_READY;
            goto done;
        }
        complete(&w, me);
        dirty = true;
        if (!last)
            continue;
        /* The greeter's state-4 answer waits until the claimer has had its
         * own: the greeter ends with invite_delete, after which the
         * claimer could fetch nothing. */
        if (me == INVITE_GREETER && s == INVITE_CONDUIT_4_COMMUNICATE) {
            res = INVITE_CONDUIT_NOT_READY;
            goto done;
        }
        *answer = w.prev[peer];
        res = INVITE_CONDUIT_OK;
        goto done;
    }

done:
    *c = w;
    *changed = dirty;
    return res;
}
