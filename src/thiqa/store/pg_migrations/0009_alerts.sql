-- Alerts, retained observations (retro-hunt) and sightings by indicator (scoring): the
-- tables and meaning of migrations/0009_alerts.sql, written by correlation's own
-- connections (thiqa/correlate/tables.py).

CREATE TABLE alerts (
    pk          BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    org_id      TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('match', 'retro-hunt', 'cross-org')),
    dedup       BYTEA NOT NULL,              -- UTF-8: NUL separators, which TEXT cannot hold
    created     BIGINT NOT NULL,
    value       TEXT NOT NULL,
    family      TEXT NOT NULL,
    normalised  TEXT NOT NULL,
    score       DOUBLE PRECISION,
    body        TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'acknowledged')),
    acked_by    TEXT,
    acked_at    BIGINT,
    UNIQUE (org_id, dedup)
);
CREATE INDEX alerts_org ON alerts (org_id, state, pk);

CREATE TABLE observations (
    org_id      TEXT NOT NULL,
    key         BIGINT NOT NULL,
    family      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (key, org_id, value)
);
CREATE INDEX observations_seen ON observations (last_seen);

CREATE TABLE sightings_of (
    object_id   TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    PRIMARY KEY (object_id, seq)
);
CREATE INDEX sightings_of_seq ON sightings_of (seq);

CREATE TABLE hunt_state (
    one         INTEGER PRIMARY KEY CHECK (one = 1),
    hunted_seq  BIGINT NOT NULL
);
INSERT INTO hunt_state SELECT 1, indexed_seq FROM correlate_state;

-- A deleted entry leaves sightings_of in the same transaction, as it leaves the index.
CREATE FUNCTION sightings_unindex() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sightings_of WHERE seq = OLD.seq;
    RETURN OLD;
END $$;
CREATE TRIGGER sightings_unindex AFTER DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION sightings_unindex();
