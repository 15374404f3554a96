-- The observable index (thiqa.correlate): one row per (normalised value, stored version
-- entry), never a pairwise correlation table (DESIGN.md). A match looks values up by
-- key; what an entry is (its collection, whether it is still the latest version) is
-- read from entries at match time, so only what the body says is copied here.

-- key: a 63-bit hash (two CRC-32s) of "family NUL lookup text" (lookup text: the normalised value,
-- "network/len" for an IP range, the parent domain for a subdomain test). value keeps
-- the text, so a key collision can never produce a false match. WITHOUT ROWID: the
-- rows are the primary-key b-tree, so a lookup is one range scan of it.
CREATE TABLE observables (
    key         INTEGER NOT NULL,
    seq         INTEGER NOT NULL,            -- entries.seq of the version mentioning it
    kind        TEXT NOT NULL,               -- ipv4-addr, domain-name, sha256, btc, iban, ...
    mode        TEXT NOT NULL,               -- '=' exact, 'sub' subdomains, 'cidr' range
    value       TEXT NOT NULL,
    valid_until INTEGER,                     -- indicator valid_until in µs; NULL: none
    PRIMARY KEY (key, seq)
) WITHOUT ROWID;
CREATE INDEX observables_seq ON observables (seq);

-- LIKE prefix/suffix/contains tests: string tests, not keyed; matchers hold them in memory.
CREATE TABLE observable_tests (
    seq         INTEGER NOT NULL,
    family      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('prefix', 'suffix', 'contains')),
    value       TEXT NOT NULL,
    valid_until INTEGER
);
CREATE INDEX observable_tests_seq ON observable_tests (seq);

-- The prefix lengths of the IP ranges indexed, per family: an observed address is looked
-- up once per length present (a few), never by scanning ranges.
CREATE TABLE observable_prefixes (
    family TEXT NOT NULL,
    plen   INTEGER NOT NULL,
    PRIMARY KEY (family, plen)
) WITHOUT ROWID;

-- The indexer's high-water mark: every entry with seq <= indexed_seq has been indexed.
CREATE TABLE correlate_state (
    one         INTEGER PRIMARY KEY CHECK (one = 1),
    indexed_seq INTEGER NOT NULL
);
INSERT INTO correlate_state VALUES (1, 0);

-- A deleted entry leaves the index in the same transaction (the store needs no code for it).
CREATE TRIGGER observables_unindex AFTER DELETE ON entries BEGIN DELETE FROM observables WHERE seq = OLD.seq; DELETE FROM observable_tests WHERE seq = OLD.seq; END
