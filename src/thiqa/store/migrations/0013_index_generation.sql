-- The observable index's generation: `thiqa index --rebuild` adds one. A matcher's
-- in-memory key filter (thiqa.correlate.keyfilter) holds the keys of one generation up
-- to a mark; a filter of another generation is built again from the index.
ALTER TABLE correlate_state ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
-- Random to begin with: the kept filter of another database never passes for this one's.
UPDATE correlate_state SET generation = random() & 4611686018427387903;
