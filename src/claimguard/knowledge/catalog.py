"""Indexed catalogs: every lookup the engine makes is one dict access."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from claimguard.library.points import PointIndex
from claimguard.model import DoctorRow, InstitutionRow, ItemRow


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    items: dict[str, ItemRow] = field(default_factory=dict)
    institutions: dict[str, InstitutionRow] = field(default_factory=dict)
    doctors: dict[str, DoctorRow] = field(default_factory=dict)
    deceased_on: dict[str, dt.date] = field(default_factory=dict)
    region_parents: dict[str, str] = field(default_factory=dict)
    region_names: dict[str, str] = field(default_factory=dict)
    points: PointIndex = field(default_factory=PointIndex)  # knowledge points (知识点)
