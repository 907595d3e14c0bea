"""The worker's side of 3103: dispositions arrive on `claims.dispositions` (published by
`claimguard serve`, which may not open an embedded store) and are written to
`claimguard.dispositions` by the process that owns the store.

A plain aiokafka consumer in its own group (`<group>.dispositions`), beside the Faust app:
dispositions are rare and not on the decision path. Offsets are committed after the rows
are stored (at least once; the table keeps the latest per finding, so a redelivery is
harmless). Store calls run in a thread, serialised with the pipeline's flush by one lock:
a chdb connection is not shared between threads at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from claimguard.model import Finding
from claimguard.ops.connections import kafka_client_args
from claimguard.store import Backoff, StoreError, StoreUnavailable, retrying_async
from claimguard.store.dispositions import findings_of_events, rows_of, write_dispositions

log = logging.getLogger("claimguard.stream")


class LockedSink:
    """The finding sink of the pipeline, one store call at a time across threads."""

    def __init__(self, sink: Any, lock: threading.Lock, reader: Any = None) -> None:
        self.sink = sink
        self.lock = lock
        self.reader = reader  # the FindingStore itself, for the reply lookups

    def write(self, findings: Sequence[Finding]) -> int:
        with self.lock:
            return int(self.sink.write(findings))

    def mark_reversed(self, settlement_ids: Sequence[str]) -> int:
        with self.lock:
            return int(self.sink.mark_reversed(settlement_ids))

    def dead_letter(self, rejected: Sequence[Any]) -> int:
        with self.lock:
            return int(self.sink.dead_letter(rejected))

    def ping(self) -> None:
        with self.lock:
            self.sink.ping()

    def archive_events(self, rows: Sequence[list[Any]]) -> int:
        with self.lock:
            return int(self.sink.archive_events(rows))

    def write_lines(self, rows: Sequence[Sequence[Any]]) -> int:
        """Settled line totals for the ZB indicators (store/settled_lines.py)."""
        with self.lock:
            return int(self.sink.write_lines(rows))

    def findings_of_events(self, event_ids: Sequence[str]) -> dict[str, list[Finding]]:
        if self.reader is None:
            return {}
        with self.lock:
            return findings_of_events(self.reader, event_ids)


async def consume_dispositions(
    bootstrap: str, topic: str, group: str, store: Any, lock: threading.Lock
) -> None:
    """Runs until cancelled: read dispositions, store them, commit."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        **kafka_client_args(),
    )
    try:
        # started inside the try: a shutdown may cancel the task while it joins the group,
        # and the consumer must be stopped then too ("Unclosed AIOKafkaConsumer" otherwise)
        await consumer.start()
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=1_000)
            rows: list[list[Any]] = []
            for records in batches.values():
                for record in records:
                    try:
                        rows.extend(rows_of(orjson.loads(record.value)))
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                        log.error("unreadable disposition message skipped: %r", exc)
            if rows:

                def write(batch: list[list[Any]] = rows) -> int:
                    with lock:
                        return write_dispositions(store, batch)

                # an unavailable store is waited out; a refusal for good (serve validated
                # the rows, so a schema drift) is logged and must not wedge the consumer
                try:
                    await retrying_async(
                        write,
                        what="dispositions write",
                        backoff=Backoff(0.1, 5.0),
                        retry_on=(StoreUnavailable,),
                    )
                except StoreError as exc:
                    log.error("store refused %d disposition rows: %r", len(rows), exc)
            if batches:
                await consumer.commit()
    finally:
        # shielded: the worker's shutdown cancels this task, and a stop cut short leaves
        # the consumer's connections open ("Unclosed AIOKafkaConsumer")
        await asyncio.shield(consumer.stop())
