-- Communities (multilateral) and agreements (bilateral: exactly two members), their
-- members, and the collections that belong to them (see migrations/0002_communities.sql).

CREATE TABLE communities (
    pk          BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,        -- stable UUID, the community's public id
    kind        TEXT NOT NULL CHECK (kind IN ('community', 'agreement')),
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_us  BIGINT NOT NULL,
    -- For an agreement: its two member org ids, sorted and joined by a space, so that
    -- two agreements between the same pair cannot exist. NULL for a community.
    pair        TEXT UNIQUE,
    CHECK ((kind = 'agreement') = (pair IS NOT NULL))
);

CREATE TABLE community_members (
    community_pk BIGINT NOT NULL REFERENCES communities(pk),
    org_id       TEXT NOT NULL REFERENCES orgs(id),
    role         TEXT NOT NULL CHECK (role IN ('member', 'convener')),
    joined_us    BIGINT NOT NULL,
    PRIMARY KEY (community_pk, org_id)
);
-- Every access decision asks "which communities is this org in?".
CREATE INDEX community_members_org ON community_members (org_id, community_pk);

-- NULL: a plain collection, governed by grants. Otherwise the community it belongs to.
ALTER TABLE collections ADD COLUMN community_pk BIGINT REFERENCES communities(pk);
CREATE INDEX collections_community ON collections (community_pk);
