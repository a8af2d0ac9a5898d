/*
 * tests/fuzz/fuzz_conduit.c - libFuzzer target: the invitation conduit
 * (fcgi-api/cmd/invite_conduit.c), under any sequence of step calls
 *
 * Input: a script, two bytes per call: the side and step (the low bit and
 * the next ones of the first byte), then which payload it says (the second
 * byte picks one of eight, some of them equal, so repeats, changes and
 * empty payloads all occur).  After every call the invariants of
 * docs/protocol.md 7.2 must hold, whatever the script:
 *   - invalid_state changes nothing; a call reporting no change changed
 *     nothing; ok always comes with an answer, and only ok does;
 *   - the state is one of the seven; state 1 exactly when no state was
 *     completed since the last reset, otherwise the previous state is the
 *     one just before the current (or both are 4);
 *   - never both sides' payloads waiting at once (that completes);
 *   - the greeter is never answered a state-4 round the claimer has not had.
 *
 *   make fuzz
 *   build/fuzz/fuzz_conduit build/fuzz/corpus-conduit tests/fuzz/corpus/conduit
 */
#include "cmd/invite_conduit.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const pool[8] = {
    "", "", "a", "a", "bb", "key-0123456789abcdef0123456789ab", "n", "payload"};

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    invite_conduit_t c;
    invite_conduit_reset(&c);
    for (size_t i = 0; i + 1 < size; i += 2) {
        invite_side side = (data[i] & 1) ? INVITE_CLAIMER : INVITE_GREETER;
        invite_step step = (invite_step)((data[i] >> 1) % INVITE_STEP__COUNT);
        const char *s = pool[data[i + 1] % 8];
        invite_payload_t says = {(const uint8_t *)s, strlen(s)};
        invite_exchange_t ex[2];
        size_t n = invite_conduit_exchanges(side, step, says, ex);
        check(n == 1 || n == 2);

        invite_conduit_t before = c;
        invite_payload_t answer;
        bool changed;
        invite_conduit_result r = invite_conduit_step(&c, side, ex, n, &answer, &changed);
        check(r == INVITE_CONDUIT_OK || r == INVITE_CONDUIT_NOT_READY ||
              r == INVITE_CONDUIT_INVALID_STATE);
        if (r == INVITE_CONDUIT_INVALID_STATE || !changed)
            check(memcmp(&before, &c, sizeof c) == 0);
        if (r == INVITE_CONDUIT_INVALID_STATE)
            check(!changed);
        check((r == INVITE_CONDUIT_OK) == (answer.data != NULL));

        check((unsigned)c.state < INVITE_CONDUIT__COUNT);
        check((c.state == INVITE_CONDUIT_1_WAIT_PEERS) == !c.has_prev);
        if (c.has_prev)
            check(c.prev_state + 1 == c.state || (c.prev_state == INVITE_CONDUIT_4_COMMUNICATE &&
                                                  c.state == INVITE_CONDUIT_4_COMMUNICATE));
        check(!(c.said[INVITE_GREETER].data && c.said[INVITE_CLAIMER].data));
        if (r == INVITE_CONDUIT_OK && side == INVITE_GREETER && step == INVITE_STEP_4)
            check(c.claimer_fetched);
    }
    return 0;
}
