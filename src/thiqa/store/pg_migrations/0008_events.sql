-- The event log (thiqa.stream, thiqa/stream/postgres.py): the meaning of
-- migrations/0008_events.sql. A new version needs no row here: its entry's seq is its
-- place in the node sequence. A tombstone or an alert takes the next value of the same
-- sequence (entries_seq_seq) inside the transaction that makes the change, under the
-- store's write lock, so values are handed out in commit order.
--
-- A sequence is not transactional: a value drawn by a transaction still open (or rolled
-- back) is visible to every session. The log's head is therefore a column of the clock
-- row, set in the same transaction as what it covers: a reader that sees head = N sees
-- every entry and event up to N committed.
ALTER TABLE clock ADD COLUMN head BIGINT NOT NULL DEFAULT 0;
UPDATE clock SET head = COALESCE((SELECT MAX(seq) FROM entries), 0);

CREATE TABLE events (
    seq           BIGINT PRIMARY KEY,        -- the node sequence (shared with entries.seq)
    kind          TEXT NOT NULL CHECK (kind IN ('delete', 'retract', 'alert')),
    collection_pk BIGINT,                    -- NULL: an alert for the whole node
    object_id     TEXT NOT NULL DEFAULT '',
    type          TEXT NOT NULL DEFAULT '',
    version       TEXT NOT NULL DEFAULT '',  -- the version removed (its modified)
    spec_version  TEXT NOT NULL DEFAULT '',
    time_us       BIGINT NOT NULL,
    originator    TEXT NOT NULL DEFAULT '',
    tlp           SMALLINT NOT NULL,
    body          BYTEA                      -- an alert's JSON
);

-- Webhooks: cursor is durable: every event with seq <= cursor that the webhook's
-- organisation may read has been delivered (at least once).
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id),
    collection_pk   BIGINT REFERENCES collections(pk),  -- NULL: every collection it reads
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,           -- HMAC-SHA256 key of the payload signatures
    created_us      BIGINT NOT NULL,
    cursor          BIGINT NOT NULL,
    delivered       BIGINT NOT NULL DEFAULT 0,
    last_success_us BIGINT,
    last_error      TEXT,
    last_error_us   BIGINT,
    failures        INTEGER NOT NULL DEFAULT 0,   -- consecutive failed attempts
    next_attempt_us BIGINT NOT NULL DEFAULT 0
);

-- Every removal of an entry leaves a tombstone, whichever code path removes it. It
-- copies the entry's originator, TLP and named recipients (under the tombstone's own
-- seq), so the read policy decides who may see it as it decided for the version.
CREATE FUNCTION entries_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s BIGINT := nextval('entries_seq_seq');
BEGIN
    UPDATE clock SET head = s;
    INSERT INTO events (seq, kind, collection_pk, object_id, type, version, spec_version,
                        time_us, originator, tlp)
    VALUES (s, 'delete', OLD.collection_pk, OLD.object_id, OLD.type,
            COALESCE((SELECT v.version FROM versions v WHERE v.vid = OLD.vid), ''),
            OLD.spec_version,
            (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT,
            OLD.originator, OLD.tlp);
    INSERT INTO red_recipients (seq, org_id)
        SELECT s, r.org_id FROM red_recipients r WHERE r.seq = OLD.seq;
    RETURN OLD;
END $$;
CREATE TRIGGER entries_tombstone AFTER DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION entries_tombstone();
