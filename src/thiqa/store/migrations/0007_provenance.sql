-- Signing, provenance and trust (thiqa.federation, docs/federation.md).

-- One row per signed write: the Merkle root of its versions' leaves, signed once by
-- the node key; leaves are kept (32 bytes each, in write order) to give any version's
-- audit path when it leaves the node.
CREATE TABLE signing_batches (
    pk         INTEGER PRIMARY KEY,
    node_id    TEXT NOT NULL,
    org_id     TEXT NOT NULL,             -- the originator the batch signs for
    key        TEXT NOT NULL,             -- fingerprint of the signing key
    signed_us  INTEGER NOT NULL,
    root       BLOB NOT NULL,
    signature  TEXT NOT NULL,             -- base64 Ed25519 over the canonical root record
    leaves     BLOB NOT NULL
);

-- Per version body: signed here (batch_pk, leaf) or received (the provenance
-- extension as it arrived from a peer, verified). Keyed by versions.vid; a version
-- removed from the node takes its row with it (trigger below), so a reused vid never
-- inherits another version's provenance.
CREATE TABLE provenance (
    vid       INTEGER PRIMARY KEY,
    batch_pk  INTEGER REFERENCES signing_batches(pk),
    leaf      INTEGER,
    received  BLOB
);
-- (One line: the migration runner splits statements at a semicolon ending a line.)
CREATE TRIGGER provenance_gone AFTER DELETE ON versions BEGIN DELETE FROM provenance WHERE vid = old.vid; END;

-- Partner keys pinned by the operator (the trust store).
CREATE TABLE trusted_keys (
    fingerprint     TEXT PRIMARY KEY,
    public_key      TEXT NOT NULL,
    node_id         TEXT NOT NULL,
    orgs            TEXT NOT NULL,         -- JSON list of identity ids, the partner's first
    name            TEXT NOT NULL,
    pinned_us       INTEGER NOT NULL,
    valid_from_us   INTEGER,
    valid_until_us  INTEGER,               -- set when the key was rotated away
    revoked_us      INTEGER,
    replaced_by     TEXT,                  -- fingerprint of the key it was rotated to
    tls_fingerprint TEXT
);
CREATE INDEX trusted_keys_node ON trusted_keys (node_id);

-- This node's own keys: the current one and those it rotated away from, with the
-- rotation statement partners import.
CREATE TABLE node_keys (
    fingerprint  TEXT PRIMARY KEY,
    public_key   TEXT NOT NULL,
    created_us   INTEGER NOT NULL,
    retired_us   INTEGER,
    rotation     BLOB                      -- JSON statement retiring it (signed by it)
)
