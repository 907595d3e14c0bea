"""The pipeline's flush bookkeeping: a rotate() cancelled while it waits for the running
flush (a shutdown) must leave that flush tracked, never start a second one beside it.

The store is a real in-memory sink whose write blocks until released; the consumer and
the history table are the few attributes the pipeline reads from Faust's objects."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from claimguard.store.sample import sample_finding
from claimguard.stream.histories import HistoryCache
from claimguard.stream.pipeline import Pipeline
from claimguard.stream.topics import TopicNames


class BlockingSink:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.written: list[str] = []

    def write(self, findings: Sequence[Any]) -> int:
        self.release.wait(10)
        self.written.extend(f.finding_id for f in findings)
        return len(findings)

    def mark_reversed(self, settlement_ids: Sequence[str]) -> int:
        return 0

    def dead_letter(self, rejected: Sequence[Any]) -> int:
        return 0


def test_a_cancelled_rotate_leaves_the_running_flush_tracked() -> None:
    async def scenario() -> None:
        sink = BlockingSink()
        acked: list[Any] = []
        consumer = SimpleNamespace(ack=acked.append)
        table = SimpleNamespace(
            data={}, changelog_topic=SimpleNamespace(get_topic_name=lambda: "h-changelog")
        )

        async def send(record: Any) -> Any:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

        pipeline = Pipeline(
            engine=None,  # type: ignore[arg-type]  # no events are evaluated here
            store=sink,
            histories=HistoryCache(table),
            consumer=lambda: consumer,
            send=send,
            topics=TopicNames(),
        )
        first, second = SimpleNamespace(acked=False), SimpleNamespace(acked=False)
        pipeline._open.messages.append(first)
        pipeline._open.writer.add([sample_finding("f1")])
        await pipeline.rotate()  # epoch 1 is flushing: its store write blocks
        flushing = pipeline._inflight
        assert flushing is not None and not flushing.done()

        pipeline._open.messages.append(second)
        pipeline._open.writer.add([sample_finding("f2")])
        waiting = asyncio.ensure_future(pipeline.rotate())  # waits for epoch 1
        await asyncio.sleep(0.05)
        waiting.cancel()  # e.g. the shutdown cancels the batch handler
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        # epoch 1's flush is still the tracked one; epoch 2 was not sealed beside it
        assert pipeline._inflight is flushing and not flushing.done()
        assert pipeline._open.messages == [second]

        sink.release.set()
        await flushing
        assert acked == [first] and sink.written == ["f1"]
        await pipeline.rotate()  # now epoch 2 goes, after epoch 1
        assert pipeline._inflight is not None
        await pipeline._inflight
        assert acked == [first, second] and sink.written == ["f1", "f2"]

    asyncio.run(scenario())
