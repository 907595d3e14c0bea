"""Patient histories: working copies in memory, the Faust table (and its changelog) as truth.

The table is keyed by person_id and written to the changelog partition of the input
message, so it is partitioned like `claims.events` and Faust assigns, recovers and hands
over each table partition together with its input partition.

Working copies save a `from_bytes` per event. A copy changed since the last seal is
"dirty"; `seal()` serialises the dirty copies into a snapshot, whose changelog records the
pipeline publishes once the findings of the same events are stored, and `adopt()` puts it
into the table once the broker has them. Only copies not dirty are evicted when the cache
is full; a rebalance clears it (the table is then the only truth).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from claimguard.engine import PatientHistory
from claimguard.stream.messages import Record

Snapshot = list[tuple[bytes, int, bytes]]  # (table key, changelog partition, value)
CHANGELOG_SUFFIX = "-changelog"


class HistoryCache:
    def __init__(self, table: Any, capacity: int = 200_000) -> None:
        self.table = table
        self.capacity = capacity
        self._live: OrderedDict[str, PatientHistory] = OrderedDict()
        self._dirty: dict[str, int] = {}  # person → partition, changed since the last seal
        self.loaded = 0  # histories read from the table (restored, or evicted earlier)

    def get(self, person: str) -> PatientHistory:
        history = self._live.get(person)
        if history is not None:
            self._live.move_to_end(person)
            return history
        raw = self.table.data.get(person.encode())
        if raw:
            history = PatientHistory.from_bytes(raw)
            self.loaded += 1
        else:
            history = PatientHistory()
        self._live[person] = history
        return history

    def touched(self, person: str, partition: int) -> None:
        self._dirty[person] = partition

    def seal(self) -> Snapshot:
        """Serialise every history changed since the last seal."""
        live = self._live
        snapshot = [
            (person.encode(), partition, live[person].to_bytes())
            for person, partition in self._dirty.items()
        ]
        self._dirty = {}
        return snapshot

    @property
    def changelog_topic(self) -> str:
        return str(self.table.changelog_topic.get_topic_name())

    def changelog_records(self, snapshot: Snapshot) -> list[Record]:
        """The changelog records of a sealed snapshot, each to its input partition."""
        topic = self.changelog_topic
        return [Record(topic, key, value, None, partition) for key, partition, value in snapshot]

    def adopt(self, snapshot: Snapshot) -> None:
        """The snapshot's changelog records are acknowledged: make them the table's state
        (read on a cache miss), then trim the cache."""
        data = self.table.data
        for key, _, value in snapshot:
            data[key] = value
        self._evict()

    def _evict(self) -> None:
        excess = len(self._live) - self.capacity
        if excess <= 0:
            return
        for person in list(self._live)[: excess + len(self._dirty)]:
            if excess <= 0:
                break
            if person not in self._dirty:
                del self._live[person]
                excess -= 1

    def clear(self) -> None:
        """Forget every working copy (after a rebalance, or when a batch is abandoned)."""
        self._live.clear()
        self._dirty.clear()

    def __len__(self) -> int:
        return len(self._live)
