-- Node core: organisations, API keys, collections, immutable object versions.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,            -- STIX identity id of the organisation
    name        TEXT NOT NULL UNIQUE,
    created_us  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,            -- public key id (the part before the secret)
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'reader')),
    label       TEXT NOT NULL DEFAULT '',
    secret_hash BLOB NOT NULL UNIQUE,        -- SHA-256 of the whole key; the key is never stored
    created_us  INTEGER NOT NULL,
    revoked_us  INTEGER
);

CREATE TABLE collections (
    pk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    alias       TEXT UNIQUE,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_us  INTEGER NOT NULL
);

CREATE TABLE grants (
    collection_pk INTEGER NOT NULL REFERENCES collections(pk),
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    can_read      INTEGER NOT NULL,
    can_write     INTEGER NOT NULL,
    PRIMARY KEY (collection_pk, org_id)
);

-- One row per distinct object version body: stored once, however many collections hold
-- it. Immutability ((id, version) never changes) is enforced per collection, not here:
-- comparing with a collection the writer cannot see would reveal what that collection
-- holds, so two collections may hold different bodies under one (id, version).
CREATE TABLE versions (
    vid          INTEGER PRIMARY KEY,
    object_id    TEXT NOT NULL,
    vkey         TEXT NOT NULL,
    digest       BLOB NOT NULL,              -- BLAKE2b-128 of body
    version      TEXT NOT NULL,
    type         TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    body         BLOB NOT NULL,
    UNIQUE (object_id, vkey, digest)
);

-- One row per version added to a collection. seq is the node-wide sequence (never
-- reused: AUTOINCREMENT); date_added is strictly increasing with it.
CREATE TABLE entries (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL REFERENCES collections(pk),
    vid           INTEGER NOT NULL REFERENCES versions(vid),
    object_id     TEXT NOT NULL,
    type          TEXT NOT NULL,
    vkey          TEXT NOT NULL,
    spec_version  TEXT NOT NULL,
    date_added    INTEGER NOT NULL,
    is_first      INTEGER NOT NULL,          -- earliest version of the object in the collection
    is_last       INTEGER NOT NULL           -- latest version of the object in the collection
);
CREATE INDEX entries_page ON entries (collection_pk, date_added);
CREATE INDEX entries_type ON entries (collection_pk, type, date_added);
CREATE INDEX entries_object ON entries (object_id, collection_pk, vkey);

-- The last date_added handed out, so that every writing process continues after it.
CREATE TABLE clock (
    one        INTEGER PRIMARY KEY CHECK (one = 1),
    last_added INTEGER NOT NULL
);
INSERT INTO clock VALUES (1, 0);

CREATE TABLE statuses (
    id            TEXT PRIMARY KEY,
    collection_pk INTEGER NOT NULL,
    org_id        TEXT NOT NULL,
    request_us    INTEGER NOT NULL,
    total         INTEGER NOT NULL,
    details       BLOB NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
