-- Peering (thiqa.federation.peers, docs/federation.md "Peering").

-- A partner node this node exchanges with. id is the partner's node id (the identity
-- document pinned in trusted_keys); api_key is the credential THIS node presents at the
-- partner (minted there for this node's organisation), so it is kept as given.
CREATE TABLE peers (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,           -- the partner's base URL (scheme://host:port)
    org_id          TEXT NOT NULL,           -- the partner's organisation (identity id)
    api_key         TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,           -- its Ed25519 key, as pinned
    tls_fingerprint TEXT,                    -- its certificate, pinned for mutual TLS
    mode            TEXT NOT NULL CHECK (mode IN ('pull', 'push', 'both')),
    created_us      INTEGER NOT NULL
);

-- Explicit collection mappings (thiqa peer add --collection LOCAL=REMOTE). A peer
-- without any maps every community/agreement collection both organisations are members
-- of to the collection of the same alias on the partner.
CREATE TABLE peer_maps (
    peer_id       TEXT NOT NULL,
    collection_pk INTEGER NOT NULL,
    remote        TEXT NOT NULL,             -- id or alias on the partner
    PRIMARY KEY (peer_id, collection_pk)
);

-- The durable position and health of each link (peer, local collection, direction).
-- pull: cursor is the last seq of the partner's event log whose batch is stored here,
--       catchup_head/catchup_after are set while the TAXII catch-up runs.
-- push: cursor is the last seq of this node's log delivered to the partner.
CREATE TABLE peer_links (
    peer_id         TEXT NOT NULL,
    collection_pk   INTEGER NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('pull', 'push')),
    remote          TEXT NOT NULL,
    cursor          INTEGER,
    catchup_head    INTEGER,
    catchup_after   INTEGER,
    transferred     INTEGER NOT NULL DEFAULT 0,  -- versions stored (pull) / sent (push)
    rejected        INTEGER NOT NULL DEFAULT 0,
    withdrawn       INTEGER NOT NULL DEFAULT 0,  -- versions removed by tombstones
    last_success_us INTEGER,
    synced_us       INTEGER,                     -- last time the link had nothing pending
    last_error      TEXT,
    last_error_us   INTEGER,
    failures        INTEGER NOT NULL DEFAULT 0,  -- consecutive failures
    PRIMARY KEY (peer_id, collection_pk, direction)
);
