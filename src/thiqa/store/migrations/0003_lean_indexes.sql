-- Leaner indexes for the write path: of the indexes a write updates, only those keyed
-- by object id take random positions (ids are random UUIDs), and each commit writes
-- every page they dirtied to the WAL. Two of them were one too many.
--
-- 1. versions loses UNIQUE (object_id, vkey, digest). Every version is held by at least
--    one entry (a version no entry holds is deleted), so a write finds the versions of
--    an id through entries_object and joins versions by vid; the single writer keeps
--    (object_id, vkey, digest) unique. SQLite cannot drop a constraint's index, so the
--    table is rebuilt.
-- 2. entries_object drops vkey: an object has few versions per collection, and every
--    lookup by id names the collection.

CREATE TABLE versions_lean (
    vid          INTEGER PRIMARY KEY,
    object_id    TEXT NOT NULL,
    vkey         TEXT NOT NULL,
    digest       BLOB NOT NULL,              -- BLAKE2b-128 of body
    version      TEXT NOT NULL,
    type         TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    body         BLOB NOT NULL
);
INSERT INTO versions_lean SELECT vid, object_id, vkey, digest, version, type, spec_version, body
    FROM versions;
DROP TABLE versions;
ALTER TABLE versions_lean RENAME TO versions;
DROP INDEX entries_object;
CREATE INDEX entries_object ON entries (object_id, collection_pk);
