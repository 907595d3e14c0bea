"""Answers to repeated checks: the decisions the worker gave recently, by event_id.

`claimguard serve` holds no patient state, so a repeated event_id that it has not cached
(another instance took the first one long ago, or it restarted) is published again with
the `claimguard-reply` header. To the engine that is a duplicate: nothing is evaluated,
stored or published on the decisions topic (exactly one decision per distinct event). The
pipeline re-sends the decision it gave, from this bounded cache of the records it
published, on the replies topic. Raw bytes: nothing here is scanned by the collector.
A repeat older than this cache (or after a restart) is answered after the epoch's flush
from the findings stored for it (pipeline `_reply_from_store`).
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import Any

from claimguard.model import Decision, Event, Finding, verdict_of
from claimguard.stream.messages import REPLY_HEADER, Record, decision_record


class RecentDecisions:
    def __init__(self, topic: str, size: int = 50_000) -> None:
        self.topic = topic
        self.size = size
        self._records: OrderedDict[str, Record] = OrderedDict()
        self.replied = 0
        self.missed = 0

    def remember(self, event_id: str, record: Record) -> None:
        records = self._records
        records[event_id] = record
        if len(records) > self.size:
            records.popitem(last=False)

    def reply(self, event_id: str, headers: Any) -> Record | None:
        """The reply to a repeated event, if it asked for one and its decision is known."""
        if not wants_reply(headers):
            return None
        record = self._records.get(event_id)
        if record is None:
            self.missed += 1
            return None
        self.replied += 1
        return Record(self.topic, record.key, record.value)

    def needs_lookup(self, event: Event, headers: Any) -> bool:
        """A repeated check that asked for a reply whose decision is not in memory."""
        return event.event_type in ("precheck", "settle") and wants_reply(headers)

    def rebuilt(self, event: Event, findings: list[Finding]) -> Record:
        """The decision of a repeated check from its stored findings (its own findings are
        exactly the decision's: contract §7), as a reply record; remembered."""
        own = [f for f in findings if f.event_type in ("precheck", "settle")]
        decision = Decision(
            event_id=event.event_id,
            settlement_id=event.settlement_id,
            event_type=event.event_type,  # type: ignore[arg-type]
            verdict=verdict_of(own),
            findings=own,
            decided_at=dt.datetime.now(dt.UTC),
        )
        record = decision_record(self.topic, decision)
        self.remember(event.event_id, record)
        self.replied += 1
        return record


def wants_reply(headers: Any) -> bool:
    if not headers:
        return False
    items = headers.items() if hasattr(headers, "items") else headers
    return any(name == REPLY_HEADER for name, _ in items)
