"""The administrative region tree of 6-digit 行政区划代码, with regions.csv overrides."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

Level = Literal["county", "city", "province", "national"]
NATIONAL = "000000"
DIRECT_COUNTY_CITY = "90"  # 省直辖县级行政区划: counties that belong to the province directly


def level_of(code: str) -> Level:
    if code == NATIONAL:
        return "national"
    if code[2:] == "0000":
        return "province"
    if code[4:] == "00":
        return "city"
    return "county"


def derived_parent(code: str) -> str | None:
    level = level_of(code)
    if level == "national":
        return None
    if level == "province":
        return NATIONAL
    if level == "city":
        return code[:2] + "0000"
    if code[2:4] == DIRECT_COUNTY_CITY:
        return code[:2] + "0000"
    return code[:4] + "00"


class RegionTree:
    """Parents derived from the code unless `overrides` (regions.csv) says otherwise."""

    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        self._overrides = dict(overrides or {})
        self.parent = lru_cache(maxsize=65536)(self._parent)
        self.ancestors = lru_cache(maxsize=65536)(self._ancestors)
        self.city_of = lru_cache(maxsize=65536)(self._city_of)

    def _parent(self, code: str) -> str | None:
        if code in self._overrides:
            parent = self._overrides[code]
            return None if parent == code else parent
        return derived_parent(code)

    def _ancestors(self, code: str) -> tuple[str, ...]:
        """code's chain up to national, code included; stops on a cycle in the overrides."""
        chain = [code]
        parent = self.parent(code)
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = self.parent(parent)
        return tuple(chain)

    def _city_of(self, code: str) -> str:
        """The city-level region a county belongs to; a county without one stands for itself."""
        for region in self.ancestors(code):
            if level_of(region) == "city":
                return region
        return code
