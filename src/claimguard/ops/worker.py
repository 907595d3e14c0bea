"""Hooks the ops metrics into a running worker: the store wrapper, the Faust tasks that
sample lag, assignment and store reachability, the collector and the HTTP port."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from claimguard.ops.http import OpsServer
from claimguard.ops.metrics import WorkerCollector, WorkerMetrics, build_info

log = logging.getLogger("claimguard.ops")
SAMPLE_SECONDS = 1.0  # lag and assignment
PING_SECONDS = 5.0  # store reachability while idle


def sample_consumer(app: Any, topic: str, metrics: WorkerMetrics) -> None:
    """Lag per assigned input partition: the log end the consumer last saw minus the
    committed offset (Faust keeps the next offset to read)."""
    consumer = app.consumer
    lag: dict[int, int] = {}
    for tp in consumer.assignment():
        if tp.topic != topic:
            continue
        highwater = consumer.highwater(tp)
        if highwater is None or highwater < 0:
            lag[tp.partition] = 0
            continue
        committed = consumer._committed_offset.get(tp) or 0
        lag[tp.partition] = max(0, int(highwater) - int(committed))
    metrics.lag = lag
    metrics.assigned = len(lag)


def instrument(
    app: Any,
    pipeline: Any,
    metrics: WorkerMetrics,
    topic: str,
    knowledge: Path,
    rules: Path | None,
    port: int,
    host: str = "0.0.0.0",
) -> OpsServer:
    """Register the collector and the sampling tasks, start the HTTP port. Call before
    the app starts."""
    info = build_info(pipeline.engine, knowledge, rules)
    REGISTRY.register(WorkerCollector(pipeline, metrics, info))

    @app.task
    async def _sample() -> None:
        while True:
            metrics.last_tick = time.monotonic()
            try:
                sample_consumer(app, topic, metrics)
            except Exception as exc:  # the consumer may be between generations
                log.debug("sampling the consumer failed: %r", exc)
            await asyncio.sleep(SAMPLE_SECONDS)

    @app.task
    async def _ping_store() -> None:
        while True:
            try:
                await asyncio.to_thread(pipeline.store.ping)
            except Exception as exc:
                log.warning("store ping failed: %s", exc)
            await asyncio.sleep(PING_SECONDS)

    @app.on_partitions_assigned.connect
    async def _assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        metrics.rebalances += 1

    return OpsServer(metrics, host, port).start()
