-- Peering (thiqa.federation.peers): the same tables as migrations/0011_peers.sql, so the
-- schemas match. Peering does not run on PostgreSQL yet (docs/postgresql.md): these
-- tables stay empty until it does.

CREATE TABLE peers (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    org_id          TEXT NOT NULL,
    api_key         TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,
    tls_fingerprint TEXT,
    mode            TEXT NOT NULL CHECK (mode IN ('pull', 'push', 'both')),
    created_us      BIGINT NOT NULL
);

CREATE TABLE peer_maps (
    peer_id       TEXT NOT NULL,
    collection_pk BIGINT NOT NULL,
    remote        TEXT NOT NULL,
    PRIMARY KEY (peer_id, collection_pk)
);

CREATE TABLE peer_links (
    peer_id         TEXT NOT NULL,
    collection_pk   BIGINT NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('pull', 'push')),
    remote          TEXT NOT NULL,
    cursor          BIGINT,
    catchup_head    BIGINT,
    catchup_after   BIGINT,
    transferred     BIGINT NOT NULL DEFAULT 0,
    rejected        BIGINT NOT NULL DEFAULT 0,
    withdrawn       BIGINT NOT NULL DEFAULT 0,
    last_success_us BIGINT,
    synced_us       BIGINT,
    last_error      TEXT,
    last_error_us   BIGINT,
    failures        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (peer_id, collection_pk, direction)
);
