"""Small Kafka client helpers around the worker: publish event lines keyed by patient,
read a topic from the beginning, and measure a group's lag. Used by the demo, the tests and
the benchmark (not by the worker itself)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from claimguard.ops.connections import kafka_client_args
from claimguard.stream.offsets import end_offsets

log = logging.getLogger("claimguard.stream")


def patient_key(line: bytes) -> bytes | None:
    """Contract §7: key = patient.person_id. Unreadable lines go unkeyed (the worker
    dead-letters them); a reversal without a patient also goes unkeyed unless given one."""
    try:
        event = orjson.loads(line)
        person = event["patient"]["person_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return person.encode() if isinstance(person, str) else None


def event_lines(path: Any) -> list[bytes]:
    with open(path, "rb") as handle:
        return [line.rstrip(b"\r\n") for line in handle if line.strip()]


def keys_by_settlement(lines: Iterable[bytes]) -> dict[str, bytes]:
    """settlement_id → patient key, so a reversal (which may lack a patient) is keyed like
    the rest of its settlement, as a real publisher would key it."""
    keys: dict[str, bytes] = {}
    for line in lines:
        try:
            event = orjson.loads(line)
            person = event["patient"]["person_id"]
            keys.setdefault(event["settlement_id"], person.encode())
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            continue
    return keys


def key_for(line: bytes, by_settlement: dict[str, bytes]) -> bytes | None:
    key = patient_key(line)
    if key is None:
        try:
            key = by_settlement.get(orjson.loads(line)["settlement_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None
    return key


async def publish(
    bootstrap: str,
    topic: str,
    lines: list[bytes],
    *,
    rate: float | None = None,
    on_sent: Callable[[int, bytes], None] | None = None,
) -> int:
    """Publish `lines` in order, keyed by patient; at `rate` lines per second if given.
    Returns how many were acknowledged by the broker."""
    by_settlement = keys_by_settlement(lines)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=2,
        max_batch_size=1 << 20,
        acks="all",
        **kafka_client_args(),
    )
    await producer.start()
    try:
        futures = []
        started = time.monotonic()
        for index, line in enumerate(lines):
            if rate:
                due = started + index / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            futures.append(await producer.send(topic, line, key=key_for(line, by_settlement)))
            if on_sent is not None:
                on_sent(index, line)
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, timeout: float = 30.0) -> list[Any]:
    """Every record of `topic` from the beginning up to its current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_client_args(),
    )
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await end_offsets(bootstrap, tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} took over {timeout:.0f} s")
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic)
    return set(partitions or ())


async def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Messages of `topic` not yet committed by `group` (all, when it committed nothing)."""
    from claimguard.stream.topics import partition_count

    # From the admin's metadata: an unsubscribed consumer may not know the topic yet, and a
    # lag computed over no partitions would be a false zero.
    count = await partition_count(bootstrap, topic)
    if count <= 0:
        raise LookupError(f"topic {topic} has no partitions")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **kafka_client_args()
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_client_args())
    await consumer.start()
    await admin.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(count)]
        ends = await end_offsets(bootstrap, tps)
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        lag = 0
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag += max(0, ends[tp] - done)
        return lag
    finally:
        await admin.close()
        await consumer.stop()


async def wait_for_lag_zero(
    bootstrap: str,
    group: str,
    topic: str,
    timeout: float,
    interval: float = 0.1,
    on_lag: Callable[[int], None] | None = None,
) -> float:
    """Poll until `group` has committed everything in `topic`; returns the time.time() at
    which it had. Raises TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    failing = False
    while True:
        try:
            lag = await group_lag(bootstrap, group, topic)
            failing = False
        except Exception as exc:  # the broker may be paused or restarting in fault tests
            if not failing:  # once per streak of failures, not every poll
                log.warning("polling the lag of %s failed, will poll again: %r", group, exc)
            failing = True
            lag = -1
        if on_lag is not None and lag >= 0:
            on_lag(lag)
        if lag == 0:
            return time.time()
        if time.monotonic() > deadline:
            raise TimeoutError(f"group {group} still lags on {topic} ({lag}) after {timeout} s")
        await asyncio.sleep(interval)
