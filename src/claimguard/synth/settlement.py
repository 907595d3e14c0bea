"""The plan of one settlement: who, where, which items, and when its events happen.

Plans hold ints (simulated minutes) and references; ids and JSON are made only when the
events are written, in file order, so ids reveal nothing about how a settlement was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from claimguard.synth.catalog import ItemKind
from claimguard.synth.clock import day_of
from claimguard.synth.geography import InstitutionSpec
from claimguard.synth.population import Person

VisitType = Literal["outpatient", "inpatient", "pharmacy"]
EventType = Literal["precheck", "settle", "settled", "reversal"]


@dataclass(slots=True)
class Line:
    code: str
    kind: ItemKind
    quantity: int | float
    unit_price: float
    days: int | None = None
    performed_at: int | None = None  # simulated minute
    self_paid: bool = False

    @property
    def amount(self) -> float:
        return round(self.quantity * self.unit_price, 2)


@dataclass(slots=True)
class Settlement:
    visit_type: VisitType
    person: Person
    institution: InstitutionSpec
    department: str
    doctor_code: str
    diagnoses: tuple[str, ...]
    lines: list[Line]
    at: int  # minute of settle and settled; for a stay, the discharge
    admitted_at: int | None = None
    holder_id: str | None = None
    precheck: bool = False
    reversal_at: int | None = None
    reversal_full: bool = False  # whether the reversal repeats the settlement body
    redeliver: EventType | None = None  # which of its events is delivered twice
    settlement_id: str = field(default="")
    visit_id: str = field(default="")

    @property
    def precheck_at(self) -> int:
        """事前: at admission for a stay, before the items otherwise."""
        if self.admitted_at is not None:
            return self.admitted_at + 10
        return self.at - (5 if self.visit_type == "pharmacy" else 40)

    @property
    def day(self) -> int:
        return day_of(self.at)

    def line_day(self, line: Line) -> int:
        """The day an item counts on: its `performed_at` date, else the event date."""
        return day_of(line.performed_at) if line.performed_at is not None else self.day

    def codes(self) -> set[str]:
        return {line.code for line in self.lines}
