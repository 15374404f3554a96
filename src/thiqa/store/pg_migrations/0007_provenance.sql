-- Signing, provenance and trust (thiqa.federation, docs/federation.md): the same tables
-- and meaning as migrations/0007_provenance.sql.

-- One row per signed write: the Merkle root of its versions' leaves, signed once by the
-- node key; the leaves (32 bytes each, in write order) give any version's audit path.
CREATE TABLE signing_batches (
    pk         BIGSERIAL PRIMARY KEY,
    node_id    TEXT NOT NULL,
    org_id     TEXT NOT NULL,             -- the originator the batch signs for
    key        TEXT NOT NULL,             -- fingerprint of the signing key
    signed_us  BIGINT NOT NULL,
    root       BYTEA NOT NULL,
    signature  TEXT NOT NULL,             -- base64 Ed25519 over the canonical root record
    leaves     BYTEA NOT NULL
);

-- Per version body: signed here (batch_pk, leaf) or received (the provenance extension
-- as it arrived from a peer, verified). Keyed by versions.vid; a version removed from
-- the node takes its row with it (trigger below), as on SQLite.
CREATE TABLE provenance (
    vid       BIGINT PRIMARY KEY,
    batch_pk  BIGINT REFERENCES signing_batches(pk),
    leaf      INTEGER,
    received  BYTEA
);

CREATE FUNCTION provenance_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM provenance WHERE vid = OLD.vid;
    RETURN OLD;
END $$;
CREATE TRIGGER provenance_gone AFTER DELETE ON versions
    FOR EACH ROW EXECUTE FUNCTION provenance_gone();

-- Partner keys pinned by the operator (the trust store).
CREATE TABLE trusted_keys (
    fingerprint     TEXT PRIMARY KEY,
    public_key      TEXT NOT NULL,
    node_id         TEXT NOT NULL,
    orgs            TEXT NOT NULL,         -- JSON list of identity ids, the partner's first
    name            TEXT NOT NULL,
    pinned_us       BIGINT NOT NULL,
    valid_from_us   BIGINT,
    valid_until_us  BIGINT,                -- set when the key was rotated away
    revoked_us      BIGINT,
    replaced_by     TEXT,                  -- fingerprint of the key it was rotated to
    tls_fingerprint TEXT
);
CREATE INDEX trusted_keys_node ON trusted_keys (node_id);

-- This node's own keys: the current one and those it rotated away from, with the
-- rotation statement partners import.
CREATE TABLE node_keys (
    fingerprint  TEXT PRIMARY KEY,
    public_key   TEXT NOT NULL,
    created_us   BIGINT NOT NULL,
    retired_us   BIGINT,
    rotation     BYTEA                     -- JSON statement retiring it (signed by it)
);
