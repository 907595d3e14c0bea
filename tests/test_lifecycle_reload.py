"""Hot reload and rollback with a real Tansu broker and a real `claimguard worker`.

- reload under load: a pack change arrives by SIGHUP while events stream in; no event is
  lost (every decision, every event archived) and every event published after the swap
  is evaluated by the new set;
- a broken pack is refused: the worker keeps running on the old set and keeps deciding;
- rollback: a hold rule that fires on everything goes live, holds appear, the previous
  pack is restored by SIGHUP, and decisions after the rollback are the correct ones."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from claimguard.decode import DecodeError, decode
from claimguard.rules.digest import file_digest
from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import event_lines
from claimguard.stream.process import WorkerProcess
from claimguard.synth import generate
from lifecycle_support import HOLD_EVERYTHING, copy_rules, query_store
from test_stream_support import Scenario, expected_decisions, stored_findings, wait_until

pytestmark = pytest.mark.integration
RULE = "policy.hold-everything"
SWAPPED = "swapped digest"
REFUSED = "rule reload (SIGHUP) refused"
READY = "SIGHUP reloads packs and knowledge"  # the reload handler is installed


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reload-synth")
    generate(out, settlements=1_500, seed=11)
    return out


def _start(scenario: Scenario, rules: Path) -> WorkerProcess:
    worker = scenario.worker()
    worker.rules = rules
    worker.start()
    try:
        wait_until(lambda: READY in worker.log_text() or not worker.running, 90, "ready")
        assert worker.running, worker.log_text()[-3000:]
    except BaseException:
        worker.stop()
        raise
    return worker


def _sighup_and_wait(worker: WorkerProcess, line: str) -> None:
    before = worker.log_text().count(line)
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGHUP)
    wait_until(lambda: worker.log_text().count(line) > before, 60, f"log line {line!r}")


def _event_ids(lines: list[bytes]) -> list[str]:
    ids = []
    for line in lines:
        try:
            ids.append(decode(line).event_id)
        except DecodeError:
            continue
    return ids


def test_reload_under_load_loses_nothing_and_applies_after_the_swap(
    synth: Path, tmp_path: Path
) -> None:
    knowledge = synth / "knowledge"
    lines = event_lines(synth / "events.jsonl")
    first, second = lines[: len(lines) // 2], lines[len(lines) // 2 :]
    rules = copy_rules(tmp_path / "rules")
    pack = rules / "policy" / "hold-everything.yaml"
    with LocalBroker(log_dir=tmp_path / "broker") as broker:
        scenario = Scenario(broker, tmp_path, "reload", knowledge)
        worker = _start(scenario, rules)
        try:
            # the first half streams in while the pack changes and the worker reloads
            publisher = threading.Thread(target=scenario.publish, args=(first, 800.0))
            publisher.start()
            time.sleep(1.0)
            pack.write_text(HOLD_EVERYTHING.format(mode="shadow"), encoding="utf-8")
            _sighup_and_wait(worker, SWAPPED)
            publisher.join()
            scenario.publish(second)  # all of it after the swap
            scenario.wait_drained()

            # a broken pack is refused; the worker goes on with the set in force
            broken = rules / "norms" / "broken.yaml"
            broken.write_text("pack: x\nlayer: norms\nrules: [\n", encoding="utf-8")
            _sighup_and_wait(worker, REFUSED)
            assert "broken.yaml:" in worker.log_text().split(REFUSED)[-1].splitlines()[0]
            assert worker.running
            again = [_renamed(line) for line in second[:50]]
            scenario.publish(again)
            scenario.wait_drained()
        finally:
            code = worker.stop()
        assert code == 0, worker.log_text()[-3000:]
        decisions = scenario.decisions()

    # nothing lost: a decision for every check, the verdicts of the live rules only
    want = expected_decisions(knowledge, lines)
    got = {d["event_id"]: d["verdict"] for d in decisions}
    assert {k: got.get(k) for k in want} == want
    valid = set(_event_ids(lines))
    [[archived]] = query_store(
        scenario.store(), "SELECT uniqExact(event_id) FROM claimguard.events FINAL"
    )
    assert archived == len(valid | set(_event_ids(again)))
    # every event after the swap went through the new set: the shadow rule's marker
    marked = {
        f["event_id"]: f for f in stored_findings(scenario.store()).values() if f["rule_id"] == RULE
    }
    seen_first = set(_event_ids(first))
    after_swap = {
        e.event_id
        for line in second
        if (e := _decoded(line)) is not None
        and e.event_type != "reversal"
        and e.event_id not in seen_first
    }
    assert after_swap and after_swap <= marked.keys()
    digest = file_digest(pack)
    assert {f["pack_digest"] for f in marked.values()} == {digest}
    assert all(f["shadow"] for f in marked.values())
    # the events published after the refused reload were still checked (old set in force)
    checks = [e for e in map(_decoded, again) if e and e.event_type in ("precheck", "settle")]
    assert checks and {d["event_id"] for d in decisions} >= {e.event_id for e in checks}


def _renamed(line: bytes) -> bytes:
    """The same event under a new event_id (so that it is new to the engine)."""
    return line.replace(b'"event_id":"', b'"event_id":"R').replace(
        b'"event_id": "', b'"event_id": "R'
    )


def _decoded(line: bytes):  # type: ignore[no-untyped-def]
    try:
        return decode(line)
    except DecodeError:
        return None


def test_rollback_restores_correct_decisions(synth: Path, tmp_path: Path) -> None:
    knowledge = synth / "knowledge"
    lines = event_lines(synth / "events.jsonl")
    third = len(lines) // 3
    parts = lines[:third], lines[third : 2 * third], lines[2 * third :]
    rules = copy_rules(tmp_path / "rules")
    bad = rules / "policy" / "hold-everything.yaml"
    with LocalBroker(log_dir=tmp_path / "broker") as broker:
        scenario = Scenario(broker, tmp_path, "rollback", knowledge)
        worker = _start(scenario, rules)
        try:
            scenario.publish(parts[0])
            scenario.wait_drained()
            bad.write_text(HOLD_EVERYTHING.format(mode="live"), encoding="utf-8")
            _sighup_and_wait(worker, SWAPPED)
            scenario.publish(parts[1])
            scenario.wait_drained()
            bad.unlink()  # the rollback: the previous pack, as it was
            _sighup_and_wait(worker, SWAPPED)
            scenario.publish(parts[2])
            scenario.wait_drained()
        finally:
            code = worker.stop()
        assert code == 0, worker.log_text()[-3000:]
        decisions = {d["event_id"]: d for d in scenario.decisions()}

    want = expected_decisions(knowledge, lines)
    ids = [set(_event_ids(p)) for p in parts]
    bad_window = {e: d for e, d in decisions.items() if e in ids[1] and e not in ids[0]}
    settles = [d for d in bad_window.values() if d["event_type"] == "settle"]
    assert settles and all(d["verdict"] == "hold" for d in settles)  # the incident
    assert all(any(f["rule_id"] == RULE for f in d["findings"]) for d in bad_window.values())
    after = {e: want[e] for e in ids[2] - ids[1] - ids[0] if e in want}
    assert after and {e: decisions[e]["verdict"] for e in after} == after
    assert not any(f["rule_id"] == RULE for e in after for f in decisions[e]["findings"])
    log = worker.log_text()
    assert log.count(SWAPPED) == 2
    shutil.rmtree(rules)
