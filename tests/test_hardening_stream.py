"""Hostile but fair input through a real Tansu broker, a real `claimguard worker` and chdb:
nothing wedges the worker, every other rule still decides, each refusal is a dead letter
with its reason, verdicts and store equal replay; shutdown is bounded whatever a flush is
doing."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from claimguard.engine import Engine
from claimguard.replay import ReplaySession
from claimguard.rules import default_rules_dir
from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import event_lines
from claimguard.stream.faults import SWITCH_ENV
from claimguard.stream.messages import ERROR_HEADER
from claimguard.stream.shutdown import EXIT_FORCED
from test_stream_support import Scenario, diff, stored_findings, wait_until

pytestmark = pytest.mark.integration

# Lint cannot know what a diagnosis string is compared with: this rule raises at run time.
RAISING_PACK = """pack: norms.raising
layer: norms
rules:
  - id: norms.raises-at-run-time
    version: 1
    violation: INDICATION_MISMATCH
    layer: norms
    subject: institution
    scope: item
    stages: {precheck: alert, settle: alert, settled: flag}
    when: visit.diagnoses[0] > 5
    message: {zh: "不会出现", en: "never"}
    basis: a test of rule-error containment
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    with LocalBroker(log_dir=tmp_path_factory.mktemp("hardening-broker")) as running:
        yield running


def hostile_lines(sample_lines: list[bytes]) -> tuple[list[bytes], dict[str, str]]:
    """The sample with hostile events mixed in; → lines, event_id → expected reason."""
    events = [_json(line) for line in sample_lines]
    settled = next(
        e
        for e in events
        if isinstance(e, dict) and e.get("event_type") == "settled" and e.get("items")
    )
    far = (dt.date.today() + dt.timedelta(days=400)).isoformat() + "T09:00:00+08:00"
    big = {**settled, "event_id": "H-BIG", "settlement_id": "H-BIG"}
    big["items"] = [{**settled["items"][0], "amount": 1e15}]
    infinite = {**settled, "event_id": "H-INF", "settlement_id": "H-INF"}
    infinite["items"] = [{**settled["items"][0], "unit_price": "Infinity"}]
    ahead = {**settled, "event_id": "H-AHEAD", "settlement_id": "H-AHEAD", "occurred_at": far}
    changed = {**settled, "items": [{**settled["items"][0], "unit_price": 999.0}]}
    reasons = {
        "H-BIG": "items.0.amount",
        "H-INF": "items.0.unit_price",
        "H-AHEAD": "days ahead of the stream",
        settled["event_id"]: "delivered before with other content",
    }
    lines = list(sample_lines)
    middle = len(lines) // 2
    extra = [orjson.dumps(e) for e in (big, infinite, ahead, changed)]
    return lines[:middle] + extra + lines[middle:], reasons


def test_hostile_input_cannot_wedge_blind_or_empty_the_worker(
    broker: LocalBroker, sample_dir: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    (rules / "norms" / "raising.yaml").write_text(RAISING_PACK, encoding="utf-8")
    lines, reasons = hostile_lines(event_lines(sample_dir / "events.jsonl"))
    knowledge = sample_dir / "knowledge"

    session = ReplaySession(Engine.load(knowledge, rules))
    want: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        outcome = session.feed(line, number)
        if outcome is not None and outcome.decision is not None:
            want[outcome.decision.event_id] = outcome.decision.verdict
    assert session.engine.rule_errors["norms.raises-at-run-time"] > 0
    assert set(want.values()) == {"pass", "alert", "hold"}  # rules still decide

    run = Scenario(broker, tmp_path, "hostile", knowledge)
    run.publish(lines)
    worker = run.worker()
    worker.rules = rules
    worker.start()
    try:
        run.wait_drained()  # nothing wedges: every offset commits
    finally:
        code = worker.stop()
    log = worker.log_text()
    assert code == 0, log[-3000:]
    assert "rule norms.raises-at-run-time raised" in log

    decisions = run.decisions()
    assert {d["event_id"]: d["verdict"] for d in decisions} == want
    letters = {}
    for record in run.dead_letters():
        event = _json(record.value)
        if isinstance(event, dict):
            letters[event.get("event_id")] = dict(record.headers)[ERROR_HEADER].decode()
    for event_id, fragment in reasons.items():
        assert fragment in letters.get(event_id, ""), (event_id, letters.get(event_id))
    want_findings = {f.finding_id: f.model_dump(mode="json") for f in session.findings.values()}
    got = stored_findings(run.store())
    assert not diff(got, _as_stored(want_findings)), diff(got, _as_stored(want_findings))


def _json(raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def Counter_(values):
    from collections import Counter

    return Counter(values)


def _as_stored(findings: dict[str, dict]) -> dict[str, dict]:
    """Replay's findings as the store gives them back (the shape `replay_findings` reads)."""
    return {k: orjson.loads(orjson.dumps(v)) for k, v in findings.items()}


@pytest.mark.parametrize("second_signal", [False, True])
def test_shutdown_is_bounded_whatever_the_flush_is_doing(
    broker: LocalBroker, sample_dir: Path, tmp_path: Path, second_signal: bool
) -> None:
    name = "sigint" if second_signal else "watchdog"
    run = Scenario(broker, tmp_path, f"shutdown-{name}", sample_dir / "knowledge")
    outage = tmp_path / "store-is-down"
    worker = run.worker(
        **{
            SWITCH_ENV: str(outage),
            "CLAIMGUARD_SHUTDOWN_TIMEOUT": "4",
            # without the watchdog the flush would keep retrying this long
            "CLAIMGUARD_URGENT_FLUSH_TIMEOUT": "300",
        }
    ).start()
    lines = event_lines(sample_dir / "events.jsonl")
    try:
        run.publish(lines[:100])
        run.wait_drained()
        outage.touch()  # the store is down: the next flush retries
        run.publish(lines[100:])
        wait_until(lambda: "store write failed" in worker.log_text(), 60, "a failing flush")
        proc = worker._proc
        assert proc is not None
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        if second_signal:
            time.sleep(1)
            proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
        took = time.monotonic() - started
    finally:
        worker.stop(timeout=5)
        outage.unlink(missing_ok=True)
    log = worker.log_text()
    assert code == EXIT_FORCED, log[-3000:]
    if second_signal:
        assert took < 4 and "second signal (SIGINT)" in log, (took, log[-2000:])
    else:
        assert took < 15 and "shutdown took longer than 4s" in log, (took, log[-2000:])
    assert run.lag() > 0  # nothing past the unwritten findings was committed
