"""The worker's pipeline: a batch of input messages → engine → decisions, dead letters,
findings; then, per sealed epoch, store → history changelog → offsets.

Ordering is what makes it lossless (at-least-once with idempotent effects):

1. Each batch is decoded and evaluated at once; decisions and dead letters are sent
   immediately (their latency does not wait for the store) and the findings, reversals,
   messages and touched histories accumulate in the open *epoch*.
2. An epoch is sealed when it is big or old enough: the touched histories are serialised
   right then, so the snapshot matches exactly the events of the epoch. One sealed epoch
   at a time is flushed in the background while the next one fills: it awaits the broker's
   acknowledgement of its decisions and dead letters, writes its findings and reversals to
   the store (retrying with backoff while the store is unavailable; rows it refuses for
   good are isolated and kept in its dead-letter table, see store/isolation.py), publishes its
   histories to the Faust table's changelog and awaits those acknowledgements too, and only
   then acks its messages; Faust commits acked offsets. So a committed offset always
   follows stored findings, published decisions and a persisted history.
3. If the next epoch is due while the previous one is still flushing (e.g. the store is
   down), the batch handler waits: the consumer stops fetching instead of dropping.

A crash re-delivers everything after the last committed offset. Events whose history was
persisted are duplicates to the engine (nothing new); the others are evaluated again from
the persisted history and yield the same deterministic finding ids, which the store folds.
Decisions of such events can be published twice: consumers dedupe by event_id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from faust.types import Message

from claimguard.archive.events import event_row
from claimguard.decode import DecodeError, decode_with_digest
from claimguard.engine import Engine, PatientHistory
from claimguard.model import Event
from claimguard.store import (
    Backoff,
    BatchWriter,
    Flushed,
    StoreError,
    StoreUnavailable,
    retrying_async,
)
from claimguard.store.isolation import StoreRefusesEverything
from claimguard.stream.histories import HistoryCache, Snapshot
from claimguard.stream.messages import Record, dead_letter_record, decision_record
from claimguard.stream.replies import RecentDecisions
from claimguard.stream.stats import PipelineStats
from claimguard.stream.topics import TopicNames

log = logging.getLogger("claimguard.stream")

Send = Callable[[Record], Awaitable[Awaitable[Any]]]
CHUNK = 250  # events evaluated between two yields to the event loop


@dataclass
class Epoch:
    writer: BatchWriter
    messages: list[Message] = field(default_factory=list)
    # (record, broker acknowledgement, or None until the record has been handed over)
    sends: list[tuple[Record, Awaitable[Any] | None]] = field(default_factory=list)
    snapshot: Snapshot = field(default_factory=list)
    opened: float = field(default_factory=time.monotonic)
    # Sends still being handed to the producer; the flush waits for them (it must not
    # send a record a second time, nor miss one).
    handing_over: int = 0
    handed_over: asyncio.Event = field(default_factory=asyncio.Event)
    # repeated checks whose decision is no longer in memory: answered from the store
    # once this epoch (and so every earlier one) is stored
    lookups: list[Event] = field(default_factory=list)
    # ops metrics: id(decision record) → its input's broker timestamp, until handed over;
    # then the timestamps of decisions whose first send failed (timed when the flush has
    # them acknowledged)
    timed: dict[int, float] = field(default_factory=dict)
    late: list[float] = field(default_factory=list)
    # rows for the event archive (claimguard.events): every valid event accepted
    archive: list[list[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.handed_over.set()

    def __len__(self) -> int:
        return len(self.messages)


class Pipeline:
    """The batch handler of the input topic and the flusher of sealed epochs."""

    def __init__(
        self,
        *,
        engine: Engine,
        store: Any,  # FindingSink: write(findings), mark_reversed(settlement_ids)
        histories: HistoryCache,
        consumer: Callable[[], Any],  # → the Faust consumer (created lazily by the app)
        send: Send,
        topics: TopicNames,
        flush_events: int = 5_000,
        flush_findings: int = 5_000,
        flush_interval: float = 0.5,
        urgent_flush_timeout: float = 10.0,
        stats: PipelineStats | None = None,
        recent: RecentDecisions | None = None,  # answers to repeated checks (serve)
        metrics: Any = None,  # claimguard.ops.metrics.WorkerMetrics, for Prometheus
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.recent = recent
        self.store = store
        self.histories = histories
        self._consumer = consumer
        self._send = send
        self.topics = topics
        self.flush_events = flush_events
        self.flush_findings = flush_findings
        self.flush_interval = flush_interval
        self.urgent_flush_timeout = urgent_flush_timeout
        self.stats = stats or PipelineStats()
        self._open = self._new_epoch()
        self._inflight: asyncio.Task[None] | None = None
        self._inflight_epoch: Epoch | None = None
        self._rotating = asyncio.Lock()
        self._urgent_since: float | None = None
        # a reloaded engine waiting for the boundary between two chunks (lifecycle/reload.py)
        self._next_engine: Engine | None = None
        self._in_chunk = False

    def _new_epoch(self) -> Epoch:
        return Epoch(BatchWriter(self.store, max_rows=self.flush_findings))

    # -- the batch handler (called by the consumer's drain loop) ---------------------------

    async def handle(self, messages: list[Message], seek_mark: int = 0) -> None:
        consumer = self._consumer()
        if not consumer.flow_active:
            return  # a rebalance or shutdown began: Faust seeks back to the committed offsets
        if not self.stats.first_batch_at:
            self.stats.first_batch_at = time.time()
        generation = consumer.app.consumer_generation_id
        current = [m for m in messages if m.generation_id == generation]
        # Evaluate in chunks and yield in between, so that the sends, the background flush
        # and the heartbeats progress and the first decisions leave before the last event.
        for start in range(0, len(current), CHUNK):
            if start:
                await asyncio.sleep(0)
                if (
                    not consumer.flow_active
                    or consumer.app.consumer_generation_id != generation
                    or not consumer.fetched_since(seek_mark)
                ):
                    return  # the rest is re-read after the rebalance or seek
            self._apply_next_engine()
            self._in_chunk = True
            try:
                await self._evaluate(current[start : start + CHUNK], consumer)
            finally:
                self._in_chunk = False
        self.stats.batches += 1
        if self._due(self._open):
            await self.rotate()

    def swap_engine(self, engine: Engine, digest: str = "") -> None:
        """Use `engine` from the next chunk of events on (at once when none is running):
        every event is evaluated by exactly one rule set, never half by each."""
        self._next_engine = engine
        if not self._in_chunk:
            self._apply_next_engine()

    def _apply_next_engine(self) -> None:
        if self._next_engine is not None:
            self.engine, self._next_engine = self._next_engine, None
            self.stats.rule_reloads += 1

    async def _evaluate(self, messages: list[Message], consumer: Any) -> None:
        started = time.perf_counter()
        epoch = self._open
        unacked = consumer._unacked_messages  # Faust's set of in-flight messages
        engine, histories, stats, recent = self.engine, self.histories, self.stats, self.recent
        metrics = self.metrics
        sends: list[Record] = []
        archive_now = dt.datetime.now(dt.UTC)
        for message in messages:
            unacked.add(message)
            epoch.messages.append(message)
            try:
                event, digest = decode_with_digest(message.value)
            except DecodeError as exc:
                if metrics is not None:
                    metrics.events["unreadable"] += 1
                sends.append(self._dead_letter(message, exc.reason))
                continue
            if metrics is not None:
                metrics.events[event.event_type] += 1
            person = engine.person_of(event) or _text(message.key)
            history = histories.get(person) if person else PatientHistory()
            try:
                outcome = engine.process(event, history, digest)
            except Exception as exc:  # a poison event must not stop the partition
                # Not "unreadable": a valid event the engine failed on; re-drive after a fix.
                log.exception(
                    "engine failed on a valid event at %s", _where(message), extra=_ids(event)
                )
                stats.engine_errors += 1
                reason = f"engine error on a valid event (re-drive after a fix): {exc!r}"
                sends.append(self._dead_letter(message, reason, event))
                outcome = None
            if person:
                histories.touched(person, message.partition)
            if outcome is None or not outcome.refused:
                epoch.archive.append(event_row(event, message.value, message.offset, archive_now))
            if outcome is None:
                continue
            if outcome.refused:
                stats.refused += 1
                sends.append(self._dead_letter(message, outcome.refused, event))
                continue
            if outcome.duplicate:
                stats.duplicates += 1
                if recent is not None:
                    reply = recent.reply(event.event_id, message.headers)
                    if reply is not None:
                        sends.append(reply)
                    elif recent.needs_lookup(event, message.headers):
                        epoch.lookups.append(event)
                continue
            epoch.writer.add(outcome.findings)
            epoch.writer.add_settled(outcome.event)  # line totals for the ZB indicators
            epoch.writer.reverse(outcome.reversed_settlements)
            stats.findings += len(outcome.findings)
            if metrics is not None:
                for finding in outcome.findings:
                    metrics.findings[(finding.violation, finding.action)] += 1
            decision = outcome.decision
            if decision is not None:
                record = decision_record(self.topics.decisions, decision)
                sends.append(record)
                stats.decisions += 1
                if metrics is not None:
                    metrics.decisions[decision.verdict] += 1
                    if message.timestamp:
                        epoch.timed[id(record)] = message.timestamp
                if recent is not None:
                    recent.remember(decision.event_id, record)
        stats.events += len(messages)
        if sends:
            epoch.handing_over += 1
            epoch.handed_over.clear()
            # shielded: a shutdown cancelling the drain loop must not cut a hand-over short
            await asyncio.shield(self._hand_over(epoch, sends))
        stats.handle_seconds += time.perf_counter() - started

    async def _hand_over(self, epoch: Epoch, records: list[Record]) -> None:
        try:
            for record in records:
                try:
                    future: Awaitable[Any] | None = await self._send(record)
                except Exception as exc:  # e.g. no metadata while the broker is away
                    log.warning("handing %s to the producer failed: %r", record.topic, exc)
                    future = None  # the flush sends it again
                epoch.sends.append((record, future))
                if epoch.timed:
                    self._time_decision(epoch, record, future)
        finally:
            epoch.handing_over -= 1
            if not epoch.handing_over:
                epoch.handed_over.set()

    def _time_decision(self, epoch: Epoch, record: Record, future: Any) -> None:
        """Decision latency ends when the broker acknowledges the decision."""
        timestamp = epoch.timed.pop(id(record), None)
        if timestamp is None:
            return
        if future is None or not hasattr(future, "add_done_callback"):
            epoch.late.append(timestamp)
            return

        def acked(done: Any) -> None:
            if not done.cancelled() and done.exception() is None:
                self.metrics.observe_decision(timestamp)
            else:
                epoch.late.append(timestamp)  # resent by the flush

        future.add_done_callback(acked)

    def _dead_letter(self, message: Message, reason: str, event: Event | None = None) -> Record:
        self.stats.dead_letters += 1
        # the ids go to structured logs (--log-format json) as fields
        log.warning("dead letter %s: %s", _where(message), reason, extra=_ids(event))
        return dead_letter_record(
            self.topics.deadletter, message.key, message.value or b"", reason, _where(message)
        )

    def _due(self, epoch: Epoch) -> bool:
        if not epoch.messages:
            return False
        return (
            len(epoch.messages) >= self.flush_events
            or epoch.writer.pending >= self.flush_findings
            or time.monotonic() - epoch.opened >= self.flush_interval
        )

    # -- sealing and flushing ---------------------------------------------------------------

    async def rotate(self) -> None:
        """Seal the open epoch and start flushing it, once the previous flush is done."""
        async with self._rotating:
            inflight = self._inflight
            if inflight is not None:
                started = time.perf_counter()
                try:
                    await asyncio.shield(inflight)
                except asyncio.CancelledError:
                    if not inflight.done():
                        # We were cancelled (shutdown), not the flush: it goes on and stays
                        # tracked, so no second flush can start beside it.
                        raise
                self.stats.backpressure_seconds += time.perf_counter() - started
                if self._inflight is inflight:
                    self._inflight = None
            if not self._open.messages:
                return
            sealed, self._open = self._open, self._new_epoch()
            sealed.snapshot = self.histories.seal()
            self._inflight_epoch = sealed
            self._inflight = asyncio.ensure_future(self._flush(sealed))

    async def _flush(self, epoch: Epoch) -> None:
        started = time.perf_counter()
        await epoch.handed_over.wait()
        await self._await_all(epoch.sends)
        if epoch.late and self.metrics is not None:
            for timestamp in epoch.late:
                self.metrics.observe_decision(timestamp)
            epoch.late.clear()
        # Only an unavailable store is waited out; rows it refuses for good are dead-lettered.
        result = await retrying_async(
            lambda: self._write(epoch),
            what="store write",
            backoff=Backoff(0.1, 5.0),
            retry_on=(StoreUnavailable,),
        )
        self.stats.stored += result.inserted
        self.stats.store_rejected += result.rejected
        if epoch.archive:  # after the findings: the decision path's rows go first
            await self._archive(epoch.archive)
        if epoch.lookups and self.recent is not None:
            await self._reply_from_store(epoch.lookups, self.recent)
        changelog: list[tuple[Record, Awaitable[Any] | None]] = []
        for index, record in enumerate(self.histories.changelog_records(epoch.snapshot)):
            if index and not index % CHUNK:
                await asyncio.sleep(0)  # a big snapshot must not stall the decisions
            changelog.append((record, await self._send(record)))
        await self._await_all(changelog)
        self.histories.adopt(epoch.snapshot)
        consumer = self._consumer()
        for message in epoch.messages:
            consumer.ack(message)
        self.stats.flushes += 1
        self.stats.flush_seconds += time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.last_flush = time.time()

    def _write(self, epoch: Epoch) -> Flushed:
        try:
            return epoch.writer.flush_isolating()
        except StoreRefusesEverything:
            # a store refusing every row is retried like an unavailable one: count it so
            # (each store call alone failed for good and was not counted as a failure)
            if self.metrics is not None:
                self.metrics.store_write_failures += 1
                self.metrics.store_up = False
            raise

    async def _archive(self, rows: list[list[Any]]) -> None:
        """The epoch's events into the archive, under the same lock and retry as the
        findings: an unavailable store is waited out; a refusal for good is logged with
        every event_id (the events stay on the input topic) and the stream goes on."""
        archive = getattr(self.store, "archive_events", None)
        if archive is None:
            return
        try:
            self.stats.archived += await retrying_async(
                lambda: archive(rows),
                what="event archive",
                backoff=Backoff(0.1, 5.0),
                retry_on=(StoreUnavailable,),
            )
        except StoreError as exc:
            self.stats.archive_refused += len(rows)
            log.error(
                "event archive refused %d events (%r); not archived: %s",
                len(rows),
                exc,
                " ".join(str(row[0]) for row in rows),
            )

    async def _reply_from_store(self, events: list[Event], recent: RecentDecisions) -> None:
        """Replies to repeated checks the worker no longer holds in memory (e.g. after a
        restart): their findings are stored, so the decision is rebuilt from them. Never
        a second message on the decisions topic; a failed lookup leaves the check
        unanswered (serve answers it unchecked)."""
        try:
            found = await retrying_async(
                lambda: self.store.findings_of_events([e.event_id for e in events]),
                what="reply lookup",
                backoff=Backoff(0.1, 1.0),
                max_attempts=3,
                retry_on=(StoreError,),
            )
        except Exception as exc:
            log.warning("answering %d repeated checks from the store failed: %r", len(events), exc)
            return
        replies = [(recent.rebuilt(event, found.get(event.event_id, [])), None) for event in events]
        await self._await_all(replies)

    async def _await_all(self, sends: list[tuple[Record, Awaitable[Any] | None]]) -> None:
        """Wait for the broker to acknowledge every record; send the ones not sent yet and
        resend the ones that failed (the broker may be away for a while)."""
        pending = sends
        backoff = Backoff(0.1, 5.0)
        while pending:
            failed: list[tuple[Record, Awaitable[Any] | None]] = []
            for record, future in pending:
                try:
                    await (future if future is not None else await self._send(record))
                except Exception as exc:
                    log.warning("publishing to %s failed, will resend: %r", record.topic, exc)
                    failed.append((record, future))
            if not failed:
                return
            await asyncio.sleep(backoff.next_delay())
            pending = [(record, await self._send(record)) for record, _ in failed]

    # -- timers, rebalances, shutdown ---------------------------------------------------------

    async def tick(self) -> None:
        """Called periodically: flush an old epoch even when no new messages arrive, and
        give up a flush that blocks a rebalance or shutdown for too long."""
        consumer = self._consumer()
        urgent = not consumer.flow_active
        if urgent and self._urgent_since is None:
            self._urgent_since = time.monotonic()
        elif not urgent:
            self._urgent_since = None
        idle = self._inflight is None or self._inflight.done()
        if idle and self._open.messages and (urgent or self._due(self._open)):
            await self.rotate()
        if (
            self._urgent_since is not None
            and time.monotonic() - self._urgent_since > self.urgent_flush_timeout
            and self.unflushed
        ):
            self.abandon("flush did not finish within the rebalance/shutdown grace period")

    @property
    def unflushed(self) -> int:
        return len(self._open) + (0 if self._inflight is None or self._inflight.done() else 1)

    def abandon(self, why: str) -> None:
        """Drop unflushed epochs without acking: their events are re-processed from the last
        committed offset, by this worker or the partition's next owner."""
        log.error("abandoning unflushed events (%s)", why)
        if self._inflight is not None and not self._inflight.done():
            self._inflight.cancel()
        consumer = self._consumer()
        for epoch in (self._inflight_epoch, self._open):
            for message in epoch.messages if epoch is not None else ():
                if not message.acked:
                    consumer._unacked_messages.discard(message)
        self._inflight = self._inflight_epoch = None
        self._open = self._new_epoch()
        self.histories.clear()
        self.stats.abandoned += 1

    def refreshed_stats(self, fetch_seconds: float = 0.0) -> PipelineStats:
        self.stats.histories_loaded = self.histories.loaded
        self.stats.conflicting_redeliveries = self.engine.conflicting_redeliveries
        self.stats.fetch_seconds = fetch_seconds
        return self.stats

    def on_partitions_revoked(self) -> None:
        """Faust has already waited for our in-flight messages (`stream_wait_empty`), so
        the working copies may go: the next owner of a partition reads the table."""
        self.histories.clear()


def _text(key: bytes | None) -> str | None:
    return key.decode("utf-8", errors="replace") if key else None


def _ids(event: Event | None) -> dict[str, str] | None:
    if event is None:
        return None
    return {"event_id": event.event_id, "settlement_id": event.settlement_id}


def _where(message: Message) -> str:
    return f"{message.topic}/{message.partition}/{message.offset}"
