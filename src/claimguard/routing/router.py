"""Downward assignment, level-3 escalation and cross-region notification (contract §5)."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from claimguard.knowledge import KnowledgeBase
from claimguard.routing.regions import Level, RegionTree, level_of

ESCALATED_INSTITUTION_LEVEL = 3  # 以上查下: 三级 hospitals are handled one level up


class Assignment(NamedTuple):
    region: str
    level: Level
    notify: tuple[str, ...]


class Router:
    def __init__(self, tree: RegionTree | None = None) -> None:
        self.tree = tree or RegionTree()
        self.assign = lru_cache(maxsize=65536)(self._assign)

    @classmethod
    def from_knowledge(cls, kb: KnowledgeBase) -> Router:
        return cls(RegionTree(kb.region_parents))

    def _assign(
        self, subject: str, institution_region: str, institution_level: int, insured_region: str
    ) -> Assignment:
        if subject == "insured":
            region, other = insured_region, institution_region
        else:
            region, other = institution_region, insured_region
            if institution_level >= ESCALATED_INSTITUTION_LEVEL:
                region = self.tree.parent(institution_region) or institution_region
        cross_city = self.tree.city_of(institution_region) != self.tree.city_of(insured_region)
        return Assignment(region, level_of(region), (other,) if cross_city else ())
