"""The vocabulary of cross-event window checks a rule may name with `check:`, and their
parameters. The engine (engine/windows.py) implements each kind over a patient's history;
a new rule of an existing kind is YAML only."""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SameDayInstitutions(_Params):
    """Settled visits of one day (occurred_at date) at N or more distinct institutions."""

    min_institutions: int = Field(default=3, ge=2)


class VisitCount(_Params):
    """N or more settled visits of the given types in (t − window_days, t]."""

    window_days: int = Field(default=30, ge=1)
    min_visits: int = Field(default=8, ge=2)
    visit_types: tuple[str, ...] = ("outpatient",)


class RepeatDispense(_Params):
    """A drug dispensed while earlier dispenses of the code leave > max_remaining_days."""

    max_remaining_days: int = Field(default=7, ge=0)


class Readmission(_Params):
    """An inpatient admission min_gap_days..max_gap_days after a discharge at the same place."""

    min_gap_days: int = Field(default=0, ge=0)
    max_gap_days: int = Field(default=15, ge=0)


class StayOverlap(_Params):
    """A visit at another institution inside an inpatient stay [admitted_at, discharged_at)."""

    visit_types: tuple[str, ...] = ("outpatient", "pharmacy")


class DailyQuantity(_Params):
    """A code's total quantity per patient per day over the catalog's `max_per_day`."""


WINDOW_KINDS: dict[str, type[_Params]] = {
    "same_day_institutions": SameDayInstitutions,
    "visit_count": VisitCount,
    "repeat_dispense": RepeatDispense,
    "readmission": Readmission,
    "stay_overlap": StayOverlap,
    "daily_quantity": DailyQuantity,
}


# Kinds that can also answer a precheck/settle event against the settled history (contract
# v1.1: 重复购药不结算). The others are defined over settled visits only.
PRE_SETTLEMENT_KINDS = frozenset({"repeat_dispense"})


def retention_days(params: BaseModel) -> int:
    """How many days of history a check of this kind looks back, beyond an item's own span."""
    if isinstance(params, VisitCount):
        return params.window_days
    if isinstance(params, Readmission):
        return params.max_gap_days + 1
    return 1


class ItemRec(NamedTuple):
    """One line item of a settled settlement, as much as the windows need."""

    item_id: str
    code: str
    kind: str
    qty: float
    days: int | None
    day: int  # ordinal of performed_at's date, else of the event date
    amount: float


class SettledRec(NamedTuple):
    """A settled, non-reversed settlement in a patient's history."""

    sid: str
    eid: str  # the settled event's id: flags on this settlement carry it
    seq: int  # arrival order, breaks ties of equal occurred_at
    t: float  # occurred_at, epoch seconds
    day: int  # ordinal of occurred_at's date
    occurred_at: str
    inst: str
    inst_region: str
    inst_level: int
    insured_region: str
    visit_type: str
    adm_t: float | None
    adm_day: int | None
    dis_t: float | None
    dis_day: int | None
    total: float
    horizon: int  # the last day on which any window may still look at this record
    items: tuple[ItemRec, ...]
