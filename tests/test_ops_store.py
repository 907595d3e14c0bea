"""The measured store on a real chdb store: durations observed, `failures` counting only an
unavailable store (a row refused for good is not "store down"), every method the worker
uses forwarded through the wrappers (fault switch, measurement, lock)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from claimguard.ops import names
from claimguard.ops.metrics import WorkerMetrics
from claimguard.ops.store import MeasuredStore
from claimguard.store import BatchWriter, FindingStore, StoreUnavailable
from claimguard.store.isolation import StoreRefusesEverything
from claimguard.store.sample import sample_finding
from claimguard.stream.dispositions import LockedSink
from claimguard.stream.faults import OutageSwitch

pytestmark = pytest.mark.integration  # embedded ClickHouse (chdb)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FindingStore]:
    store = FindingStore.connect(f"chdb://{tmp_path_factory.mktemp('ops-store')}")
    store.migrate()
    yield store
    store.close()


def writes() -> float:
    return REGISTRY.get_sample_value(names.STORE_WRITE_SECONDS + "_count") or 0.0


def test_refusals_are_not_failures_and_outages_are(store: FindingStore, tmp_path: Path) -> None:
    metrics = WorkerMetrics()
    flag = tmp_path / "store-down"
    sink = LockedSink(MeasuredStore(OutageSwitch(store, flag), metrics), threading.Lock(), store)
    good = [sample_finding(f"good-{i}", settlement_id=f"S{i}") for i in range(6)]
    refused = sample_finding("bad-text", message="\udc80 not encodable")  # the driver refuses
    before = writes()
    writer = BatchWriter(sink)
    writer.add([*good, refused])
    flushed = writer.flush_isolating()
    assert (flushed.inserted, flushed.rejected) == (6, 1)
    # the batch, the bisection's writes and the dead-letter row: all measured, none failed
    assert writes() - before >= 3
    assert metrics.store_write_failures == 0 and metrics.store_up
    assert [fid for fid, _, _ in store.dead_letters()] == ["bad-text"]  # forwarded
    assert set(sink.findings_of_events([good[0].event_id])) == {good[0].event_id}
    assert sink.mark_reversed(["S1"]) >= 1

    flag.touch()  # the store becomes unavailable
    writer.add([sample_finding("later", settlement_id="S9")])
    with pytest.raises(StoreUnavailable):
        writer.flush_isolating()
    assert metrics.store_write_failures == 1 and not metrics.store_up
    with pytest.raises(StoreUnavailable):
        sink.ping()  # readiness probe: down, but not a write failure
    assert metrics.store_write_failures == 1
    flag.unlink()
    sink.ping()
    assert metrics.store_up
    assert writer.flush_isolating().inserted == 1  # nothing was lost meanwhile


def test_a_store_refusing_every_row_counts_as_failing(
    store: FindingStore, sample_dir: Path
) -> None:
    from claimguard.engine import Engine
    from claimguard.stream.histories import HistoryCache
    from claimguard.stream.pipeline import Epoch, Pipeline
    from claimguard.stream.topics import TopicNames

    metrics = WorkerMetrics()
    sink = LockedSink(MeasuredStore(store, metrics), threading.Lock(), store)

    async def send(record: object) -> object:
        raise AssertionError("nothing is published here")

    pipeline = Pipeline(
        engine=Engine.load(sample_dir / "knowledge"),
        store=sink,
        histories=HistoryCache(None),
        consumer=lambda: None,
        send=send,  # type: ignore[arg-type]
        topics=TopicNames(),
        metrics=metrics,
    )
    epoch = Epoch(BatchWriter(sink))
    epoch.writer.add([sample_finding(f"x{i}", message="\udc80") for i in range(4)])
    with pytest.raises(StoreRefusesEverything):
        pipeline._write(epoch)  # the flush retries this like an outage...
    assert metrics.store_write_failures == 1 and not metrics.store_up  # ...and counts it
    assert epoch.writer.pending == 4
