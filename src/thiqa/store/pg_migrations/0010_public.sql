-- Open publication (DESIGN rule 1, "or it is CLEAR and published openly"): every
-- organisation of the node may read the TLP:CLEAR versions of a public collection
-- (migrations/0010_public.sql).
ALTER TABLE collections ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;
