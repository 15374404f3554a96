-- Alerts, retained observations (retro-hunt) and sightings by indicator (scoring):
-- thiqa.correlate, docs/correlation.md. Like the observable index, these tables are
-- written by correlation's own connections to the store's file.

-- One alert per (organisation, observed value, set of objects matched): ``dedup`` is
-- "family NUL normalised value NUL sorted object ids", so the same value matching the
-- same objects never raises a second alert.
CREATE TABLE alerts (
    pk          INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,        -- a UUID, as the API shows it
    org_id      TEXT NOT NULL,               -- identity id of the organisation it is for
    kind        TEXT NOT NULL CHECK (kind IN ('match', 'retro-hunt', 'cross-org')),
    dedup       TEXT NOT NULL,
    created     INTEGER NOT NULL,            -- µs since the epoch
    value       TEXT NOT NULL,               -- as observed (or as the org's own object says)
    family      TEXT NOT NULL,
    normalised  TEXT NOT NULL,
    score       REAL,                        -- the best score of its matches, 0-100
    body        TEXT NOT NULL,               -- the alert's JSON record (thiqa.correlate.alerts)
    state       TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'acknowledged')),
    acked_by    TEXT,                        -- API key id (or 'cli:<name>') that acknowledged it
    acked_at    INTEGER,
    UNIQUE (org_id, dedup)
);
CREATE INDEX alerts_org ON alerts (org_id, state, pk);

-- Values organisations submitted to matching, kept for ``observation_retention_days``
-- so that indicators indexed later are checked against them (retro-hunt). key is the
-- observable index key (thiqa.correlate.index.key) of a lookup: the value itself, and
-- for a URL also its host, so one join finds every observation a new row mentions.
CREATE TABLE observations (
    org_id      TEXT NOT NULL,
    key         INTEGER NOT NULL,
    family      TEXT NOT NULL,               -- the observed value's family
    kind        TEXT NOT NULL,               -- and kind (thiqa.correlate.detect)
    value       TEXT NOT NULL,               -- normalised observed value
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (key, org_id, value)             -- by key first: the hunter's join
) WITHOUT ROWID;
CREATE INDEX observations_seen ON observations (last_seen);

-- Sightings stored on the node, by the object they sight (scoring counts those the
-- viewer may see). A deleted entry leaves by trigger, as it leaves the index.
CREATE TABLE sightings_of (
    object_id   TEXT NOT NULL,               -- sighting_of_ref
    seq         INTEGER NOT NULL,            -- entries.seq of the sighting
    count       INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,            -- µs: last_seen, else modified
    PRIMARY KEY (object_id, seq)
) WITHOUT ROWID;
CREATE INDEX sightings_of_seq ON sightings_of (seq);

-- The hunter's high-water mark: entries with seq <= hunted_seq have been retro-hunted,
-- correlated across organisations and their sightings counted. It trails indexed_seq.
-- An existing node starts at its indexed mark: what was indexed before alerts existed
-- raises none.
CREATE TABLE hunt_state (
    one         INTEGER PRIMARY KEY CHECK (one = 1),
    hunted_seq  INTEGER NOT NULL
);
INSERT INTO hunt_state SELECT 1, indexed_seq FROM correlate_state;

CREATE TRIGGER sightings_unindex AFTER DELETE ON entries BEGIN DELETE FROM sightings_of WHERE seq = OLD.seq; END
