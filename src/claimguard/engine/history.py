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
    flagged: dict[str, int] = field(default_factory=dict)  # "sid|rule_id" → day
    reversed: dict[str, int] = field(default_factory=dict)  # settlement_id → day
    seq: int = 0
    latest_day: int = 0

    def insert(self, record: SettledRec) -> int:
        """Insert in event-time order (replacing a record of the same settlement); → index."""
        self.remove(record.sid)
        index = bisect.bisect(self.records, (record.t, record.seq), key=lambda r: (r.t, r.seq))
        self.records.insert(index, record)
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
        if any(r.horizon < cutoff for r in self.records):
            self.records = [r for r in self.records if r.horizon >= cutoff]
        for table in (self.seen, self.flagged, self.reversed):
            stale = [key for key, day in table.items() if day < cutoff]
            for key in stale:
                del table[key]

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "r": self.records,
                "s": self.seen,
                "f": self.flagged,
                "x": self.reversed,
                "q": self.seq,
                "d": self.latest_day,
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
            flagged=data.get("f", {}),
            reversed=data.get("x", {}),
            seq=data.get("q", 0),
            latest_day=data.get("d", 0),
        )


def record_of(event: Event, seq: int) -> SettledRec:
    """The window-relevant facts of a settled event."""
    assert event.visit and event.institution and event.patient and event.items is not None
    visit, day = event.visit, event.date.toordinal()
    items = tuple(
        ItemRec(
            item_id=i.item_id,
            code=i.code,
            kind=i.kind,
            qty=i.quantity,
            days=i.days,
            day=(i.performed_at.date() if i.performed_at else event.date).toordinal(),
            amount=i.amount,
        )
        for i in event.items
    )
    dis_day = visit.discharged_at.date().toordinal() if visit.discharged_at else None
    horizon = max([day, dis_day or day, *(i.day + (i.days or 1) for i in items)])
    return SettledRec(
        sid=event.settlement_id,
        eid=event.event_id,
        seq=seq,
        t=event.occurred_at.timestamp(),
        day=day,
        occurred_at=event.occurred_at.isoformat(),
        inst=event.institution.code,
        inst_region=event.institution.region,
        inst_level=event.institution.level,
        insured_region=event.patient.insured_region,
        visit_type=visit.visit_type,
        adm_t=visit.admitted_at.timestamp() if visit.admitted_at else None,
        adm_day=visit.admitted_at.date().toordinal() if visit.admitted_at else None,
        dis_t=visit.discharged_at.timestamp() if visit.discharged_at else None,
        dis_day=dis_day,
        total=round(sum(i.amount for i in items), 2),
        horizon=horizon,
        items=items,
    )
