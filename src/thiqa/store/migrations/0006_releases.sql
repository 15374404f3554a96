-- Release requests and grants (the third-party rule's consent): a receiver asks the
-- originator to let a version it received go into another collection; the originator
-- grants (a record signed by the node's Ed25519 key, checked on every write that
-- relies on it) or refuses.

CREATE TABLE releases (
    id             TEXT PRIMARY KEY,
    object_id      TEXT NOT NULL,
    requester      TEXT NOT NULL,             -- org asking (it received the object)
    originator     TEXT NOT NULL,             -- org that must consent
    collection_pk  INTEGER NOT NULL REFERENCES collections(pk),
    reason         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'granted', 'refused')),
    created_us     INTEGER NOT NULL,
    decided_us     INTEGER,
    grant_record   BLOB,                      -- canonical JSON of the grant (granted only)
    signature      TEXT,                      -- base64 Ed25519 over grant_record
    signer         TEXT                       -- base64 public key that signed it
);
CREATE INDEX releases_originator ON releases (originator, state);
CREATE INDEX releases_requester ON releases (requester, collection_pk, state)
