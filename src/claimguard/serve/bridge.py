"""serve's link to the broker: publish checks on the events topic and await the worker's
decisions, holding no patient state.

- Every instance reads *all* partitions of the decisions topic (and of the replies topic,
  below) from where they ended when it started, without a consumer group: any instance
  sees every decision, so several instances can run side by side and each can answer a
  repeated `event_id` that another one published. Decisions are kept in a bounded cache
  (raw bytes: not scanned by the garbage collector), and futures wait for them by
  event_id.
- A check is published with the `claimguard-reply` header. The worker answers a new event
  on the decisions topic (exactly one decision per distinct event); for an event it has
  already seen, it publishes nothing on the decisions topic but re-sends the decision it
  gave on the replies topic, so a repeat this instance has not cached (e.g. after a
  restart) still gets the same answer.
- While the broker does not answer (probed every `probe_interval`), checks are answered
  unchecked at once and kept in a bounded in-memory spool that is published when it is
  back, so the events are still evaluated later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from claimguard.ops.connections import kafka_client_args
from claimguard.serve.health import any_answers
from claimguard.serve.metrics import ServeMetrics
from claimguard.stream.messages import REPLY_HEADER
from claimguard.stream.topics import TopicNames, ensure_topics

log = logging.getLogger("claimguard.serve")


@dataclass(frozen=True)
class BridgeSettings:
    bootstrap: str
    topics: TopicNames
    # Tansu answers a fetch only when its max-wait has passed (FACTS.md): keep it short.
    fetch_max_wait_ms: int = 5
    cache_size: int = 50_000
    spool_size: int = 10_000
    probe_interval: float = 0.5
    probe_timeout: float = 1.0
    forget_after: float = 600.0  # a future nobody answered is dropped after this long


class Bridge:
    def __init__(self, settings: BridgeSettings, metrics: ServeMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.broker_up = False
        self.connected = False
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._decisions: OrderedDict[str, bytes] = OrderedDict()
        self._waiting: dict[str, tuple[asyncio.Future[bytes], float]] = {}
        self._spool: deque[tuple[bytes | None, bytes]] = deque()
        self._spool_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def ready(self) -> bool:
        return self.connected and self.broker_up

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, wait: float = 10.0) -> None:
        """Start probing and connecting; return once connected or after `wait` seconds
        (the service then starts anyway and answers unchecked until the broker is there)."""
        self.broker_up = await any_answers(self.settings.bootstrap, self.settings.probe_timeout)
        self.metrics.broker_up.set(int(self.broker_up))
        self._tasks = [
            asyncio.create_task(self._probe_loop(), name="probe"),
            asyncio.create_task(self._connect_and_read(), name="decisions"),
            asyncio.create_task(self._drain_spool(), name="spool"),
        ]
        deadline = time.monotonic() + wait
        while not self.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for client in (self._consumer, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.stop(), 5)

    async def _connect(self) -> None:
        s = self.settings
        topics = s.topics
        await ensure_topics(
            s.bootstrap, [topics.events, topics.decisions, topics.replies, topics.dispositions]
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=s.bootstrap,
            acks="all",
            linger_ms=0,
            request_timeout_ms=10_000,
            **kafka_client_args(),
        )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            request_timeout_ms=10_000,
            **kafka_client_args(),
        )
        await producer.start()
        await consumer.start()
        tps: list[TopicPartition] = []
        for topic in (topics.decisions, topics.replies):
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic)
            tps += [TopicPartition(topic, p) for p in sorted(partitions or ())]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the positions now: nothing published after this is missed
            await consumer.position(tp)
        self._producer, self._consumer = producer, consumer

    async def _connect_and_read(self) -> None:
        while not self.connected:
            try:
                await self._connect()
                self.connected = True
                self._spool_ready.set()
                log.info("connected to %s", self.settings.bootstrap)
            except Exception as exc:
                log.warning("broker %s not reachable yet: %r", self.settings.bootstrap, exc)
                await asyncio.sleep(1.0)
        assert self._consumer is not None
        consumer = self._consumer
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=200, max_records=5_000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker may be away; aiokafka reconnects
                log.warning("reading decisions failed: %r", exc)
                await asyncio.sleep(0.2)
                continue
            for records in batches.values():
                for record in records:
                    self._decided(record.value)

    def _decided(self, value: bytes | None) -> None:
        if not value:
            return
        try:
            event_id = orjson.loads(value)["event_id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return
        cache = self._decisions
        cache[event_id] = value
        if len(cache) > self.settings.cache_size:
            cache.popitem(last=False)
        waiting = self._waiting.pop(event_id, None)
        if waiting is not None and not waiting[0].done():
            waiting[0].set_result(value)

    async def _probe_loop(self) -> None:
        s = self.settings
        while True:
            await asyncio.sleep(s.probe_interval)
            up = await any_answers(s.bootstrap, s.probe_timeout)
            if up != self.broker_up:
                log.warning("broker %s is %s", s.bootstrap, "back" if up else "not answering")
            self.broker_up = up
            self.metrics.broker_up.set(int(up))
            if up and self._spool:
                self._spool_ready.set()
            cutoff = time.monotonic() - s.forget_after
            for event_id in [e for e, (_, t) in self._waiting.items() if t < cutoff]:
                self._waiting.pop(event_id, None)

    # -- checks -----------------------------------------------------------------------------

    def decision(self, event_id: str) -> bytes | None:
        return self._decisions.get(event_id)

    def waiting(self, event_id: str) -> asyncio.Future[bytes] | None:
        entry = self._waiting.get(event_id)
        return entry[0] if entry is not None else None

    async def submit(self, event_id: str, key: bytes | None, value: bytes) -> asyncio.Future[bytes]:
        """Publish one event and return the future of its decision. Never raises: when
        the broker is away the event is spooled (or dropped when the spool is full)."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[event_id] = (future, time.monotonic())
        if self.ready:
            try:
                await self._send(key, value)
                return future
            except Exception as exc:
                log.warning("publishing %s failed, spooling it: %r", event_id, exc)
        self._spool_event(key, value)
        return future

    async def _send(self, key: bytes | None, value: bytes) -> None:
        assert self._producer is not None
        delivery = await self._producer.send(
            self.settings.topics.events, value, key=key, headers=[(REPLY_HEADER, b"1")]
        )

        def delivered(done: asyncio.Future[Any]) -> None:
            if done.cancelled() or done.exception() is not None:
                log.warning("event not acknowledged, spooling it again: %r", done)
                self._spool_event(key, value)

        delivery.add_done_callback(delivered)

    def _spool_event(self, key: bytes | None, value: bytes) -> None:
        if len(self._spool) >= self.settings.spool_size:
            self.metrics.dropped.inc()
            log.error("spool full (%d): an event is not published", len(self._spool))
            return
        self._spool.append((key, value))
        self.metrics.spooled.set(len(self._spool))
        if self.ready:
            self._spool_ready.set()

    async def _drain_spool(self) -> None:
        while True:
            await self._spool_ready.wait()
            self._spool_ready.clear()
            while self._spool and self.ready:
                key, value = self._spool[0]
                try:
                    assert self._producer is not None
                    delivery = await self._producer.send(
                        self.settings.topics.events, value, key=key, headers=[(REPLY_HEADER, b"1")]
                    )
                    await asyncio.wait_for(delivery, 10)
                except Exception as exc:
                    log.warning("spooled event not published yet: %r", exc)
                    await asyncio.sleep(0.5)
                    continue
                self._spool.popleft()
                self.metrics.spooled.set(len(self._spool))

    async def publish_and_wait(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Publish one record and wait for the broker's acknowledgement (dispositions: the
        caller is told only once they are safe). Raises ConnectionError when not ready."""
        if not self.ready or self._producer is None:
            raise ConnectionError("broker unavailable")
        delivery = await self._producer.send(topic, value, key=key)
        await asyncio.wait_for(delivery, 5)
