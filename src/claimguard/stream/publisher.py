"""One aiokafka producer for everything the pipeline writes: decisions, dead letters and
the history table's changelog records.

Why not Faust's producer: its per-message path (FutureMessage, producer buffer task,
sensors) costs more than the rest of publishing, and the pipeline awaits every send of an
epoch itself before acking the epoch's offsets, so it does not rely on Faust flushing its
producer before a commit. The changelog is an ordinary topic to Faust's recovery, whoever
writes it (the tables use the in-memory store, which keeps no per-offset bookkeeping).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiokafka import AIOKafkaProducer

from claimguard.ops.connections import kafka_client_args
from claimguard.stream.messages import Record


class Publisher:
    def __init__(self, bootstrap: str, linger_ms: int = 0) -> None:
        self.bootstrap = bootstrap
        self.linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._starting: asyncio.Lock | None = None

    async def start(self) -> None:
        if self._producer is not None:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    acks="all",
                    linger_ms=self.linger_ms,
                    max_batch_size=1 << 20,
                    # how long a send may wait for the broker before it fails and the
                    # flush resends it (fault tests make it short)
                    request_timeout_ms=int(
                        os.environ.get("CLAIMGUARD_PRODUCER_REQUEST_TIMEOUT_MS", "30000")
                    ),
                    **kafka_client_args(),
                )
                await producer.start()
                self._producer = producer

    async def send(self, record: Record) -> asyncio.Future[Any]:
        """Queue `record`; the returned future resolves when the broker has it."""
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        return await self._producer.send(
            record.topic,
            record.value,
            key=record.key,
            partition=record.partition,
            headers=record.headers,
        )

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
