-- The audit log: append-only. Kept in its own database file (audit.db beside
-- thiqa.db) so that recording a read never waits for the data writer's lock (a bulk
-- load holds it for seconds at a time), and the log can be kept and shipped apart.

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us      INTEGER NOT NULL,
    org_id     TEXT NOT NULL,               -- acting organisation; '' when unknown
    key_id     TEXT NOT NULL,               -- acting API key; 'cli' for the operator
    action     TEXT NOT NULL,               -- add, read, delete, deny, admin.*
    outcome    TEXT NOT NULL CHECK (outcome IN ('ok', 'denied')),
    collection TEXT NOT NULL,               -- collection id, '' when none
    detail     TEXT NOT NULL,
    objects    BLOB NOT NULL                -- JSON list of the STIX ids it touched
);
CREATE INDEX events_org ON events (org_id, at_us);
CREATE INDEX events_at ON events (at_us);
CREATE INDEX events_action ON events (action, at_us);

-- Events by object, derived from events.objects in batches (see sqlite_audit.py):
-- indexing each page of a read as it is served cost more than serving it.
CREATE TABLE event_objects (
    object_id TEXT NOT NULL,
    seq       INTEGER NOT NULL REFERENCES events(seq),
    PRIMARY KEY (object_id, seq)
) WITHOUT ROWID;
CREATE TABLE indexed (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    upto INTEGER NOT NULL                   -- events up to this seq are in event_objects
);
INSERT INTO indexed VALUES (1, 0);

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER event_objects_append_only_update BEFORE UPDATE ON event_objects
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER event_objects_append_only_delete BEFORE DELETE ON event_objects
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
