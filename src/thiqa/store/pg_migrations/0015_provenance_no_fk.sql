-- provenance.batch_pk loses its foreign key (0001_core.sql says why versions and
-- entries have none): every row of a bulk load's provenance COPY queued a check of
-- signing_batches, a third of the database's CPU in a load of 200,000 indicators. The
-- writer inserts the batch in the same transaction just before its rows, and batches
-- are never deleted.
ALTER TABLE provenance DROP CONSTRAINT IF EXISTS provenance_batch_pk_fkey;
