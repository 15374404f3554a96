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
    detail     TEXT NOT NULL
);
CREATE INDEX events_org ON events (org_id, at_us);
CREATE INDEX events_at ON events (at_us);
CREATE INDEX events_action ON events (action, at_us);

-- The objects an event touched (a read of a page of AMBER versions names each).
CREATE TABLE event_objects (
    seq       INTEGER NOT NULL REFERENCES events(seq),
    object_id TEXT NOT NULL
);
CREATE INDEX event_objects_object ON event_objects (object_id, seq);
CREATE INDEX event_objects_seq ON event_objects (seq);

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER event_objects_append_only_update BEFORE UPDATE ON event_objects
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER event_objects_append_only_delete BEFORE DELETE ON event_objects
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
