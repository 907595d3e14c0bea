-- The region tree as one row per region: its chain of ancestors, itself first, up to
-- national (000000), with each member's level. The chains are computed in Python by the
-- routing room's RegionTree (derived parents, regions.csv overrides) so the parent rule
-- lives in one place; the store writes a chain for every region a finding is assigned to.
--
-- One row per region makes a re-parenting atomic: the new chain replaces the old row.
-- version = (source << 48) | epoch ms, source 1 = given by the knowledge base, 0 = derived
-- from the code, so a derived chain never replaces one the knowledge base gave.

CREATE TABLE IF NOT EXISTS claimguard.region_chains
(
    region String,
    chain  Array(String),
    levels Array(LowCardinality(String)),
    source UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY region;

-- The closure: (region, ancestor) for every ancestor including the region itself.
CREATE VIEW IF NOT EXISTS claimguard.region_ancestors AS
SELECT
    region,
    ancestor,
    ancestor_level,
    depth - 1 AS distance
FROM claimguard.region_chains FINAL
ARRAY JOIN
    chain AS ancestor,
    levels AS ancestor_level,
    arrayEnumerate(chain) AS depth;
