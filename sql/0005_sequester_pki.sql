-- sql/0005_sequester_pki.sql - what the sequester services and PKI
-- enrollment need of the tables of 0001 (fcgi-api/cmd/pki_db.c,
-- cli/backend_sequester*.c, docs/sequester.md; parsec-2.12-behaviour.md 15
-- and 16)
--
-- Sequester services of Parsec 2.12.1 have no type: every service is a
-- passive recipient whose blobs the server keeps (behaviour 15.9; types and
-- webhooks came with 2.13).  The columns 0001 reserved for them go, so no
-- reply or export can leak a 2.13 notion.
ALTER TABLE sequester_service DROP COLUMN webhook_url;
ALTER TABLE sequester_service DROP COLUMN service_type;

-- export_realm reads one service's blobs of one realm's versions; the
-- unique (vlob_atom, service) index of 0001 leads with the atom.
CREATE INDEX sequester_service_vlob_atom_service ON sequester_service_vlob_atom (service, vlob_atom);

-- The state and its dates agree: each final state has its date, SUBMITTED
-- none, and an ACCEPTED enrollment keeps the accepter's answer.
ALTER TABLE pki_enrollment ADD CONSTRAINT pki_enrollment_state_dates CHECK (
    (info_accepted_on IS NOT NULL) = (enrollment_state = 'ACCEPTED')
    AND (info_rejected_on IS NOT NULL) = (enrollment_state = 'REJECTED')
    AND (info_cancelled_on IS NOT NULL) = (enrollment_state = 'CANCELLED')
    AND (enrollment_state <> 'ACCEPTED' OR (
        info_accepted_accepter_der_x509_certificate IS NOT NULL
        AND info_accepted_payload_signature IS NOT NULL
        AND info_accepted_payload IS NOT NULL
        AND accepter IS NOT NULL AND submitter_accepted_device IS NOT NULL)));

-- pki_enrollment_list: the organization's pending enrollments in
-- submission order, an ordered scan of this partial index.
CREATE INDEX pki_enrollment_pending ON pki_enrollment (organization, submitted_on, _id)
    WHERE enrollment_state = 'SUBMITTED';
