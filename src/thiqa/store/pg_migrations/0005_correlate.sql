-- The observable index (thiqa.correlate, thiqa/correlate/pg_index.py): the same rows and
-- meaning as migrations/0005_correlate.sql. key is the same 63-bit hash (fits BIGINT).

CREATE TABLE observables (
    key         BIGINT NOT NULL,
    seq         BIGINT NOT NULL,             -- entries.seq of the version mentioning it
    kind        TEXT NOT NULL,
    mode        TEXT NOT NULL,               -- '=' exact, 'sub' subdomains, 'cidr' range
    value       TEXT NOT NULL,
    valid_until BIGINT,                      -- indicator valid_until in µs; NULL: none
    PRIMARY KEY (key, seq)
);
CREATE INDEX observables_seq ON observables (seq);

CREATE TABLE observable_tests (
    seq         BIGINT NOT NULL,
    family      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('prefix', 'suffix', 'contains')),
    value       TEXT NOT NULL,
    valid_until BIGINT
);
CREATE INDEX observable_tests_seq ON observable_tests (seq);

CREATE TABLE observable_prefixes (
    family TEXT NOT NULL,
    plen   INTEGER NOT NULL,
    PRIMARY KEY (family, plen)
);

-- The indexer's high-water mark: every entry with seq <= indexed_seq has been indexed.
CREATE TABLE correlate_state (
    one         INTEGER PRIMARY KEY CHECK (one = 1),
    indexed_seq BIGINT NOT NULL
);
INSERT INTO correlate_state VALUES (1, 0);

-- A deleted entry leaves the index in the same transaction.
CREATE FUNCTION observables_unindex() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM observables WHERE seq = OLD.seq;
    DELETE FROM observable_tests WHERE seq = OLD.seq;
    RETURN OLD;
END $$;
CREATE TRIGGER observables_unindex AFTER DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION observables_unindex();
