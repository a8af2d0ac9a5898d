/*
 * fcgi-api/cmd/invite_conduit.h - the invitation exchange's conduit as a
 * pure state machine: what one greeter or claimer step call does to it
 *
 * docs/protocol.md section 7 is the contract.  A conduit is what the
 * invitation row stores (the conduit_* columns): a state, what each side
 * said in that state, and the state just completed with what each side
 * said in it.  invite_conduit_step() applies one step call, given as its
 * list of exchanges (state, what the caller says), to a conduit loaded
 * under the row's lock, and says what to answer and whether the row must
 * be written.  It knows nothing of SQL, JSON or the network, so it is
 * tested exhaustively (tests/unit/test_invite_conduit.c) and fuzzed
 * (tests/fuzz/fuzz_conduit.c) on its own; fcgi-api/cmd/invite.c loads and
 * stores it through invite_db.c.
 *
 * Ownership: a conduit's payloads are borrowed (from the database result
 * or the request, both in the request arena); invite_conduit_step() only
 * moves those pointers between slots, and the answer points at one of
 * them.  Nothing here allocates.
 */
#ifndef PARSEC_INVITE_CONDUIT_H
#define PARSEC_INVITE_CONDUIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The states, in the order of the exchange; state 4 loops on itself. */
typedef enum {
    INVITE_CONDUIT_1_WAIT_PEERS = 0,
    INVITE_CONDUIT_2_1_CLAIMER_HASHED_NONCE,
    INVITE_CONDUIT_2_2_GREETER_NONCE,
    INVITE_CONDUIT_2_3_CLAIMER_NONCE,
    INVITE_CONDUIT_3_1_CLAIMER_TRUST,
    INVITE_CONDUIT_3_2_GREETER_TRUST,
    INVITE_CONDUIT_4_COMMUNICATE,
    INVITE_CONDUIT__COUNT
} invite_conduit_state;

/* invite_conduit_state_name - "1_WAIT_PEERS"... (the column's text); static. */
const char *invite_conduit_state_name(invite_conduit_state s);
/* invite_conduit_state_from_name - false when name is no state. */
bool invite_conduit_state_from_name(const char *name, invite_conduit_state *out);

typedef enum { INVITE_GREETER = 0, INVITE_CLAIMER = 1 } invite_side;

/* What a side said: data NULL means nothing yet (SQL NULL); an empty
 * payload has a non-NULL data and len 0. */
typedef struct {
    const uint8_t *data;
    size_t len;
} invite_payload_t;

typedef struct {
    invite_conduit_state state;
    invite_payload_t said[2]; /* [INVITE_GREETER], [INVITE_CLAIMER]: this state */
    bool has_prev;            /* a state was completed since the last reset */
    invite_conduit_state prev_state;
    invite_payload_t prev[2]; /* what each side said in prev_state */
    /* the claimer has been answered the state-4 round just completed, or
     * has started the next one; the greeter's answer waits for it (7.2) */
    bool claimer_fetched;
} invite_conduit_t;

/* invite_conduit_reset - state 1, nothing said, no previous state. */
void invite_conduit_reset(invite_conduit_t *c);

/* One exchange of a step: the state it belongs to and what the caller says
 * in it (never data NULL). */
typedef struct {
    invite_conduit_state state;
    invite_payload_t says;
} invite_exchange_t;

/* The six steps of each side (docs/protocol.md 6.2 and 6.3). */
typedef enum {
    INVITE_STEP_1 = 0,
    INVITE_STEP_2A,
    INVITE_STEP_2B,
    INVITE_STEP_3A,
    INVITE_STEP_3B,
    INVITE_STEP_4,
    INVITE_STEP__COUNT
} invite_step;

/*
 * invite_conduit_exchanges - the exchanges of step of side (the table of
 * docs/protocol.md 7.1) into ex[0..2), the caller saying says (data not
 * NULL) in the first; the others say an empty payload.  Returns how many
 * (1 or 2).
 */
size_t invite_conduit_exchanges(invite_side side, invite_step step, invite_payload_t says,
                                invite_exchange_t ex[2]);

typedef enum {
    INVITE_CONDUIT_OK,            /* *answer: the peer's payload */
    INVITE_CONDUIT_NOT_READY,     /* the peer has not spoken (or fetched) yet */
    INVITE_CONDUIT_INVALID_STATE, /* out of turn; the conduit is unchanged */
} invite_conduit_result;

/*
 * invite_conduit_step - one step call by side me, made of the exchanges
 * ex[0..n) (1 or 2), applied to c as docs/protocol.md 7.2 says: past,
 * repeat of a completed state-4 round, current, early; step 1 resets a
 * conduit it finds out of turn.  *changed tells whether c was modified
 * (the row must be written; a claimer's change is announced to the
 * greeter); with INVITE_CONDUIT_INVALID_STATE it is false.  *answer is set
 * for INVITE_CONDUIT_OK (pointing into c's payloads), zeroed otherwise.
 */
invite_conduit_result invite_conduit_step(invite_conduit_t *c, invite_side me,
                                          const invite_exchange_t *ex, size_t n,
                                          invite_payload_t *answer, bool *changed);

#endif
