"""The functions rule expressions may call. Each is pure; `needs_env` ones see the settlement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from claimguard.model import InstitutionRow, Item
from claimguard.rules import types as T
from claimguard.rules.expr import Env, Function


def startswith_any(values: Iterable[str] | None, prefixes: Iterable[str] | None) -> bool:
    if not values or not prefixes:
        return False
    prefixes = tuple(prefixes)
    return any(v.startswith(prefixes) for v in values)


def age_on(birth: dt.date | None, day: dt.date | None) -> int | None:
    """Age in whole years on `day`."""
    if birth is None or day is None:
        return None
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def days_between(start: dt.date | dt.datetime | None, end: dt.date | dt.datetime | None) -> Any:
    if start is None or end is None:
        return None
    return (_day(end) - _day(start)).days


def _day(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def date_of(value: dt.date | dt.datetime | None) -> dt.date | None:
    return None if value is None else _day(value)


def over(value: float | None, limit: float | None, tolerance: float = 0.0) -> bool:
    """value > limit + tolerance, decided on the difference rounded to 1e-6 so that binary
    floating point cannot turn a boundary price like cap + 0.005 into a hit."""
    if value is None or limit is None or value <= limit:  # the usual case, decided cheaply
        return False
    return round(value - limit, 6) > tolerance


def agreement_lapsed(inst: Any, day: dt.date | None) -> bool:
    """The institution's service agreement is suspended or terminated on `day`."""
    return inst is not None and day is not None and inst.suspended_on(day)


def same_charge_count(env: Env, item: Any) -> int:
    """How many service/consumable items of the settlement share `item`'s code and time."""

    items = env["items"]
    if len(items) == 1:  # most settlements: nothing to count against
        return 1
    memo = env["_memo"]
    counts = memo.get("charges")
    if counts is None:
        counts = memo["charges"] = {}
        for i in items:
            if i.kind != "drug":
                key = (i.code, i.performed_at)
                counts[key] = counts.get(key, 0) + 1
    return counts.get((item.code, item.performed_at), 0)


def billed(env: Env, codes: Iterable[str] | None) -> bool:
    """Whether the settlement bills any of `codes` on an item other than the current one."""
    return bool(billed_ids(env, codes))


def billed_ids(env: Env, codes: Iterable[str] | None) -> list[str]:
    """Item ids billing any of `codes`, in item order, the current item excepted. Through an
    index of the settlement's codes built once per event: a rule calling this on each of
    thousands of items must stay linear, not quadratic."""
    if not codes:
        return []
    memo = env["_memo"]
    index = memo.get("by_code")
    if index is None:
        index = memo["by_code"] = {}
        for position, i in enumerate(env["items"]):
            index.setdefault(i.code, []).append((position, i))
    current = env.get("item")
    found = [
        (position, i.item_id)
        for code in set(codes)
        for position, i in index.get(code, ())
        if i is not current
    ]
    if len(found) > 1:
        found.sort()
    return [item_id for _, item_id in found]


def stay_days(env: Env) -> int | None:
    """Inpatient stay length: discharge date − admission date."""
    visit = env["visit"]
    if visit.admitted_at is None or visit.discharged_at is None:
        return None
    return (visit.discharged_at.date() - visit.admitted_at.date()).days


def treated_days(env: Env) -> int:
    """Distinct days in [admission date, discharge date) with an item performed on them."""
    visit = env["visit"]
    if visit.admitted_at is None or visit.discharged_at is None:
        return 0
    start, end = visit.admitted_at.date(), visit.discharged_at.date()
    days = {
        i.performed_at.date()
        for i in env["items"]
        if i.performed_at is not None and start <= i.performed_at.date() < end
    }
    return len(days)


_NUM = frozenset({T.NUM})
_DAY = frozenset({T.DATE, T.DATETIME})
_LIST = frozenset({T.LIST})
_ORDERED = frozenset(T.ORDERED)

FUNCTIONS: dict[str, Function] = {
    "len": Function(
        lambda v: 0 if v is None else len(v),
        arity=(1, 1),
        args=(frozenset({T.LIST, T.STR}),),
        returns=T.NUM,
    ),
    "min": Function(min, arity=(1, 8), args=(_ORDERED,), returns=T.SAME),
    "max": Function(max, arity=(1, 8), args=(_ORDERED,), returns=T.SAME),
    "abs": Function(abs, arity=(1, 1), args=(_NUM,), returns=T.NUM),
    "startswith_any": Function(startswith_any, arity=(2, 2), args=(_LIST,), returns=T.BOOL),
    "age_on": Function(age_on, arity=(2, 2), args=(_DAY,), returns=T.NUM),
    "days_between": Function(days_between, arity=(2, 2), args=(_DAY,), returns=T.NUM),
    "date_of": Function(date_of, arity=(1, 1), args=(_DAY,), returns=T.DATE),
    "over": Function(over, arity=(2, 3), args=(_NUM,), returns=T.BOOL),
    "agreement_lapsed": Function(
        agreement_lapsed,
        arity=(2, 2),
        args=(frozenset({InstitutionRow}), _DAY),
        returns=T.BOOL,
    ),
    "same_charge_count": Function(
        same_charge_count, needs_env=True, arity=(1, 1), args=(frozenset({Item}),), returns=T.NUM
    ),
    "billed": Function(billed, needs_env=True, arity=(1, 1), args=(_LIST,), returns=T.BOOL),
    "billed_ids": Function(billed_ids, needs_env=True, arity=(1, 1), args=(_LIST,), returns=T.LIST),
    "stay_days": Function(stay_days, needs_env=True, arity=(0, 0), returns=T.NUM),
    "treated_days": Function(treated_days, needs_env=True, arity=(0, 0), returns=T.NUM),
}
