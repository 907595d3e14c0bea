"""The contract sample through the real engine into a real chdb store, twice.

What the store holds must equal what replay found, and each jurisdiction's totals must be
the sum over its subtree computed independently with the routing room's region tree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from claimguard.engine import Engine
from claimguard.replay import ReplaySession
from claimguard.routing import RegionTree
from claimguard.store import BatchWriter, FindingStore

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "contract" / "sample"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SAMPLE.is_dir(), reason="contract sample (../shared) not present"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FindingStore]:
    store = FindingStore.connect(f"chdb://{tmp_path_factory.mktemp('chdb')}")
    store.migrate()
    yield store
    store.close()


def replay_into(store: FindingStore) -> ReplaySession:
    session = ReplaySession(Engine.load(SAMPLE / "knowledge"))
    writer = BatchWriter(store, max_rows=25, max_delay=3600.0)  # several size flushes
    with (SAMPLE / "events.jsonl").open("rb") as events:
        for number, raw in enumerate(events, start=1):
            outcome = session.feed(raw, number) if raw.strip() else None
            if outcome is not None:
                writer.add(outcome.findings)
                writer.reverse(outcome.reversed_settlements)
                writer.flush_if_due()
    writer.flush()
    return session


def test_sample_findings_land_once_with_subtree_totals(store: FindingStore) -> None:
    session = replay_into(store)
    replay_into(store)  # the whole stream redelivered
    expected = session.findings
    assert store.count() == len(expected) > 0
    assert store.count(include_reversed=False) == sum(not f.reversed for f in expected.values())

    tree = RegionTree()  # the sample ships no regions.csv
    want_counts: Counter[tuple[str, str]] = Counter()
    want_amounts: Counter[str] = Counter()
    for finding in expected.values():
        if finding.reversed:
            continue
        for region in tree.ancestors(finding.assigned_region):
            want_counts[(region, finding.violation)] += 1
            want_amounts[region] += Decimal(repr(finding.amount))
    got_counts: Counter[tuple[str, str]] = Counter()
    got_amounts: Counter[str] = Counter()
    for row in store.totals():
        got_counts[(row.region, row.violation)] += row.findings
        got_amounts[row.region] += row.amount
    assert got_counts == want_counts
    assert got_amounts == want_amounts
    assert store.top_jurisdictions(1)[0].region == "000000"
