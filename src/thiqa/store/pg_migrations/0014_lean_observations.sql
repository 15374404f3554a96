-- Cheaper retention of observed values (migrations/0014_lean_observations.sql): each
-- row names its organisation by a small integer (observers), no index on last_seen.
CREATE TABLE observers (
    pk     BIGSERIAL PRIMARY KEY,
    org_id TEXT NOT NULL UNIQUE
);
INSERT INTO observers (org_id) SELECT DISTINCT org_id FROM observations ORDER BY org_id;
CREATE TABLE observations_lean (
    key         BIGINT NOT NULL,
    observer    BIGINT NOT NULL,             -- observers.pk
    value       TEXT NOT NULL,
    family      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (key, observer, value)
);
INSERT INTO observations_lean
    SELECT o.key, w.pk, o.value, o.family, o.kind, o.first_seen, o.last_seen, o.count
    FROM observations o JOIN observers w ON w.org_id = o.org_id;
DROP TABLE observations;
ALTER TABLE observations_lean RENAME TO observations;
ALTER INDEX observations_lean_pkey RENAME TO observations_pkey;
