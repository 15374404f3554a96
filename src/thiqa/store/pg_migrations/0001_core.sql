-- Node core on PostgreSQL: organisations, API keys, collections, immutable object
-- versions. The same tables and meaning as migrations/0001_core.sql; times are
-- microseconds since the epoch (BIGINT), flags are BOOLEAN, bodies BYTEA.
--
-- Foreign keys are declared on the administrative tables only. On versions and
-- entries they would add a per-row check to every COPY of a bulk load for nothing the
-- store's single writer (an advisory lock, see postgres.py) does not already keep true;
-- SQLite declares them there but does not enforce them (foreign_keys is off).

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,            -- STIX identity id of the organisation
    name        TEXT NOT NULL UNIQUE,
    created_us  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,            -- public key id (the part before the secret)
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'reader')),
    label       TEXT NOT NULL DEFAULT '',
    secret_hash BYTEA NOT NULL UNIQUE,       -- SHA-256 of the whole key; the key is never stored
    created_us  BIGINT NOT NULL,
    revoked_us  BIGINT
);

CREATE TABLE collections (
    pk          BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    alias       TEXT UNIQUE,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_us  BIGINT NOT NULL
);

CREATE TABLE grants (
    collection_pk BIGINT NOT NULL REFERENCES collections(pk),
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    can_read      BOOLEAN NOT NULL,
    can_write     BOOLEAN NOT NULL,
    PRIMARY KEY (collection_pk, org_id)
);

-- One row per distinct object version body (see migrations/0001_core.sql).
CREATE TABLE versions (
    vid          BIGSERIAL PRIMARY KEY,
    object_id    TEXT NOT NULL,
    vkey         TEXT NOT NULL,
    digest       BYTEA NOT NULL,             -- BLAKE2b-128 of body
    version      TEXT NOT NULL,
    type         TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    body         BYTEA NOT NULL,
    UNIQUE (object_id, vkey, digest)
);

-- One row per version added to a collection. seq is the node-wide sequence (never
-- reused: a sequence); date_added is strictly increasing with it.
CREATE TABLE entries (
    seq           BIGSERIAL PRIMARY KEY,
    collection_pk BIGINT NOT NULL,
    vid           BIGINT NOT NULL,
    object_id     TEXT NOT NULL,
    type          TEXT NOT NULL,
    vkey          TEXT NOT NULL,
    spec_version  TEXT NOT NULL,
    date_added    BIGINT NOT NULL,
    is_first      BOOLEAN NOT NULL,          -- earliest version of the object in the collection
    is_last       BOOLEAN NOT NULL           -- latest version of the object in the collection
);
CREATE INDEX entries_page ON entries (collection_pk, date_added);
CREATE INDEX entries_type ON entries (collection_pk, type, date_added);
CREATE INDEX entries_object ON entries (object_id, collection_pk, vkey);

-- The last date_added handed out, so that every writing process continues after it.
CREATE TABLE clock (
    one        INTEGER PRIMARY KEY CHECK (one = 1),
    last_added BIGINT NOT NULL
);
INSERT INTO clock VALUES (1, 0);

CREATE TABLE statuses (
    id            TEXT PRIMARY KEY,
    collection_pk BIGINT NOT NULL,
    org_id        TEXT NOT NULL,
    request_us    BIGINT NOT NULL,
    total         INTEGER NOT NULL,
    details       BYTEA NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
