-- sql/0002_bigint_ids.sql - 64-bit ids for the tables that grow with use
--
-- Vlob versions, blocks and messages are written for as long as an
-- organization lives: a 32-bit serial runs out at 2^31 rows, which a busy
-- server reaches.  Their surrogate keys, the columns referencing them and
-- their sequences become 64-bit.  Tables bounded by people (organizations,
-- users, devices, invitations, roles) keep 32-bit keys; the server reads every
-- id as a 64-bit integer anyway (common/db.h), so either width is read the
-- same way.
--
-- ALTER COLUMN ... TYPE rewrites a table under an exclusive lock: on a large
-- deployment, run `parsec backend migrate` in a maintenance window.

ALTER TABLE vlob ALTER COLUMN _id TYPE BIGINT;
ALTER SEQUENCE vlob__id_seq AS BIGINT;

ALTER TABLE vlob_atom
    ALTER COLUMN _id TYPE BIGINT,
    ALTER COLUMN vlob TYPE BIGINT;
ALTER SEQUENCE vlob_atom__id_seq AS BIGINT;

ALTER TABLE sequester_service_vlob_atom
    ALTER COLUMN _id TYPE BIGINT,
    ALTER COLUMN vlob_atom TYPE BIGINT;
ALTER SEQUENCE sequester_service_vlob_atom__id_seq AS BIGINT;

ALTER TABLE realm_vlob_update
    ALTER COLUMN _id TYPE BIGINT,
    ALTER COLUMN vlob_atom TYPE BIGINT;
ALTER SEQUENCE realm_vlob_update__id_seq AS BIGINT;

ALTER TABLE block ALTER COLUMN _id TYPE BIGINT;
ALTER SEQUENCE block__id_seq AS BIGINT;

ALTER TABLE block_data ALTER COLUMN _id TYPE BIGINT;
ALTER SEQUENCE block_data__id_seq AS BIGINT;

ALTER TABLE message ALTER COLUMN _id TYPE BIGINT;
ALTER SEQUENCE message__id_seq AS BIGINT;
