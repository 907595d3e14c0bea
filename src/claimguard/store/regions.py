"""Region ancestry for upward aggregation, written as `claimguard.region_chains` rows.

The parent rule itself (derived from the code, regions.csv overrides) lives in the routing
room's RegionTree; this module only turns its chains into rows, so the store aggregates
along exactly the tree that routing assigned by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from claimguard.routing.regions import RegionTree, level_of

SOURCE_DERIVED = 0  # chain derived from the code alone
SOURCE_GIVEN = 1  # chain computed with the knowledge base's regions.csv
CHAIN_COLUMNS = ["region", "chain", "levels", "source", "version"]


def chain_version(source: int, now_ms: int) -> int:
    return (source << 48) | now_ms


def chain_of(tree: RegionTree, region: str) -> list[str]:
    return list(tree.ancestors(region))


def chain_rows(
    tree: RegionTree, regions: Iterable[str], source: int, now_ms: int
) -> list[list[object]]:
    rows: list[list[object]] = []
    for region in sorted(set(regions)):
        chain = chain_of(tree, region)
        levels = [level_of(code) for code in chain]
        rows.append([region, chain, levels, source, chain_version(source, now_ms)])
    return rows


def tree_of(parents: Mapping[str, str] | None) -> RegionTree:
    return RegionTree(dict(parents or {}))
