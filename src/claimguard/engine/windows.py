"""Cross-event checks over a patient's history, defined on event time (contract §3).

Each kind answers two questions: which records a newly inserted one may change the verdict
of (`targets`), and whether one record is hit (`check`). Sequential kinds look only at the
target and the records before it in event-time order, so a late event yields exactly the
flags in-order processing yields; `stay_overlap` is symmetric ("whichever settles first").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from claimguard.knowledge import KnowledgeBase
from claimguard.rules import windows as kinds
from claimguard.rules.windows import SettledRec

DAY = 86_400.0


class Hit(NamedTuple):
    item_ids: tuple[str, ...]  # empty: the whole settlement
    detail: Any  # kind-specific figure for the message


Check = Callable[[list[SettledRec], int, Any, KnowledgeBase], Hit | None]


def sequential_targets(records: list[SettledRec], index: int, params: Any) -> Iterable[int]:
    return range(index, len(records))


def _same_day_institutions(
    records: list[SettledRec], i: int, p: kinds.SameDayInstitutions, kb: KnowledgeBase
) -> Hit | None:
    if i + 1 < p.min_institutions:
        return None  # fewer records than institutions needed (most patients: one or two)
    day = records[i].day
    institutions = {r.inst for r in records[: i + 1] if r.day == day}
    return Hit((), len(institutions)) if len(institutions) >= p.min_institutions else None


def _visit_count(
    records: list[SettledRec], i: int, p: kinds.VisitCount, kb: KnowledgeBase
) -> Hit | None:
    if i + 1 < p.min_visits:
        return None  # fewer records than visits needed
    target = records[i]
    if target.visit_type not in p.visit_types:
        return None
    start = target.t - p.window_days * DAY
    count = sum(
        1 for r in records[: i + 1] if r.visit_type in p.visit_types and start < r.t <= target.t
    )
    return Hit((), count) if count >= p.min_visits else None


def _repeat_dispense(
    records: list[SettledRec], i: int, p: kinds.RepeatDispense, kb: KnowledgeBase
) -> Hit | None:
    if i == 0:
        return None  # nothing dispensed before
    target = records[i]
    wanted = {item.code for item in target.items if item.kind == "drug"}
    if not wanted:
        return None
    # The earlier dispenses of the wanted codes, in record then item order: one pass over
    # the history instead of one per item (a settlement may bill thousands of items).
    earlier: dict[str, list[tuple[int, int]]] = {}
    for record in records[:i]:
        for other in record.items:
            if other.kind == "drug" and other.code in wanted:
                earlier.setdefault(other.code, []).append((other.day, other.days or 1))
    hit_ids: list[str] = []
    most_left = 0
    for item in target.items:
        if item.kind != "drug":
            continue
        for day, days in earlier.get(item.code, ()):
            if day > item.day:
                continue
            left = day + days - item.day
            if left > p.max_remaining_days:
                hit_ids.append(item.item_id)
                most_left = max(most_left, left)
                break
    return Hit(tuple(hit_ids), most_left) if hit_ids else None


def _readmission(
    records: list[SettledRec], i: int, p: kinds.Readmission, kb: KnowledgeBase
) -> Hit | None:
    target = records[i]
    if target.visit_type != "inpatient" or target.adm_day is None:
        return None
    for earlier in records[:i]:
        if earlier.visit_type == "inpatient" and earlier.inst == target.inst and earlier.dis_day:
            gap = target.adm_day - earlier.dis_day
            if p.min_gap_days <= gap <= p.max_gap_days:
                return Hit((), gap)
    return None


def _overlap_targets(records: list[SettledRec], index: int, p: kinds.StayOverlap) -> list[int]:
    new = records[index]
    if new.visit_type != "inpatient":
        return [index]
    return [i for i, r in enumerate(records) if _inside(r, new, p)]


def _inside(visit: SettledRec, stay: SettledRec, p: kinds.StayOverlap) -> bool:
    return (
        visit.visit_type in p.visit_types
        and stay.visit_type == "inpatient"
        and stay.inst != visit.inst
        and stay.adm_t is not None
        and stay.dis_t is not None
        and stay.adm_t <= visit.t < stay.dis_t
    )


def _stay_overlap(
    records: list[SettledRec], i: int, p: kinds.StayOverlap, kb: KnowledgeBase
) -> Hit | None:
    visit = records[i]
    for stay in records:
        if _inside(visit, stay, p):
            return Hit((), stay.sid)
    return None


def _daily_quantity(
    records: list[SettledRec], i: int, p: kinds.DailyQuantity, kb: KnowledgeBase
) -> Hit | None:
    target = records[i]
    hit_ids: list[str] = []
    worst = 0.0
    limits: dict[tuple[str, int], float] = {}
    for item in target.items:
        ref = kb.items.get(item.code)
        if ref is not None and ref.max_per_day is not None:
            limits[(item.code, item.day)] = ref.max_per_day
    if not limits:
        return None
    # One pass over the history for every limited (code, day), summed in the same order.
    totals: dict[tuple[str, int], float] = {}
    for r in records[: i + 1]:
        for it in r.items:
            key = (it.code, it.day)
            if key in limits:
                totals[key] = totals.get(key, 0) + it.qty
    own: dict[tuple[str, int], list[str]] = {}
    for it in target.items:
        own.setdefault((it.code, it.day), []).append(it.item_id)
    for key, limit in limits.items():
        total = totals.get(key, 0)
        if total > limit:
            worst = max(worst, total)
            hit_ids.extend(own.get(key, ()))
    return Hit(tuple(hit_ids), worst) if hit_ids else None


Targets = Callable[[list[SettledRec], int, Any], Iterable[int]]


class WindowKind(NamedTuple):
    targets: Targets
    check: Check


IMPLEMENTATIONS: dict[str, WindowKind] = {
    "same_day_institutions": WindowKind(sequential_targets, _same_day_institutions),
    "visit_count": WindowKind(sequential_targets, _visit_count),
    "repeat_dispense": WindowKind(sequential_targets, _repeat_dispense),
    "readmission": WindowKind(sequential_targets, _readmission),
    "stay_overlap": WindowKind(_overlap_targets, _stay_overlap),
    "daily_quantity": WindowKind(sequential_targets, _daily_quantity),
}

assert set(IMPLEMENTATIONS) == set(kinds.WINDOW_KINDS), "every window kind needs an implementation"
