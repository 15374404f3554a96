-- In step with pg_migrations/0015_provenance_no_fk.sql, which drops PostgreSQL's
-- foreign key on provenance.batch_pk. SQLite does not enforce foreign keys here
-- (foreign_keys is off), so nothing changes.
SELECT 1;
