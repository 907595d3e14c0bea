"""BatchWriter: buffers the stream worker's findings and reversals, flushes by size or age.

The caller drives it and owns the offsets:

    writer.add(outcome.findings); writer.reverse(outcome.reversed_settlements)
    if writer.due():
        retrying(writer.flush)      # raises/retries while the store is down
        commit offsets              # only now is everything added so far durable

No background thread: a flush that fails must fail in the caller, so that offsets past
unwritten rows are never committed. A failed flush keeps its buffer; writes are
idempotent, so flushing the same buffer again is safe. Not thread-safe.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, Protocol

from claimguard.model import Event
from claimguard.model.findings import Finding
from claimguard.store.errors import StoreError, StoreUnavailable
from claimguard.store.isolation import finding_json, write_isolating

log = logging.getLogger("claimguard.store")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FindingSink(Protocol):
    def write(self, findings: Sequence[Finding]) -> int: ...
    def mark_reversed(self, settlement_ids: Sequence[str]) -> int: ...


class Flushed(NamedTuple):
    findings: int  # findings handed to the store
    inserted: int  # of those, rows the store did not have yet
    reversals: int  # settlements whose reversal was applied
    marked: int  # findings newly marked reversed
    rejected: int = 0  # findings the store refused, kept in the dead-letter table


class BatchWriter:
    def __init__(
        self,
        store: FindingSink,
        max_rows: int = 5_000,
        max_delay: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.max_rows = max_rows
        self.max_delay = max_delay
        self._clock = clock
        self._findings: list[Finding] = []
        self._reversals: list[str] = []
        self._lines: list[list[object]] = []  # settled line totals (ZB indicators)
        self._oldest: float | None = None  # clock() when the buffer became non-empty

    def add(self, findings: Iterable[Finding]) -> None:
        before = len(self._findings)
        self._findings.extend(findings)
        if len(self._findings) > before:
            self._started()

    def reverse(self, settlement_ids: Iterable[str]) -> None:
        before = len(self._reversals)
        self._reversals.extend(settlement_ids)
        if len(self._reversals) > before:
            self._started()

    def add_settled(self, event: Event) -> None:
        """Keep a settled event's line totals for the indicators (other events: nothing).
        They ride with the findings: flushed together, retried together."""
        if event.event_type != "settled" or not hasattr(self.store, "write_lines"):
            return
        from claimguard.store.settled_lines import line_rows

        self._lines.extend(line_rows(event, _utcnow()))

    def _write_lines(self, isolating: bool) -> None:
        if not self._lines:
            return
        try:
            self.store.write_lines(self._lines)  # type: ignore[attr-defined]
        except StoreUnavailable:
            raise
        except StoreError as exc:
            if not isolating:
                raise
            # permanent: the indicators lose these settlements, the stream goes on
            log.error("settled line totals of %d rows not stored: %s", len(self._lines), exc)
        self._lines = []

    def _started(self) -> None:
        if self._oldest is None:
            self._oldest = self._clock()

    @property
    def pending(self) -> int:
        return len(self._findings) + len(self._reversals)

    def age(self) -> float:
        """Seconds since the oldest buffered item arrived (0 when empty)."""
        return 0.0 if self._oldest is None else self._clock() - self._oldest

    def due(self) -> bool:
        if self.pending == 0:
            return False
        return self.pending >= self.max_rows or self.age() >= self.max_delay

    def flush_if_due(self) -> Flushed | None:
        return self.flush() if self.due() else None

    def flush(self) -> Flushed:
        """Write buffered findings, then apply buffered reversals (so a reversal reaches
        findings of the same batch). Raises StoreUnavailable/StoreError on failure with
        everything not yet stored still buffered."""
        findings, inserted = len(self._findings), 0
        if self._findings:
            inserted = self.store.write(self._findings)
            self._findings = []
        self._write_lines(isolating=False)
        reversals, marked = len(self._reversals), 0
        if self._reversals:
            marked = self.store.mark_reversed(self._reversals)
            self._reversals = []
        self._oldest = None
        return Flushed(findings, inserted, reversals, marked)

    def flush_isolating(self) -> Flushed:
        """flush(), but a permanent store error costs only the rows it concerns: they go to
        the dead-letter table (`store.dead_letter`) and the rest is written. Raises only
        StoreUnavailable (retry later), with everything not yet stored still buffered."""
        findings, inserted, rejected = len(self._findings), 0, 0
        if self._findings:
            inserted, refused = write_isolating(self.store, self._findings)
            if refused:
                rejected = len(refused)
                for r in refused:
                    log.error("finding %s refused by the store: %s", r.finding.finding_id, r.reason)
                try:
                    self.store.dead_letter(refused)
                except StoreUnavailable:
                    raise
                except StoreError as exc:  # nowhere left to keep them: the log has them
                    for r in refused:
                        log.error(
                            "dead-letter table refused too (%s): %s", exc, finding_json(r.finding)
                        )
            self._findings = []
        self._write_lines(isolating=True)
        reversals, marked = len(self._reversals), 0
        if self._reversals:
            try:
                marked = self.store.mark_reversed(self._reversals)
            except StoreUnavailable:
                raise
            except StoreError as exc:  # permanent: retrying would wedge the stream
                log.error("reversals of %s not marked: %s", self._reversals, exc)
            self._reversals = []
        self._oldest = None
        return Flushed(findings, inserted, reversals, marked, rejected)
