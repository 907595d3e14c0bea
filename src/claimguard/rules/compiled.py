"""A rule compiled from its spec: closures for its conditions and message, ready to index."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from claimguard.library.points import Point
from claimguard.model import DoctorRow, Event, Institution, InstitutionRow, Item, ItemRow, Patient
from claimguard.model.events import Visit
from claimguard.rules import types as T
from claimguard.rules.expr import Compiled, Env
from claimguard.rules.spec import RuleSpec
from claimguard.rules.windows import SettledRec

# Names an expression may use, with the types their attribute chains are checked against.
VISIT_NAMES: dict[str, Any] = {
    "event": Event,
    "visit": Visit,
    "patient": Patient,
    "institution": Institution,
    "items": T.LIST,
    "inst": InstitutionRow,
    "doctor": DoctorRow,
    "deceased_on": T.DATE,
    "event_date": T.DATE,
    "age": T.NUM,
    "params": dict,
}
ITEM_NAMES: dict[str, Any] = {**VISIT_NAMES, "item": Item, "ref": ItemRow}
APPLIES_NAMES: dict[str, Any] = {"ref": ItemRow, "params": dict}
# A window finding may concern an earlier settlement, so its message sees the stored record.
WINDOW_NAMES: dict[str, Any] = {"settlement": SettledRec, "params": dict, "detail": None}
# A points rule's message sees the hit item (null for diagnosis, operation and visit kinds),
# the knowledge point (null for visit kinds) and the kind's figure.
POINTS_NAMES: dict[str, Any] = {
    "event": Event,
    "visit": Visit,
    "patient": Patient,
    "institution": Institution,
    "item": Item,
    "point": Point,
    "detail": None,
    "age": T.NUM,
    "params": dict,
}


@dataclass(frozen=True, eq=False)
class CompiledRule:
    spec: RuleSpec
    path: Path
    line: int
    when: Compiled | None
    applies: Compiled | None
    involves: Compiled | None
    message_zh: Callable[[Env], str]
    message_en: Callable[[Env], str]
    window: BaseModel | None  # validated params of a window check
    pack_digest: str = ""  # of the pack file the rule came from (see rules/digest.py)
    kind_params: BaseModel | None = None  # validated params of a points rule type

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def shadow(self) -> bool:
        """A shadow rule's findings are stored (shadow = 1) but never decide anything."""
        return self.spec.mode == "shadow"

    @property
    def params(self) -> dict[str, Any]:
        return self.spec.params

    def in_force(self, day: dt.date) -> bool:
        eff = self.spec.effective
        if eff is None:
            return True
        return (eff.from_ is None or eff.from_ <= day) and (eff.until is None or day <= eff.until)

    def covers(self, region: str) -> bool:
        return not self.spec.regions or region.startswith(tuple(self.spec.regions))

    def applies_to(self, ref: ItemRow | None) -> bool:
        """Evaluated once per catalog row at bind time, so the hot path never sees it."""
        if self.applies is None:
            return True
        return bool(self.applies({"ref": ref, "params": self.spec.params}))
