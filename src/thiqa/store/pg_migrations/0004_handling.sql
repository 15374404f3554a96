-- Handling on every version a collection holds, and the default handling of each
-- community (see migrations/0004_handling.sql). Levels are the integers of
-- thiqa.handling.Tlp (CLEAR 0 .. RED 4) and Pap (CLEAR 0 .. RED 3).

-- NULL: no default.
ALTER TABLE communities ADD COLUMN default_tlp SMALLINT;
ALTER TABLE communities ADD COLUMN default_pap SMALLINT;

-- Versions stored before handling existed were put there by the node's operator (the
-- first organisation created) and keep the most restrictive handling.
ALTER TABLE entries ADD COLUMN originator TEXT NOT NULL DEFAULT '';
ALTER TABLE entries ADD COLUMN tlp SMALLINT NOT NULL DEFAULT 4;
ALTER TABLE entries ADD COLUMN pap SMALLINT NOT NULL DEFAULT 3;
ALTER TABLE entries ADD COLUMN originator_control BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE entries SET originator = COALESCE((SELECT id FROM orgs ORDER BY created_us, id
                                          LIMIT 1), '');

-- The named recipients of a TLP:RED entry (only RED entries have rows here).
CREATE TABLE red_recipients (
    seq    BIGINT NOT NULL,                  -- entries.seq
    org_id TEXT NOT NULL,                    -- identity id of a recipient organisation
    PRIMARY KEY (seq, org_id)
);
