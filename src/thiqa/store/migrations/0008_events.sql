-- The event log (thiqa.stream): one node sequence for every change a consumer follows.
--
-- A new version needs no row here: its entry's seq (entries' AUTOINCREMENT counter) is its
-- place in the sequence, so a bulk load writes nothing extra. Everything else takes the
-- next value of that same counter (sqlite_sequence 'entries'), inside the transaction
-- that makes the change, so the one writer hands out the sequence in commit order:
--
-- - a tombstone, when an entry leaves a collection (DELETE, retraction, scope narrowing).
--   It copies the entry's originator, TLP and (below, in red_recipients under the
--   tombstone's own seq) its named recipients, so the read policy decides who may see it
--   exactly as it decided who could see the version;
-- - an alert (correlation), with the audience it was given.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,       -- the node sequence (shared with entries.seq)
    kind          TEXT NOT NULL CHECK (kind IN ('delete', 'retract', 'alert')),
    collection_pk INTEGER,                   -- NULL: an alert for the whole node
    object_id     TEXT NOT NULL DEFAULT '',
    type          TEXT NOT NULL DEFAULT '',
    version       TEXT NOT NULL DEFAULT '',  -- the version removed (its modified)
    spec_version  TEXT NOT NULL DEFAULT '',
    time_us       INTEGER NOT NULL,
    originator    TEXT NOT NULL DEFAULT '',
    tlp           INTEGER NOT NULL,
    body          BLOB                       -- an alert's JSON
);

-- Webhooks: a second way to follow the log. cursor is durable: every event with seq <=
-- cursor that the webhook's organisation may read has been delivered (at least once).
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id),
    collection_pk   INTEGER REFERENCES collections(pk),  -- NULL: every collection it reads
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,           -- HMAC-SHA256 key of the payload signatures
    created_us      INTEGER NOT NULL,
    cursor          INTEGER NOT NULL,
    delivered       INTEGER NOT NULL DEFAULT 0,
    last_success_us INTEGER,
    last_error      TEXT,
    last_error_us   INTEGER,
    failures        INTEGER NOT NULL DEFAULT 0,   -- consecutive failed attempts
    next_attempt_us INTEGER NOT NULL DEFAULT 0
);

-- Every removal of an entry leaves a tombstone, whichever code path removes it. The
-- migration runner splits scripts at ";\n", so the trigger's statements end mid-line.
CREATE TRIGGER entries_tombstone AFTER DELETE ON entries BEGIN
    UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'entries'
    ; INSERT INTO events (seq, kind, collection_pk, object_id, type, version, spec_version,
                          time_us, originator, tlp)
      SELECT s.seq, 'delete', OLD.collection_pk, OLD.object_id, OLD.type,
             COALESCE(v.version, ''), OLD.spec_version,
             CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER),
             OLD.originator, OLD.tlp
      FROM sqlite_sequence s LEFT JOIN versions v ON v.vid = OLD.vid WHERE s.name = 'entries'
    ; INSERT INTO red_recipients (seq, org_id)
      SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'entries'), org_id
      FROM red_recipients WHERE seq = OLD.seq
    ; END
