"""BatchWriter against a real embedded store: flush by size, by age, and on failure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from claimguard.store import BatchWriter, FindingStore, Flushed, StoreError
from claimguard.store.sample import sample_finding


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


pytestmark = pytest.mark.integration  # embedded ClickHouse (chdb)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    target = f"chdb://{tmp_path_factory.mktemp('chdb')}"
    keeper = FindingStore.connect(target)
    keeper.migrate()
    yield target
    keeper.close()


@pytest.fixture
def store(target: str) -> Iterator[FindingStore]:
    store = FindingStore.connect(target)
    for table in ("findings", "reversals", "region_chains"):
        store.client.command(f"TRUNCATE TABLE claimguard.{table}")
    yield store
    store.close()


def test_flushes_when_the_batch_is_full(store: FindingStore) -> None:
    clock = ManualClock()
    writer = BatchWriter(store, max_rows=5, max_delay=60.0, clock=clock)
    writer.add(sample_finding(f"F{i}") for i in range(4))
    assert not writer.due() and writer.flush_if_due() is None
    assert store.count() == 0
    writer.add([sample_finding("F4")])
    assert writer.due()
    assert writer.flush_if_due() == Flushed(findings=5, inserted=5, reversals=0, marked=0)
    assert writer.pending == 0 and store.count() == 5


def test_flushes_when_the_oldest_row_is_old_enough(store: FindingStore) -> None:
    clock = ManualClock()
    writer = BatchWriter(store, max_rows=5_000, max_delay=1.0, clock=clock)
    assert not writer.due()  # empty never is
    writer.add([sample_finding("F0")])
    clock.now += 0.5
    writer.add([sample_finding("F1")])
    assert not writer.due()
    clock.now += 0.5  # the first row is now 1 s old
    assert writer.due()
    assert writer.flush_if_due() == Flushed(2, 2, 0, 0)
    assert writer.age() == 0.0 and store.count() == 2


def test_reversals_in_the_same_batch_reach_its_findings(store: FindingStore) -> None:
    writer = BatchWriter(store, max_rows=100, max_delay=1.0, clock=ManualClock())
    writer.add([sample_finding("F0", settlement_id="S1"), sample_finding("F1", settlement_id="S2")])
    writer.reverse(["S1"])
    assert writer.flush() == Flushed(findings=2, inserted=2, reversals=1, marked=1)
    assert store.count() == 2 and store.count(include_reversed=False) == 1


def test_a_failed_flush_keeps_the_batch_for_the_retry(store: FindingStore, target: str) -> None:
    writer = BatchWriter(store, max_rows=2, max_delay=1.0, clock=ManualClock())
    writer.add([sample_finding("F0"), sample_finding("F1")])
    writer.reverse(["S-F0"])
    with FindingStore.connect(target) as admin:
        admin.client.command("DETACH TABLE claimguard.findings")  # the store breaks
        try:
            with pytest.raises(StoreError):
                writer.flush()
            assert writer.pending == 3 and writer.due()
        finally:
            admin.client.command("ATTACH TABLE claimguard.findings")
    assert writer.flush() == Flushed(findings=2, inserted=2, reversals=1, marked=1)
    assert store.count() == 2 and store.count(include_reversed=False) == 1
    assert writer.pending == 0
