"""Faust with a batch delivery path for the input topic.

Why: Faust hands every message through the conductor, a per-message `wait_first` (two
asyncio tasks), a queue and the stream iterator. Measured here against Tansu that path
alone caps a worker near 10k events/s with nothing but `orjson.loads` per event, while
decoding and evaluating an event already costs ~60 µs. So the input topic bypasses it: the
consumer's drain loop collects each fetch of input-topic messages into one list and hands
it to a batch handler. Everything else stays Faust's: group membership and the
co-partitioned assignment, table changelogs and their recovery (changelog messages still go
through the conductor), standby replicas, offset tracking (`track_message`/`ack`), the
commit timer that flushes the producer before committing, and the rebalance protocol.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import faust
from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import Message
from mode import Service

from claimguard.stream.offsets import end_offsets

log = logging.getLogger("claimguard.stream")

# (messages of one fetch, the consumer's `seeks` when they were fetched)
BatchHandler = Callable[[list[Message], int], Awaitable[None]]


class QuickFetchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust fixes the fetch wait at 1.5 s. Tansu answers a fetch only when that wait runs
    out, new data or not (measured: 1.5 s → p50 400 ms produce-to-consume, 10 ms → 2.4 ms),
    so the wait bounds decision latency; it is the app's `fetch_max_wait_ms`. Apache Kafka
    answers as soon as data arrives, where a short wait only costs idle round trips."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # read by AIOKafkaConsumer.start() when it builds its fetcher
        consumer._fetch_max_wait_ms = cast(BatchingApp, self.app).fetch_max_wait_ms
        return consumer

    async def _highwaters(self, partitions: list[Any]) -> Mapping[Any, int]:
        """Where table recovery stops reading a changelog: the true log end (see
        `offsets.py`: Tansu's ListOffsets answers less, and recovery lost state)."""
        if self.consumer.in_transaction:
            return await super()._highwaters(partitions)
        bootstrap = cast(BatchingApp, self.app).bootstrap
        found = await end_offsets(
            bootstrap, [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        )
        return {tp: found[TopicPartition(tp.topic, tp.partition)] for tp in partitions}


class BatchingConsumer(faust_aiokafka.Consumer):
    """The aiokafka-driver consumer whose drain loop batches the registered topics."""

    # Odd while Faust seeks the input partitions back to their committed offsets (after a
    # recovery or rebalance), bumped again when done. Records fetched across a seek are
    # dropped: they would be read again from the committed offset, evaluated twice and
    # their decisions published twice (seen after every restart: recovery resumes the
    # partitions a moment before it seeks them).
    seeks: int = 0

    def _new_consumer_thread(self) -> QuickFetchConsumerThread:
        return QuickFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        self.seeks += 1
        try:
            await super().perform_seek()
            await self._rewind_uncommitted()
        finally:
            self.seeks += 1

    async def _rewind_uncommitted(self) -> None:
        """aiokafka's `seek_to_committed` moves only partitions committed past offset 0; a
        partition never committed keeps its fetch position. Records fetched across the seek
        are dropped (above), so such a partition must be rewound too, or the dropped records
        are never read again and its lag never reaches zero (seen after a restart whose
        predecessor had committed some partitions but not all)."""
        app = cast(BatchingApp, self.app)
        if app.conf.consumer_auto_offset_reset != "earliest":
            return
        uncommitted = [
            TopicPartition(tp.topic, tp.partition)
            for tp in self.assignment()
            if tp.topic in app.batch_handlers and not self._committed_offset.get(tp)
        ]
        if uncommitted:
            await self._thread.seek_to_beginning(*uncommitted)

    def fetched_since(self, mark: int) -> bool:
        """Whether records fetched when `seeks` was `mark` are still to be used."""
        return self.seeks == mark and not mark % 2

    async def _drain_messages(self, fetcher: Any) -> None:
        app = cast(BatchingApp, self.app)
        fetcher_service = cast(Service, fetcher)
        try:
            while not (self.should_stop or fetcher_service.should_stop):
                await self._drain_once(app)
        except self.consumer_stopped_errors:
            if not app.should_stop:
                raise
        except asyncio.CancelledError:
            if not app.should_stop and not fetcher_service.should_stop:
                raise

    async def _drain_once(self, app: BatchingApp) -> None:
        """One fetch: input-topic records become one batch per topic, the rest (changelogs,
        standbys) go through the conductor one by one, as in Faust's own loop."""
        started = time.perf_counter()
        mark = self.seeks
        records, active = await self._wait_next_records(app.poll_timeout)
        if not records or self.should_stop:
            return
        if not self.flow_active:
            # Fetched just as a rebalance began: Faust seeks back to the committed offsets.
            try:
                await self.perform_seek()
            except Exception as exc:  # the rebalance seeks again; say why this one failed
                log.warning("seek back to the committed offsets failed: %r", exc)
            return
        handlers = app.batch_handlers
        read_offsets = self._read_offset
        to_message = self._to_message
        batches: dict[str, list[Message]] = {}
        singles: list[Message] = []
        for tp, tp_records in records.items():
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                continue
            app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            batch = batches.setdefault(tp.topic, []) if tp.topic in handlers else singles
            last = read_offsets.get(tp)
            for record in tp_records:
                # After a seek Faust stores the next offset to read, after a message its
                # offset; like Faust's loop, accept both (a re-read after a seek is meant).
                if last is not None and record.offset < last:
                    continue
                if last is not None and record.offset - last > 1:
                    # Offsets may jump (compaction, transaction markers): record the hole so
                    # the commit logic, which commits consecutive acked offsets, moves past.
                    await self._add_gap(tp, last + 1, record.offset - 1)
                batch.append(to_message(tp, record))
                last = record.offset
            if last is not None:
                read_offsets[tp] = last
        app.fetch_seconds += time.perf_counter() - started
        for message in singles:
            await self.wait_first(self.callback(message), self.suspend_flow.wait())
        if any(batches.values()) and not self.fetched_since(mark):
            # Fetched across a seek: the consumer's position may already be past these
            # records, so dropping them needs another seek back to the committed offsets.
            await self.perform_seek()
            return
        for topic, messages in batches.items():
            if messages:
                await handlers[topic](messages, mark)
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()


class BatchingTransport(faust_aiokafka.Transport):
    Consumer = BatchingConsumer


class BatchingApp(faust.App):
    """A Faust app whose consumer delivers the topics in `batch_handlers` a fetch at a time."""

    def __init__(
        self, *args: Any, poll_timeout: float = 0.2, fetch_max_wait_ms: int = 10, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.batch_handlers: dict[str, BatchHandler] = {}
        self.poll_timeout = poll_timeout
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.bootstrap = ",".join(
            f"{url.host}:{url.port or 9092}" for url in self.conf.broker_consumer
        )
        self.fetch_seconds = 0.0  # the drain loop waiting for and converting fetched records

    def batch_topic(self, name: str, handler: BatchHandler) -> faust.TopicT:
        """Subscribe to `name` (raw bytes, acks enabled) and deliver it to `handler`."""
        topic = self.topic(
            name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )
        self.topics.add(topic)
        self.batch_handlers[name] = handler
        return topic

    def _new_transport(self) -> BatchingTransport:
        return BatchingTransport(self.conf.broker_consumer, self)
