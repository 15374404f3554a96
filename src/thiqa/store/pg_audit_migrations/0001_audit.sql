-- The audit log on PostgreSQL: append-only (see audit_migrations/0001_audit.sql). In
-- the node's database, but written on its own connection, so that recording a read
-- never waits for the data writer's lock.
--
-- objects is a text array with a GIN index: a query by object uses it directly, where
-- SQLite derives an event_objects table in batches.

CREATE TABLE audit_events (
    seq        BIGSERIAL PRIMARY KEY,
    at_us      BIGINT NOT NULL,
    org_id     TEXT NOT NULL,               -- acting organisation; '' when unknown
    key_id     TEXT NOT NULL,               -- acting API key; 'cli' for the operator
    action     TEXT NOT NULL,               -- add, read, delete, deny, admin.*
    outcome    TEXT NOT NULL CHECK (outcome IN ('ok', 'denied')),
    collection TEXT NOT NULL,               -- collection id, '' when none
    detail     TEXT NOT NULL,
    objects    TEXT[] NOT NULL              -- the STIX ids it touched
);
CREATE INDEX audit_events_org ON audit_events (org_id, at_us);
CREATE INDEX audit_events_at ON audit_events (at_us);
CREATE INDEX audit_events_action ON audit_events (action, at_us);
CREATE INDEX audit_events_objects ON audit_events USING gin (objects);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
