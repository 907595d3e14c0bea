"""A patient's cross-event state: settled settlements in event-time order, the event ids seen,
the flags raised and the settlements reversed. Plain data, serialisable for a changelog."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import orjson

from claimguard.model import Event
from claimguard.rules.windows import ItemRec, SettledRec

DAY_SECONDS = 86_400.0


@dataclass
class PatientHistory:
    records: list[SettledRec] = field(default_factory=list)  # sorted by (t, seq)
    seen: dict[str, int] = field(default_factory=dict)  # event_id → day it arrived for
    digests: dict[str, str] = field(default_factory=dict)  # event_id → content digest
    flagged: dict[str, int] = field(default_factory=dict)  # "sid|rule_id" → day
    reversed: dict[str, int] = field(default_factory=dict)  # settlement_id → day
    seq: int = 0
    latest_day: int = 0  # of the latest settled event: the windows' retention follows it
    event_day: int = 0  # of the latest accepted event of any type: the dedupe table's

    def insert(self, record: SettledRec) -> int:
        """Insert in event-time order (replacing a record of the same settlement); → index."""
        self.remove(record.sid)
        records = self.records
        last = records[-1] if records else None
        if last is None or (last.t, last.seq) < (record.t, record.seq):
            records.append(record)  # the usual case: events arrive in event-time order
            return len(records) - 1
        index = bisect.bisect(records, (record.t, record.seq), key=lambda r: (r.t, r.seq))
        records.insert(index, record)
        return index

    def remove(self, settlement_id: str) -> bool:
        for i, record in enumerate(self.records):
            if record.sid == settlement_id:
                del self.records[i]
                return True
        return False

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def prune(self, retention_days: int) -> None:
        """Forget what no window can look at any more; keeps a patient's state bounded."""
        cutoff = self.latest_day - retention_days
        # Runs after every event and usually finds nothing: look first, cheaply, then rebuild.
        records = self.records
        for record in records:
            if record.horizon < cutoff:
                self.records = [r for r in records if r.horizon >= cutoff]
                break
        for table in (self.flagged, self.reversed):
            if table and min(table.values()) < cutoff:
                for key in [key for key, day in table.items() if day < cutoff]:
                    del table[key]
        # Event ids age with every accepted event (a patient may send only prechecks); the
        # engine's watermark bounds how far ahead an accepted event can be.
        seen_cutoff = max(self.latest_day, self.event_day) - retention_days
        seen = self.seen
        if seen and min(seen.values()) < seen_cutoff:
            for key in [key for key, day in seen.items() if day < seen_cutoff]:
                del seen[key]
                self.digests.pop(key, None)

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "r": self.records,
                "s": self.seen,
                "h": self.digests,
                "f": self.flagged,
                "x": self.reversed,
                "q": self.seq,
                "d": self.latest_day,
                "e": self.event_day,
            },
            default=tuple,  # records are NamedTuples, which orjson leaves to `default`
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> PatientHistory:
        data = orjson.loads(raw)
        records = [
            SettledRec(*r[:-1], tuple(ItemRec(*i) for i in r[-1])) for r in data.get("r", [])
        ]
        return cls(
            records=records,
            seen=data.get("s", {}),
            digests=data.get("h", {}),
            flagged=data.get("f", {}),
            reversed=data.get("x", {}),
            seq=data.get("q", 0),
            latest_day=data.get("d", 0),
            event_day=data.get("e", 0),
        )


def record_of(event: Event, seq: int) -> SettledRec:
    """The window-relevant facts of a settled event."""
    assert event.visit and event.institution and event.patient and event.items is not None
    visit, occurred = event.visit, event.occurred_at
    day = occurred.date().toordinal()
    # One pass, positional NamedTuples: this runs for every settled event.
    items = tuple(
        [
            ItemRec(
                i.item_id,
                i.code,
                i.kind,
                i.quantity,
                i.days,
                i.performed_at.date().toordinal() if i.performed_at else day,
                i.amount,
            )
            for i in event.items
        ]
    )
    admitted, discharged = visit.admitted_at, visit.discharged_at
    dis_day = discharged.date().toordinal() if discharged else None
    horizon = max([day, dis_day or day, *[i.day + (i.days or 1) for i in items]])
    return SettledRec(
        event.settlement_id,
        event.event_id,
        seq,
        occurred.timestamp(),
        day,
        occurred.isoformat(),
        event.institution.code,
        event.institution.region,
        event.institution.level,
        event.patient.insured_region,
        visit.visit_type,
        admitted.timestamp() if admitted else None,
        admitted.date().toordinal() if admitted else None,
        discharged.timestamp() if discharged else None,
        dis_day,
        round(sum([i.amount for i in items]), 2),
        horizon,
        items,
    )
