-- Release requests and grants (the third-party rule's consent), see
-- migrations/0006_releases.sql.

CREATE TABLE releases (
    id             TEXT PRIMARY KEY,
    object_id      TEXT NOT NULL,
    requester      TEXT NOT NULL,             -- org asking (it received the object)
    originator     TEXT NOT NULL,             -- org that must consent
    collection_pk  BIGINT NOT NULL REFERENCES collections(pk),
    reason         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'granted', 'refused')),
    created_us     BIGINT NOT NULL,
    decided_us     BIGINT,
    grant_record   BYTEA,                     -- canonical JSON of the grant (granted only)
    signature      TEXT,                      -- base64 Ed25519 over grant_record
    signer         TEXT                       -- base64 public key that signed it
);
CREATE INDEX releases_originator ON releases (originator, state);
CREATE INDEX releases_requester ON releases (requester, collection_pk, state);
