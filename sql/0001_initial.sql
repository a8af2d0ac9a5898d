-- sql/0001_initial.sql - the schema for the whole Parsec 2.12 protocol
--
-- Conventions:
-- * every table has a surrogate key `_id`; business identifiers (organization
--   id, user id, device id, realm/vlob/block UUIDs, invitation tokens) are
--   unique per organization only: two organizations may hold the same ids;
-- * certificates and blobs are stored exactly as received (BYTEA) and given
--   back byte for byte; the server never holds a private key;
-- * timestamps are TIMESTAMPTZ (microsecond precision, like the protocol);
-- * UUIDs use the uuid type; enum-like columns are TEXT with a CHECK (a
--   new value is then a one-line migration, not an ALTER TYPE);
-- * length limits mirror the protocol's identifier formats (Parsec 2.12's
--   datamodel.sql); handlers check them first, so a CHECK or VARCHAR overflow
--   here means a handler bug, never a client's fault;
-- * the server holds no process state: what Parsec 2.12 kept in a process's
--   memory (a claimer's readiness, the invitation conduit) is a column here.
-- Applied in one transaction by `parsec backend migrate` and recorded in
-- schema_migrations (created by the migrate tool itself, not here).  A
-- migration never contains BEGIN/COMMIT.
--
-- Events have no table: they travel by NOTIFY (common/event.h) at commit,
-- and are lost for a listener that is not connected, as in Parsec.  What a
-- client needs to resynchronise after missing events is durable state below:
-- realm.checkpoint with realm_vlob_update, message.index, invitation status
-- columns, the realm_user_role history.

CREATE TABLE organization (
    _id SERIAL PRIMARY KEY,
    organization_id VARCHAR(32) NOT NULL UNIQUE,
    -- hex, 64 chars from RAND_bytes; '' for a spontaneous bootstrap
    bootstrap_token TEXT NOT NULL,
    -- NULL until bootstrapped (32-byte Ed25519 public key)
    root_verify_key BYTEA CHECK (length(root_verify_key) = 32),
    is_expired BOOLEAN NOT NULL DEFAULT FALSE,
    -- NULL: unlimited
    active_users_limit INTEGER CHECK (active_users_limit >= 0),
    user_profile_outsider_allowed BOOLEAN NOT NULL DEFAULT TRUE,
    -- TRUE when created through the administration API (a reservation that a
    -- spontaneous bootstrap must never hijack)
    created_by_administration BOOLEAN NOT NULL DEFAULT TRUE,
    created_on TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    bootstrapped_on TIMESTAMPTZ,
    -- sequester (signed by the root key), NULL when not sequestered
    sequester_authority_certificate BYTEA,
    sequester_authority_verify_key_der BYTEA,
    CHECK ((root_verify_key IS NULL) = (bootstrapped_on IS NULL)),
    CHECK ((sequester_authority_certificate IS NULL) = (sequester_authority_verify_key_der IS NULL))
);

CREATE TABLE sequester_service (
    _id SERIAL PRIMARY KEY,
    organization INTEGER NOT NULL REFERENCES organization (_id),
    service_id UUID NOT NULL,
    service_label VARCHAR(254) NOT NULL,
    service_certificate BYTEA NOT NULL,
    created_on TIMESTAMPTZ NOT NULL,
    disabled_on TIMESTAMPTZ,
    webhook_url TEXT,
    service_type TEXT NOT NULL DEFAULT 'STORAGE' CHECK (service_type IN ('STORAGE', 'WEBHOOK')),
    UNIQUE (organization, service_id)
);

CREATE TABLE user_ (
    _id SERIAL PRIMARY KEY,
    organization INTEGER NOT NULL REFERENCES organization (_id),
    user_id VARCHAR(32) NOT NULL,
    profile TEXT NOT NULL CHECK (profile IN ('ADMIN', 'STANDARD', 'OUTSIDER')),
    -- human handle, NULL for non-human users
    human_email VARCHAR(254),
    human_label VARCHAR(254),
    user_certificate BYTEA NOT NULL,
    redacted_user_certificate BYTEA NOT NULL,
    -- NULL: certified by the root key
    user_certifier INTEGER,
    created_on TIMESTAMPTZ NOT NULL,
    revoked_on TIMESTAMPTZ,
    revoked_user_certificate BYTEA,
    revoked_user_certifier INTEGER,
    UNIQUE (organization, user_id),
    CHECK ((human_email IS NULL) = (human_label IS NULL)),
    CHECK ((revoked_on IS NULL) = (revoked_user_certificate IS NULL))
);
-- An email is held by at most one non-revoked user of an organization.  A
-- safety net only: Parsec also counts a user whose revoked_on is still in the
-- future as holding it, which the user_create query checks itself.
CREATE UNIQUE INDEX user_human_email_active ON user_ (organization, human_email)
    WHERE human_email IS NOT NULL AND revoked_on IS NULL;
CREATE INDEX user_organization_label ON user_ (organization, lower(human_label));

CREATE TABLE device (
    _id SERIAL PRIMARY KEY,
    organization INTEGER NOT NULL REFERENCES organization (_id),
    user_ INTEGER NOT NULL REFERENCES user_ (_id),
    -- "user_id@device_name"
    device_id VARCHAR(65) NOT NULL,
    device_label VARCHAR(255),
    -- 32-byte Ed25519 public key taken from the device certificate
    verify_key BYTEA NOT NULL CHECK (length(verify_key) = 32),
    device_certificate BYTEA NOT NULL,
    redacted_device_certificate BYTEA NOT NULL,
    -- NULL: certified by the root key
    device_certifier INTEGER REFERENCES device (_id),
    created_on TIMESTAMPTZ NOT NULL,
    UNIQUE (organization, device_id),
    CHECK (device_label <> '')
);
CREATE INDEX device_user ON device (user_);

ALTER TABLE user_
    ADD FOREIGN KEY (user_certifier) REFERENCES device (_id),
    ADD FOREIGN KEY (revoked_user_certifier) REFERENCES device (_id);

-- Invitations, their greeting conduit and the claimer's readiness live here,
-- not in a process, so any worker can serve any step.
CREATE TABLE invitation (
    _id SERIAL PRIMARY KEY,
    organization INTEGER NOT NULL REFERENCES organization (_id),
    token UUID NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('USER', 'DEVICE')),
    greeter INTEGER NOT NULL REFERENCES user_ (_id),
    -- any string in Parsec 2.12 (not validated as an email), bounded as there
    claimer_email VARCHAR(255),
    created_on TIMESTAMPTZ NOT NULL,
    deleted_on TIMESTAMPTZ,
    deleted_reason TEXT CHECK (deleted_reason IN ('FINISHED', 'CANCELLED', 'ROTTEN')),
    -- READY once the claimer has shown up, IDLE otherwise
    claimer_ready_on TIMESTAMPTZ,
    conduit_state TEXT NOT NULL DEFAULT '1_WAIT_PEERS' CHECK (conduit_state IN (
        '1_WAIT_PEERS', '2_1_CLAIMER_HASHED_NONCE', '2_2_GREETER_NONCE', '2_3_CLAIMER_NONCE',
        '3_1_CLAIMER_TRUST', '3_2_GREETER_TRUST', '4_COMMUNICATE')),
    -- what each side said in the current state (NULL: not yet)
    conduit_greeter_payload BYTEA,
    conduit_claimer_payload BYTEA,
    -- what each side said in the state just completed, kept until the peer
    -- has read it (a non-blocking exchange: the side that spoke first fetches
    -- its peer's payload on a later call)
    conduit_prev_state TEXT,
    conduit_prev_greeter_payload BYTEA,
    conduit_prev_claimer_payload BYTEA,
    conduit_greeter_fetched BOOLEAN NOT NULL DEFAULT TRUE,
    conduit_claimer_fetched BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (organization, token),
    CHECK ((type = 'USER') = (claimer_email IS NOT NULL)),
    CHECK ((deleted_on IS NULL) = (deleted_reason IS NULL))
);
CREATE INDEX invitation_greeter ON invitation (greeter) WHERE deleted_on IS NULL;

CREATE TABLE realm (
    _id SERIAL PRIMARY KEY,
    organization INTEGER NOT NULL REFERENCES organization (_id),
    realm_id UUID NOT NULL,
    encryption_revision INTEGER NOT NULL DEFAULT 1,
    maintenance_type TEXT CHECK (maintenance_type IN ('REENCRYPTION', 'GARBAGE_COLLECTION')),
    maintenance_started_on TIMESTAMPTZ,
    maintenance_started_by INTEGER REFERENCES device (_id),
    -- incremented by every vlob create/update in the realm
    checkpoint BIGINT NOT NULL DEFAULT 0 CHECK (checkpoint >= 0),
    created_on TIMESTAMPTZ NOT NULL,
    UNIQUE (organization, realm_id),
    CHECK (encryption_revision >= 1),
    CHECK ((maintenance_type IS NULL) = (maintenance_started_on IS NULL))
);

-- Every role certificate ever stored, in order; the current role of a user
-- is the latest row for (realm, user_). role NULL: removed.
CREATE TABLE realm_user_role (
    _id SERIAL PRIMARY KEY,
    realm INTEGER NOT NULL REFERENCES realm (_id),
    user_ INTEGER NOT NULL REFERENCES user_ (_id),
    role TEXT CHECK (role IN ('OWNER', 'MANAGER', 'CONTRIBUTOR', 'READER')),
    certificate BYTEA NOT NULL,
    certified_by INTEGER NOT NULL REFERENCES device (_id),
    certified_on TIMESTAMPTZ NOT NULL
);
CREATE INDEX realm_user_role_lookup ON realm_user_role (realm, user_, _id);
CREATE INDEX realm_user_role_by_user ON realm_user_role (user_);

-- Causality bookkeeping for require_greater_timestamp.
CREATE TABLE realm_user_change (
    realm INTEGER NOT NULL REFERENCES realm (_id),
    user_ INTEGER NOT NULL REFERENCES user_ (_id),
    last_role_change TIMESTAMPTZ,
    last_vlob_update TIMESTAMPTZ,
    PRIMARY KEY (realm, user_)
);

CREATE TABLE vlob_encryption_revision (
    _id SERIAL PRIMARY KEY,
    realm INTEGER NOT NULL REFERENCES realm (_id),
    encryption_revision INTEGER NOT NULL,
    UNIQUE (realm, encryption_revision)
);

-- A vlob id belongs to one realm and is unique per organization.
CREATE TABLE vlob (
    _id SERIAL PRIMARY KEY,
    organization INTEGER NOT NULL REFERENCES organization (_id),
    realm INTEGER NOT NULL REFERENCES realm (_id),
    vlob_id UUID NOT NULL,
    UNIQUE (organization, vlob_id)
);

CREATE TABLE vlob_atom (
    _id SERIAL PRIMARY KEY,
    vlob INTEGER NOT NULL REFERENCES vlob (_id),
    vlob_encryption_revision INTEGER NOT NULL REFERENCES vlob_encryption_revision (_id),
    version INTEGER NOT NULL CHECK (version >= 1),
    blob BYTEA NOT NULL,
    size INTEGER NOT NULL,
    author INTEGER NOT NULL REFERENCES device (_id),
    created_on TIMESTAMPTZ NOT NULL,
    UNIQUE (vlob, vlob_encryption_revision, version)
);
CREATE INDEX vlob_atom_revision ON vlob_atom (vlob_encryption_revision);

-- The copy of a vlob version encrypted for each sequester service of a
-- sequestered organization (kept as received, one row per service).
CREATE TABLE sequester_service_vlob_atom (
    _id SERIAL PRIMARY KEY,
    vlob_atom INTEGER NOT NULL REFERENCES vlob_atom (_id),
    service INTEGER NOT NULL REFERENCES sequester_service (_id),
    blob BYTEA NOT NULL,
    UNIQUE (vlob_atom, service)
);

CREATE TABLE realm_vlob_update (
    _id SERIAL PRIMARY KEY,
    realm INTEGER NOT NULL REFERENCES realm (_id),
    -- the realm checkpoint this change produced (1, 2, ...)
    index BIGINT NOT NULL CHECK (index >= 1),
    vlob_atom INTEGER NOT NULL REFERENCES vlob_atom (_id),
    UNIQUE (realm, index)
);

-- Blocks' metadata; the data lives in the blockstore.
CREATE TABLE block (
    _id SERIAL PRIMARY KEY,
    organization INTEGER NOT NULL REFERENCES organization (_id),
    block_id UUID NOT NULL,
    realm INTEGER NOT NULL REFERENCES realm (_id),
    author INTEGER NOT NULL REFERENCES device (_id),
    size INTEGER NOT NULL CHECK (size >= 0),
    created_on TIMESTAMPTZ NOT NULL,
    deleted_on TIMESTAMPTZ,
    UNIQUE (organization, block_id)
);
CREATE INDEX block_realm ON block (realm);

-- Block data for the POSTGRESQL (and MOCKED) blockstore.  `node` tells the
-- RAID nodes apart when several of them are POSTGRESQL in one cluster.  No
-- reference to organization or block: a blockstore is a separate store that
-- only knows (organization id, block id), as in Parsec.
CREATE TABLE block_data (
    _id SERIAL PRIMARY KEY,
    node SMALLINT NOT NULL DEFAULT 0,
    organization_id VARCHAR(32) NOT NULL,
    block_id UUID NOT NULL,
    data BYTEA NOT NULL,
    UNIQUE (node, organization_id, block_id)
);

CREATE TABLE message (
    _id SERIAL PRIMARY KEY,
    organization INTEGER NOT NULL REFERENCES organization (_id),
    recipient INTEGER NOT NULL REFERENCES user_ (_id),
    -- 1-based, per recipient
    index INTEGER NOT NULL CHECK (index >= 1),
    sender INTEGER NOT NULL REFERENCES device (_id),
    created_on TIMESTAMPTZ NOT NULL,
    body BYTEA NOT NULL,
    UNIQUE (recipient, index)
);

CREATE TABLE pki_enrollment (
    _id SERIAL PRIMARY KEY,
    organization INTEGER NOT NULL REFERENCES organization (_id),
    enrollment_id UUID NOT NULL,
    submitter_der_x509_certificate BYTEA NOT NULL,
    -- SHA-1 of the DER certificate: finds earlier submissions of it
    submitter_der_x509_certificate_sha1 BYTEA NOT NULL CHECK (length(submitter_der_x509_certificate_sha1) = 20),
    submit_payload_signature BYTEA NOT NULL,
    submit_payload BYTEA NOT NULL,
    submitted_on TIMESTAMPTZ NOT NULL,
    accepter INTEGER REFERENCES device (_id),
    submitter_accepted_device INTEGER REFERENCES device (_id),
    enrollment_state TEXT NOT NULL DEFAULT 'SUBMITTED' CHECK (enrollment_state IN (
        'SUBMITTED', 'ACCEPTED', 'REJECTED', 'CANCELLED')),
    -- set on ACCEPTED, returned by pki_enrollment_info
    info_accepted_on TIMESTAMPTZ,
    info_accepted_accepter_der_x509_certificate BYTEA,
    info_accepted_payload_signature BYTEA,
    info_accepted_payload BYTEA,
    info_rejected_on TIMESTAMPTZ,
    info_cancelled_on TIMESTAMPTZ,
    UNIQUE (organization, enrollment_id)
);
CREATE INDEX pki_enrollment_certificate_sha1 ON pki_enrollment (organization,
    submitter_der_x509_certificate_sha1);
