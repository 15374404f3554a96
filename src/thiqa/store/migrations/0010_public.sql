-- Open publication (DESIGN rule 1, "or it is CLEAR and published openly"): every
-- organisation of the node may read the TLP:CLEAR versions of a public collection;
-- everything else in it stays with those whose membership or grant admits them.
ALTER TABLE collections ADD COLUMN public INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1))
