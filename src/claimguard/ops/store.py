"""The store as the worker sees it, measured: every call's duration in
`claimguard_store_write_seconds`, and `claimguard_store_write_failures_total` counting only
calls that failed because the store was *unavailable*. A row the store refuses for good
(StoreError) is the row's fault, kept in claimguard.finding_dead_letters and counted by
`claimguard_store_rejected_total`, not "store down"."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from claimguard.model import Finding
from claimguard.ops.metrics import STORE_WRITE_SECONDS, WorkerMetrics
from claimguard.store import StoreUnavailable

T = TypeVar("T")


class MeasuredStore:
    """Wraps a finding sink (FindingStore, or the fault switch around it). Forwards every
    method the worker uses; anything else is forwarded unmeasured."""

    def __init__(self, sink: Any, metrics: WorkerMetrics) -> None:
        self.sink = sink
        self.metrics = metrics

    def _timed(self, call: Callable[[], T], *, observe: bool = True) -> T:
        started = time.perf_counter()
        try:
            result = call()
        except StoreUnavailable:
            self.metrics.store_write_failures += observe
            self.metrics.store_up = False
            raise
        if observe:
            STORE_WRITE_SECONDS.observe(time.perf_counter() - started)
        self.metrics.store_up = True
        return result

    def write(self, findings: Sequence[Finding]) -> int:
        return int(self._timed(lambda: self.sink.write(findings)))

    def mark_reversed(self, settlement_ids: Sequence[str]) -> int:
        return int(self._timed(lambda: self.sink.mark_reversed(settlement_ids)))

    def dead_letter(self, rejected: Sequence[Any]) -> int:
        return int(self._timed(lambda: self.sink.dead_letter(rejected)))

    def archive_events(self, rows: Sequence[Any]) -> int:
        return int(self._timed(lambda: self.sink.archive_events(rows)))

    def write_lines(self, rows: Sequence[Sequence[Any]]) -> int:
        return int(self._timed(lambda: self.sink.write_lines(rows)))

    def ping(self) -> None:
        """Readiness: is the store reachable? (not a write: not in the write metrics)"""
        ping = getattr(self.sink, "ping", None)
        if ping is not None:
            self._timed(ping, observe=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sink, name)
