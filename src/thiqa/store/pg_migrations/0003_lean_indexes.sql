-- Leaner indexes for the write path (see migrations/0003_lean_indexes.sql): versions
-- loses UNIQUE (object_id, vkey, digest), which the single writer keeps true and a
-- write finds through entries_object; entries_object drops vkey. PostgreSQL drops a
-- constraint in place (SQLite had to rebuild the table).

ALTER TABLE versions DROP CONSTRAINT versions_object_id_vkey_digest_key;
DROP INDEX entries_object;
CREATE INDEX entries_object ON entries (object_id, collection_pk);
