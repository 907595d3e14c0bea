"""Write the plan as events.jsonl: contract §1 events in `occurred_at` order, plus broken lines.

Only a small index (minute, sequence, what) is sorted; each event's JSON is made when it
is written, so memory stays proportional to the plan, not to the output.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from claimguard.synth.clock import Clock, day_of
from claimguard.synth.settlement import EventType, Line, Settlement

PRECHECK, SETTLE, SETTLED, REVERSAL = range(4)
_KINDS = 4
_TYPE_OF: dict[int, EventType] = {
    PRECHECK: "precheck",
    SETTLE: "settle",
    SETTLED: "settled",
    REVERSAL: "reversal",
}
BROKEN_SHARE = 0.001
BROKEN_VARIANTS = (
    "not_json",
    "missing_fields",
    "negative_quantity",
    "bad_timestamp",
    "truncated_json",
    "unknown_event_type",
)
MIN_BROKEN = len(BROKEN_VARIANTS)  # every kind of breakage at least once
_NOT_JSON = (
    b"<html><head><title>502 Bad Gateway</title></head></html>",
    b"settle;S20260301;H32060238914;P0000000001;128.50",
    b"not json at all",
)
_BAD_TIMES = ("yesterday", "2026-02-30T09:00:00+08:00", "2026-03-05 09:00", "2026-03-05T09:00:00")
_FLUSH_EVERY = 2048


@dataclass(slots=True)
class EventsStats:
    lines: int
    by_type: Counter[str]
    broken: int
    redelivered: int


class EventsWriter:
    def __init__(self, clock: Clock, plan: list[Settlement], rng: random.Random) -> None:
        self.clock = clock
        self.plan = plan
        self.rng = rng
        self._settlements = 0
        self._events = 0
        self._institutions: dict[str, dict[str, Any]] = {}

    # -- ids ---------------------------------------------------------------------------

    def _event_id(self) -> str:
        self._events += 1
        return f"E{self._events:012d}"

    def _name(self, s: Settlement, minute: int) -> None:
        """Settlement and visit ids, given in order of first appearance in the file."""
        self._settlements += 1
        stamp = self.clock.date(day_of(minute)).strftime("%Y%m%d")
        s.settlement_id = f"S{stamp}{self._settlements:07d}"
        s.visit_id = f"V{stamp}{self._settlements:07d}"

    # -- rendering ---------------------------------------------------------------------

    def _patient(self, s: Settlement) -> dict[str, Any]:
        p = s.person  # not cached: there are about as many patients as settlements
        return {
            "person_id": p.person_id,
            "gender": p.gender,
            "birth_date": p.birth_date.isoformat(),
            "insured_region": p.county.code,
            "scheme": p.scheme,
        }

    def _institution(self, s: Settlement) -> dict[str, Any]:
        i = s.institution
        cached = self._institutions.get(i.code)
        if cached is None:
            cached = {"code": i.code, "level": i.level, "kind": i.kind, "region": i.region}
            self._institutions[i.code] = cached
        return cached

    def _item(self, number: int, line: Line) -> dict[str, Any]:
        item: dict[str, Any] = {
            "item_id": str(number),
            "code": line.code,
            "kind": line.kind,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "amount": line.amount,
        }
        if line.days is not None:
            item["days"] = line.days
        if line.performed_at is not None:
            item["performed_at"] = self.clock.stamp(line.performed_at)
        if line.self_paid:
            item["self_paid"] = True
        return item

    def _event(
        self, s: Settlement, event_type: EventType, minute: int, event_id: str
    ) -> dict[str, Any]:
        stamp = self.clock.stamp
        event: dict[str, Any] = {
            "event_id": event_id,
            "event_type": event_type,
            "occurred_at": stamp(minute),
            "settlement_id": s.settlement_id,
        }
        if event_type == "reversal" and not s.reversal_full:
            event["patient"] = self._patient(s)  # lets a publisher key it by person
            return event
        visit: dict[str, Any] = {"visit_id": s.visit_id, "visit_type": s.visit_type}
        lines = list(enumerate(s.lines, 1))
        if s.admitted_at is not None:
            visit["admitted_at"] = stamp(s.admitted_at)
            if event_type == "precheck":
                admit_day = day_of(s.admitted_at)
                lines = [(n, ln) for n, ln in lines if s.line_day(ln) == admit_day]
            else:
                visit["discharged_at"] = stamp(s.at)
        visit["department"] = s.department
        visit["doctor_code"] = s.doctor_code
        visit["diagnoses"] = list(s.diagnoses)
        if s.holder_id is not None:
            visit["prescription_holder_id"] = s.holder_id
        event["visit"] = visit
        event["institution"] = self._institution(s)
        event["patient"] = self._patient(s)
        event["items"] = [self._item(n, ln) for n, ln in lines]
        return event

    def _broken(self, variant: str, template: Settlement, minute: int) -> bytes:
        rng = self.rng
        if variant == "not_json":
            return rng.choice(_NOT_JSON)
        ghost_id = f"S{self.clock.date(day_of(minute)):%Y%m%d}X{rng.randrange(10**6):06d}"
        saved = template.settlement_id
        template.settlement_id = ghost_id
        kind: EventType = "settled" if template.visit_type == "inpatient" else "settle"
        event = self._event(template, kind, minute, self._event_id())
        template.settlement_id = saved
        if variant == "truncated_json":
            raw = orjson.dumps(event)
            return raw[: rng.randint(20, len(raw) - 2)]
        if variant == "missing_fields":
            del event[rng.choice(("patient", "settlement_id", "visit", "event_id"))]
        elif variant == "negative_quantity":
            item = dict(event["items"][0])
            item["quantity"] = -abs(item["quantity"])
            item["amount"] = -abs(item["amount"])
            event["items"] = [item, *event["items"][1:]]
        elif variant == "bad_timestamp":
            event["occurred_at"] = rng.choice(_BAD_TIMES)
        else:
            event["event_type"] = rng.choice(("refund", "SETTLE", ""))
        return orjson.dumps(event)

    # -- the file ----------------------------------------------------------------------

    def _schedule(self) -> list[int]:
        """Sort keys `minute << 32 | seq`; `seq` is 4 × settlement index + event kind, or
        4 × len(plan) + k for the k-th broken line. Plain ints keep the index small."""
        keys: list[int] = []
        for index, s in enumerate(self.plan):
            seq = index * _KINDS
            if s.precheck:
                keys.append(s.precheck_at << 32 | seq + PRECHECK)
            if s.visit_type != "inpatient":
                keys.append(s.at << 32 | seq + SETTLE)
            keys.append(s.at << 32 | seq + SETTLED)
            if s.reversal_at is not None:
                keys.append(s.reversal_at << 32 | seq + REVERSAL)
        broken = max(MIN_BROKEN, round(len(keys) * BROKEN_SHARE))
        last = max(k >> 32 for k in keys)
        first_broken = len(self.plan) * _KINDS
        for k in range(broken):
            keys.append(self.rng.randint(0, last) << 32 | first_broken + k)
        self._broken_plan = [
            (BROKEN_VARIANTS[k % len(BROKEN_VARIANTS)], self.rng.choice(self.plan))
            for k in range(broken)
        ]
        keys.sort()
        return keys

    def write(self, path: Path) -> EventsStats:
        by_type: Counter[str] = Counter()
        redelivered = 0
        buffer: list[bytes] = []
        dumps = orjson.dumps
        with path.open("wb") as handle:
            first_broken = len(self.plan) * _KINDS
            for key in self._schedule():
                minute, seq = key >> 32, key & 0xFFFFFFFF
                if seq >= first_broken:
                    variant, template = self._broken_plan[seq - first_broken]
                    buffer.append(self._broken(variant, template, minute))
                    by_type["broken"] += 1
                else:
                    index, kind = divmod(seq, _KINDS)
                    s = self.plan[index]
                    if not s.settlement_id:
                        self._name(s, minute)
                    event_type = _TYPE_OF[kind]
                    line = dumps(self._event(s, event_type, minute, self._event_id()))
                    buffer.append(line)
                    by_type[event_type] += 1
                    if s.redeliver == event_type:  # at-least-once delivery: same bytes again
                        buffer.append(line)
                        redelivered += 1
                if len(buffer) >= _FLUSH_EVERY:
                    handle.write(b"\n".join(buffer) + b"\n")
                    buffer.clear()
            if buffer:
                handle.write(b"\n".join(buffer) + b"\n")
        lines = sum(by_type.values()) + redelivered
        return EventsStats(lines, by_type, by_type["broken"], redelivered)
