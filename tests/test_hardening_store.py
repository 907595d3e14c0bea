"""A row the store refuses for good costs only that row: the batch is bisected, the row goes
to claimguard.finding_dead_letters with its reason, the rest is stored, and only an
unavailable store is waited out. Real chdb in a temporary directory."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from claimguard.store import BatchWriter, FindingStore, StoreUnavailable
from claimguard.store.isolation import StoreRefusesEverything
from claimguard.store.sample import sample_finding

pytestmark = pytest.mark.integration  # embedded ClickHouse (chdb)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    target = f"chdb://{tmp_path_factory.mktemp('chdb-isolation')}"
    keeper = FindingStore.connect(target)
    keeper.migrate()
    yield target
    keeper.close()


@pytest.fixture
def store(target: str) -> Iterator[FindingStore]:
    store = FindingStore.connect(target)
    for table in ("findings", "reversals", "region_chains", "finding_dead_letters"):
        store.client.command(f"TRUNCATE TABLE claimguard.{table}")
    yield store
    store.close()


def test_bad_rows_are_dead_lettered_and_the_rest_stored(store: FindingStore) -> None:
    good = [sample_finding(f"good-{i}", settlement_id=f"S{i}") for i in range(10)]
    too_big = sample_finding("too-big", amount=1e15)  # refused before the insert
    bad_text = sample_finding("bad-text", message="\udc80 not encodable")  # refused by the driver
    batch = [*good[:5], bad_text, *good[5:], too_big]
    writer = BatchWriter(store)
    writer.add(batch)
    writer.reverse(["S3"])
    flushed = writer.flush_isolating()
    assert (flushed.inserted, flushed.rejected) == (10, 2)
    assert writer.pending == 0
    assert store.count() == 10
    dead = {fid: (reason, json.loads(finding)) for fid, reason, finding in store.dead_letters()}
    assert set(dead) == {"too-big", "bad-text"}
    assert "Decimal(18, 4)" in dead["too-big"][0]
    assert "surrogates not allowed" in dead["bad-text"][0]
    assert dead["too-big"][1]["amount"] == 1e15  # the whole finding is kept
    assert [f.reversed for f in store.findings_for_settlement("S3")] == [True]


def test_a_store_that_refuses_every_row_is_retried_not_dead_lettered(store: FindingStore) -> None:
    writer = BatchWriter(store)
    writer.add([sample_finding(f"x{i}", message="\udc80") for i in range(4)])
    with pytest.raises(StoreRefusesEverything) as info:
        writer.flush_isolating()
    assert isinstance(info.value, StoreUnavailable)
    assert writer.pending == 4  # still buffered for the retry
    assert store.dead_letters() == []
