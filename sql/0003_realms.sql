-- sql/0003_realms.sql - what the realm, vlob and message commands need
--
-- The tables of realms, vlobs and messages exist since 0001; this migration
-- adds what their commands (fcgi-api/cmd/realm*.c, vlob*.c, message*.c)
-- rely on for bounded cost and for their concurrency rules.
--
-- Counters, kept by the commands in the transaction that writes, so that no
-- statistic scans the vlob versions on each call:
--   realm.vlobs_size       bytes of every version written by vlob_create and
--                          vlob_update (realm_stats's vlobs_size);
--   realm.metadata_size    bytes of every stored version, the re-encrypted
--                          copies of a reencryption maintenance included
--                          (organization_stats's metadata_size: the sum over
--                          the organization's realms);
--   realm.versions         versions written by vlob_create and vlob_update:
--                          every one of them is stored at the revision before
--                          a reencryption, so this is the `total` its batches
--                          answer;
--   vlob_encryption_revision.atoms
--                          versions stored at that revision when this
--                          migration ran, then the copies a reencryption
--                          saves there: its batches' `done` (writes wait while
--                          it runs), and it may finish when done = total.
-- (Writes update the realm's row and no other counter: one row per write.)
-- They start from the rows already stored, so the migration is exact on a
-- database that holds vlobs.
--
-- Order: a user's role certificates in a realm have strictly increasing
-- timestamps (realm_update_roles refuses anything else under the realm's
-- lock); the unique index makes the insertion order and the timestamp order
-- one and the same, so "the current role" (the latest row) is never
-- ambiguous, whatever reads it (the commands, notifyd's identify query).
--
-- Messages: a recipient's messages are numbered 1, 2, ... with no gap; the
-- number comes from message_recipient.last_index, incremented by the insert
-- itself (one row per recipient: two commands delivering to one user at
-- once are ordered by that row's lock, never by a count that both read).
--
-- Windows of the administration statistics (`at`/`from`): the versions
-- stored in a window are found through vlob_atom (created_on), so a window
-- costs what it holds, not the whole table (organization_db.c).

ALTER TABLE realm
    ADD COLUMN vlobs_size BIGINT NOT NULL DEFAULT 0 CHECK (vlobs_size >= 0),
    ADD COLUMN metadata_size BIGINT NOT NULL DEFAULT 0 CHECK (metadata_size >= 0),
    ADD COLUMN versions BIGINT NOT NULL DEFAULT 0 CHECK (versions >= 0);

UPDATE realm r SET
    vlobs_size = COALESCE((SELECT SUM(a.size) FROM realm_vlob_update u
                           JOIN vlob_atom a ON a._id = u.vlob_atom
                           WHERE u.realm = r._id), 0),
    metadata_size = COALESCE((SELECT SUM(a.size) FROM vlob_atom a
                              JOIN vlob v ON v._id = a.vlob
                              WHERE v.realm = r._id), 0),
    versions = (SELECT count(*) FROM realm_vlob_update u WHERE u.realm = r._id);

ALTER TABLE vlob_encryption_revision
    ADD COLUMN atoms BIGINT NOT NULL DEFAULT 0 CHECK (atoms >= 0);

UPDATE vlob_encryption_revision e SET
    atoms = (SELECT count(*) FROM vlob_atom a WHERE a.vlob_encryption_revision = e._id);

CREATE UNIQUE INDEX realm_user_role_order ON realm_user_role (realm, user_, certified_on);

CREATE INDEX vlob_atom_created_on ON vlob_atom (created_on);

CREATE TABLE message_recipient (
    recipient INTEGER PRIMARY KEY REFERENCES user_ (_id),
    last_index INTEGER NOT NULL CHECK (last_index >= 1)
);

INSERT INTO message_recipient (recipient, last_index)
    SELECT recipient, MAX(index) FROM message GROUP BY recipient;
