"""Faults against real processes: kill -9 of the worker mid-stream, a frozen broker, an
unavailable store, and two workers sharing a group. Each time the findings table must end
equal to what `claimguard replay` writes for the same events.

One Tansu broker serves the module; each test has its own topics, group and stores.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import event_lines
from claimguard.stream.faults import SWITCH_ENV
from claimguard.stream.process import WorkerProcess
from claimguard.synth import generate
from test_stream_support import (
    Scenario,
    diff,
    expected_decisions,
    replay_findings,
    stored_findings,
    wait_until,
)

pytestmark = pytest.mark.integration

RATE = 600.0  # events/s while a fault happens mid-stream
WARM_UP = 300  # events processed before the fault scenario starts


class Data:
    def __init__(self, root: Path) -> None:
        generate(root, settlements=1500, seed=1)
        self.knowledge = root / "knowledge"
        self.events = root / "events.jsonl"
        self.lines = event_lines(self.events)
        self.findings = replay_findings(self.knowledge, self.events, root)
        self.decisions = expected_decisions(self.knowledge, self.lines)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    with LocalBroker(log_dir=tmp_path_factory.mktemp("faults-broker")) as running:
        yield running


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Data:
    loaded = Data(tmp_path_factory.mktemp("faults-data"))
    assert any(f["reversed"] for f in loaded.findings.values())  # reversals are exercised
    return loaded


def scenario(broker: LocalBroker, data: Data, tmp_path: Path, name: str) -> Scenario:
    return Scenario(broker, tmp_path, name, data.knowledge)


class Publisher(threading.Thread):
    """Publishes in the background at a steady rate, so faults land mid-stream."""

    def __init__(self, run: Scenario, lines: list[bytes], rate: float = RATE) -> None:
        super().__init__(daemon=True)
        self.run_ = run
        self.lines = lines
        self.rate = rate
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.run_.publish(self.lines, rate=self.rate)
        except BaseException as exc:
            self.error = exc

    def finish(self, timeout: float = 60.0) -> None:
        self.join(timeout)
        assert not self.is_alive(), "publisher did not finish"
        assert self.error is None, self.error


def decisions_seen(run: Scenario) -> int:
    return len(run.decisions())


def assert_verdicts_equal_replay(run: Scenario, data: Data) -> list[dict[str, Any]]:
    """Every distinct precheck/settle event has a decision, and every decision (a redelivery
    may repeat one) carries the verdict and findings replay computes for it."""
    decisions = run.decisions()
    assert {d["event_id"] for d in decisions} == set(data.decisions)
    wrong = [
        (d["event_id"], d["verdict"], data.decisions[d["event_id"]])
        for d in decisions
        if d["verdict"] != data.decisions[d["event_id"]]
    ]
    assert not wrong, wrong[:5]
    return decisions


def assert_store_equals_replay(data: Data, *targets: str) -> dict[str, Any]:
    got = stored_findings(*targets)
    problem = diff(got, data.findings)
    assert not problem, problem
    return got


def start_streaming(run: Scenario, data: Data) -> tuple[WorkerProcess, Publisher]:
    """A worker that is up and consuming, and a publisher feeding it the rest at RATE."""
    worker = run.worker().start()
    run.publish(data.lines[:WARM_UP])
    run.wait_drained()
    publisher = Publisher(run, data.lines[WARM_UP:])
    publisher.start()
    time.sleep(1.5)  # well inside the ~4.5 s the publisher needs
    return worker, publisher


def test_kill_9_mid_stream_then_restart(broker: LocalBroker, data: Data, tmp_path: Path) -> None:
    run = scenario(broker, data, tmp_path, "kill9")
    worker, publisher = start_streaming(run, data)
    worker.kill()  # SIGKILL: no flush, no commit, no leave-group
    assert publisher.is_alive()  # mid-stream
    worker = run.worker().start()
    try:
        publisher.finish()
        run.wait_drained()
    finally:
        code = worker.stop()
    assert code == 0, worker.log_text()[-3000:]
    assert run.stats()["histories_loaded"] > 0  # restored from the changelog
    assert_store_equals_replay(data, run.store())
    # At-least-once across a crash: every decision is there, maybe twice, always as replay.
    assert_verdicts_equal_replay(run, data)


def test_broker_frozen_then_resumed(broker: LocalBroker, data: Data, tmp_path: Path) -> None:
    run = scenario(broker, data, tmp_path, "pause")
    # Sends time out after 3 s: a freeze of 12 s, twice the group's session timeout (6 s),
    # makes them fail, so the flush's resend path runs (not only a long wait).
    worker = run.worker(CLAIMGUARD_PRODUCER_REQUEST_TIMEOUT_MS="3000").start()
    run.publish(data.lines[:WARM_UP])
    run.wait_drained()
    publisher = Publisher(run, data.lines[WARM_UP:])
    publisher.start()
    time.sleep(1.5)
    try:
        assert publisher.is_alive()  # mid-stream
        broker.pause()  # SIGSTOP: memory storage would lose everything on a restart
        try:
            time.sleep(12)
            assert worker.running
        finally:
            broker.resume()
        publisher.finish()
        run.wait_drained()
    finally:
        code = worker.stop()
    log = worker.log_text()
    assert code == 0, log[-3000:]
    assert "will resend" in log or "handing" in log, log[-3000:]
    assert_store_equals_replay(data, run.store())
    assert_verdicts_equal_replay(run, data)


def test_store_unavailable_for_a_while(broker: LocalBroker, data: Data, tmp_path: Path) -> None:
    run = scenario(broker, data, tmp_path, "storedown")
    outage = tmp_path / "store-is-down"
    worker = run.worker(**{SWITCH_ENV: str(outage)}).start()
    half = len(data.lines) // 2
    try:
        run.publish(data.lines[:half])
        run.wait_drained()
        outage.touch()
        run.publish(data.lines[half:])
        time.sleep(5)
        # Nothing past unwritten rows is committed; the worker waits instead of dropping.
        assert run.lag() > 0
        assert worker.running
        outage.unlink()
        run.wait_drained()
    finally:
        code = worker.stop()
    log = worker.log_text()
    assert code == 0, log[-3000:]
    assert "store write failed" in log and "retrying" in log
    assert_store_equals_replay(data, run.store())
    decisions = Counter(d["event_id"] for d in assert_verdicts_equal_replay(run, data))
    assert max(decisions.values()) == 1  # no crash, no redelivery: exactly once


def test_two_workers_split_the_partitions(broker: LocalBroker, data: Data, tmp_path: Path) -> None:
    run = scenario(broker, data, tmp_path, "pair")
    # One chdb directory per process: each worker writes its own store here; in production
    # both write to one ClickHouse server.
    first = run.worker("-a").start()
    second = run.worker("-b").start()
    try:
        wait_until(lambda: run.members() == 2, 60, "both workers in the group")
        time.sleep(3)  # let the rebalance settle before the first event
        run.publish(data.lines)
        run.wait_drained()
    finally:
        codes = (first.stop(), second.stop())
    assert codes == (0, 0), first.log_text()[-2000:] + second.log_text()[-2000:]
    share_a = stored_findings(run.store("-a"))
    share_b = stored_findings(run.store("-b"))
    assert share_a and share_b  # both did part of the work
    assert not set(share_a) & set(share_b)
    assert_store_equals_replay(data, run.store("-a"), run.store("-b"))
    decisions = Counter(d["event_id"] for d in assert_verdicts_equal_replay(run, data))
    assert max(decisions.values()) == 1


def late_order(data: Data, moves: int = 15, delay: int = 60) -> tuple[list[bytes], int]:
    """The events with some flagged settlements' `settled` events arriving `delay` lines
    late, and a split index at which one of them is still on its way."""
    flagged = {f["settlement_id"] for f in data.findings.values() if f["action"] == "flag"}
    candidates = []
    for index, line in enumerate(data.lines):
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if event.get("event_type") == "settled" and event["settlement_id"] in flagged:
            candidates.append(index)
    chosen = sorted(random.Random(3).sample(candidates, moves), reverse=True)
    lines = list(data.lines)
    for index in chosen:
        lines.insert(min(len(lines), index + delay), lines.pop(index))
    return lines, chosen[len(chosen) // 2] + delay // 2


def test_late_events_across_a_restart(broker: LocalBroker, data: Data, tmp_path: Path) -> None:
    """Histories come back from the changelog: a patient's late event, processed by a new
    worker process, yields the flags that in-order processing (replay) yields."""
    run = scenario(broker, data, tmp_path, "late")
    lines, split = late_order(data)
    worker = run.worker().start()
    try:
        run.publish(lines[:split])
        wait_until(lambda: decisions_seen(run) > 0, 60, "the first decisions")
    finally:
        # a graceful stop mid-stream: the worker flushes what it evaluated, then commits
        assert worker.stop() == 0, worker.log_text()[-3000:]
    left = run.lag()
    worker = run.worker().start()
    try:
        run.publish(lines[split:])
        run.wait_drained()
    finally:
        assert worker.stop() == 0, worker.log_text()[-3000:]
    assert left < len(data.lines)  # the first worker's commits survived its stop
    assert run.stats()["histories_loaded"] > 0  # restored from the changelog
    assert "Error in recovery" not in worker.log_text()
    assert_store_equals_replay(data, run.store())
    decisions = Counter(d["event_id"] for d in run.decisions())
    assert set(decisions) == set(data.decisions)
    assert max(decisions.values()) == 1  # a graceful restart re-evaluates nothing


def _make_unwritable(directory: Path, writable: bool) -> bool:
    """Make the store's files unwritable for the real driver (or writable again): chattr +i
    as root (root ignores permissions), chmod otherwise. False when neither is possible."""
    if os.geteuid() == 0:
        flag = "-i" if writable else "+i"
        done = subprocess.run(["chattr", "-R", flag, str(directory / "store")], check=False)
        return done.returncode == 0 or writable
    mode = "u+w" if writable else "a-w"
    return subprocess.run(["chmod", "-R", mode, str(directory)], check=False).returncode == 0


def test_store_disk_unwritable_for_a_while(broker: LocalBroker, data: Data, tmp_path: Path) -> None:
    """The outage through the real driver: chdb cannot create its part directories."""
    if shutil.which("chattr") is None and os.geteuid() == 0:
        pytest.skip("chattr (e2fsprogs) is needed to make a directory unwritable for root")
    run = scenario(broker, data, tmp_path, "diskdown")
    worker = run.worker().start()
    store_dir = Path(run.store()[len("chdb://") :])
    half = len(data.lines) // 2
    try:
        run.publish(data.lines[:half])
        run.wait_drained()
        if not _make_unwritable(store_dir, writable=False):
            pytest.skip("this file system cannot make the store unwritable")
        try:
            run.publish(data.lines[half:])
            time.sleep(5)
            assert run.lag() > 0  # nothing past unwritten rows is committed
            assert worker.running
        finally:
            _make_unwritable(store_dir, writable=True)
        run.wait_drained()
    finally:
        code = worker.stop()
    log = worker.log_text()
    assert code == 0, log[-3000:]
    assert "store cannot write its files" in log and "retrying" in log
    assert "refused by the store" not in log  # an outage is waited out, not dead-lettered
    assert_store_equals_replay(data, run.store())
    assert_verdicts_equal_replay(run, data)
