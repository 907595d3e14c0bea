"""The contract sample through a real Tansu broker, a real `claimguard worker` process and
a real chdb store: one decision per precheck/settle event, the four broken lines in the
dead-letter topic, and the store equal to what `claimguard replay` writes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import event_lines, read_topic
from claimguard.stream.messages import ERROR_HEADER
from test_stream_support import (
    Scenario,
    diff,
    expected_decisions,
    replay_findings,
    stored_findings,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def run(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """Publish the sample, let one worker drain it, stop the worker (it flushes)."""
    root = tmp_path_factory.mktemp("stream-sample")
    with LocalBroker(log_dir=root / "broker") as broker:
        scenario = Scenario(broker, root, "sample", sample_dir / "knowledge")
        scenario.publish(event_lines(sample_dir / "events.jsonl"))
        worker = scenario.worker().start()
        try:
            scenario.wait_drained()
        except TimeoutError:
            worker.stop()
            pytest.fail(f"worker did not drain the sample:\n{worker.log_text()[-3000:]}")
        assert worker.stop() == 0, worker.log_text()[-3000:]
        # a graceful stop closes every client it opened (ops alert on ERROR lines)
        assert "Unclosed AIOKafka" not in worker.log_text()
        yield scenario


def test_one_decision_per_precheck_and_settle_event(run: Scenario, sample_dir: Path) -> None:
    lines = event_lines(sample_dir / "events.jsonl")
    want = expected_decisions(sample_dir / "knowledge", lines)
    decisions = run.decisions()
    counts = Counter(d["event_id"] for d in decisions)
    assert [e for e, n in counts.items() if n > 1] == []
    assert {d["event_id"]: d["verdict"] for d in decisions} == want
    assert set(Counter(want.values())) == {"pass", "alert", "hold"}
    for decision in decisions:
        assert decision["event_type"] in ("precheck", "settle")
        assert decision["decided_at"]
        assert all(f["event_id"] == decision["event_id"] for f in decision["findings"])


def test_decisions_are_keyed_by_settlement(run: Scenario) -> None:
    records = asyncio.run(read_topic(run.broker.bootstrap, run.topics.decisions))
    assert records
    for record in records:
        assert record.key.decode() == orjson.loads(record.value)["settlement_id"]


def test_the_four_broken_lines_are_dead_letters(run: Scenario, sample_dir: Path) -> None:
    letters = run.dead_letters()
    assert len(letters) == 4
    published = set(event_lines(sample_dir / "events.jsonl"))
    for letter in letters:
        assert letter.value in published  # the raw bytes, untouched
        reason = dict(letter.headers)[ERROR_HEADER].decode()
        assert reason


def test_store_equals_replay(run: Scenario, sample_dir: Path) -> None:
    want = replay_findings(sample_dir / "knowledge", sample_dir / "events.jsonl", run.root)
    got = stored_findings(run.store())
    assert not diff(got, want), diff(got, want)
    assert len(got) == len(want) > 0
