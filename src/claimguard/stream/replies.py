"""Answers to repeated checks: the decisions the worker gave recently, by event_id.

`claimguard serve` holds no patient state, so a repeated event_id that it has not cached
(another instance took the first one long ago, or it restarted) is published again with
the `claimguard-reply` header. To the engine that is a duplicate: nothing is evaluated,
stored or published on the decisions topic (exactly one decision per distinct event). The
pipeline re-sends the decision it gave, from this bounded cache of the records it
published, on the replies topic. Raw bytes: nothing here is scanned by the collector.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from claimguard.stream.messages import REPLY_HEADER, Record


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


def wants_reply(headers: Any) -> bool:
    if not headers:
        return False
    items = headers.items() if hasattr(headers, "items") else headers
    return any(name == REPLY_HEADER for name, _ in items)
