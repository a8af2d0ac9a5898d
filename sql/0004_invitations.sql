-- sql/0004_invitations.sql - what the invitation commands need of the
-- invitation table (fcgi-api/cmd/invite_db.c, docs/protocol.md 6 and 7)
--
-- A greeter's pending invitations, in the order invite_list answers them:
-- the partial index of 0001 on (greeter) becomes (greeter, created_on, _id),
-- so the list is an ordered index scan and counting them (the cap of 1000
-- per greeter) reads only that index.
DROP INDEX invitation_greeter;
CREATE INDEX invitation_pending ON invitation (greeter, created_on, _id)
    WHERE deleted_on IS NULL;

-- The token-reuse rule (parsec-2.12-behaviour.md 4.4) as constraints: one
-- pending USER invitation per greeter and email, one pending DEVICE
-- invitation per greeter.  invite_new looks them up through these indexes
-- under a lock on the greeter, so the constraints only catch a bug.
CREATE UNIQUE INDEX invitation_pending_user ON invitation (greeter, claimer_email)
    WHERE deleted_on IS NULL AND type = 'USER';
CREATE UNIQUE INDEX invitation_pending_device ON invitation (greeter)
    WHERE deleted_on IS NULL AND type = 'DEVICE';

-- The greeter's "fetched" flag of 0001 has no use: only the claimer's is
-- read (the greeter's state-4 answer waits until the claimer has had its
-- own, docs/protocol.md 7.2).
ALTER TABLE invitation DROP COLUMN conduit_greeter_fetched;
COMMENT ON COLUMN invitation.conduit_claimer_fetched IS
    'the claimer has had its answer of the state-4 round just completed (or started the next)';
