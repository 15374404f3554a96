-- Handling on every version a collection holds (thiqa.handling, thiqa.policy), and the
-- default handling of each community.
--
-- Levels are stored as the integers of thiqa.handling.Tlp (CLEAR 0, GREEN 1, AMBER 2,
-- AMBER+STRICT 3, RED 4) and Pap (CLEAR 0 .. RED 3), so that "less restrictive than" is
-- an integer comparison the read query can push into its index scan.

-- NULL: no default.
ALTER TABLE communities ADD COLUMN default_tlp INTEGER;
ALTER TABLE communities ADD COLUMN default_pap INTEGER;

-- originator: identity id of the organisation whose key published the version into the
-- collection. Versions stored before handling existed were put there by the node's
-- operator: the operating organisation (the first created, by thiqa init) is their
-- originator, and they keep the most restrictive handling (TLP:RED, PAP:RED).
ALTER TABLE entries ADD COLUMN originator TEXT NOT NULL DEFAULT '';
ALTER TABLE entries ADD COLUMN tlp INTEGER NOT NULL DEFAULT 4;
ALTER TABLE entries ADD COLUMN pap INTEGER NOT NULL DEFAULT 3;
ALTER TABLE entries ADD COLUMN originator_control INTEGER NOT NULL DEFAULT 0;
UPDATE entries SET originator = COALESCE((SELECT id FROM orgs ORDER BY created_us, id
                                          LIMIT 1), '');

-- The named recipients of a TLP:RED entry (only RED entries have rows here).
CREATE TABLE red_recipients (
    seq    INTEGER NOT NULL,                 -- entries.seq
    org_id TEXT NOT NULL,                    -- identity id of a recipient organisation
    PRIMARY KEY (seq, org_id)
) WITHOUT ROWID
