-- Signed tombstones: the same table as migrations/0012_tombstones.sql.
--
-- One row per tombstone this node signed (peer = '') when it withdrew a version it
-- originated, or received from a peer and verified (peer = the node that delivered it).
-- body is the tombstone as signed, with the hops it arrived with (canonical JSON);
-- digest (the base64 SHA-256 of the signed record and its signature) keeps one row per
-- tombstone whatever the paths it arrived by. Rows are kept: a relay serves them to its
-- own partners, and a version a tombstone withdrew is refused if it arrives later.
CREATE TABLE tombstones (
    digest     TEXT PRIMARY KEY,
    object_id  TEXT NOT NULL,
    vkey       TEXT NOT NULL,             -- the version withdrawn (timestamps.version_key)
    what       TEXT NOT NULL CHECK (what IN ('delete', 'retract')),
    originator TEXT NOT NULL,             -- the organisation that signed (identity id)
    node_id    TEXT NOT NULL,             -- the originator's node
    time_us    BIGINT NOT NULL,           -- when it was signed
    peer       TEXT NOT NULL,             -- '' signed here, else the delivering node
    stored_us  BIGINT NOT NULL,
    body       BYTEA NOT NULL
);
CREATE INDEX tombstones_object ON tombstones (object_id, vkey);
