"""The event archive under faults, with a real broker and worker: every valid event is in
`claimguard.events` exactly once (counted without FINAL: not even an unmerged copy) after a
kill -9 mid-stream (redelivery) and after a store outage (retried, never dropped)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest

from claimguard.decode import DecodeError, decode
from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import event_lines
from claimguard.stream.faults import SWITCH_ENV
from claimguard.synth import generate
from lifecycle_support import query_store
from test_stream_support import Scenario

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    out = tmp_path_factory.mktemp("archive-synth")
    generate(out, settlements=1_500, seed=17)
    return out / "knowledge", event_lines(out / "events.jsonl")


def _valid(lines: list[bytes]) -> dict[str, bytes]:
    """event_id → the first line that carried it."""
    found: dict[str, bytes] = {}
    for line in lines:
        try:
            found.setdefault(decode(line).event_id, line)
        except DecodeError:
            continue
    return found


def _assert_archived_once(store: str, valid: dict[str, bytes]) -> None:
    [[rows, distinct]] = query_store(
        store, "SELECT count(), uniqExact(event_id) FROM claimguard.events"
    )
    assert rows == distinct == len(valid)
    sample = sorted(valid)[:: max(1, len(valid) // 20)]
    ids = ", ".join(f"'{e}'" for e in sample)
    stored = query_store(
        store, f"SELECT event_id, raw FROM claimguard.events WHERE event_id IN ({ids})"
    )
    assert {e: orjson.loads(raw) for e, raw in stored} == {
        e: orjson.loads(valid[e]) for e in sample
    }


def test_archive_once_after_kill_9(lines: tuple[Path, list[bytes]], tmp_path: Path) -> None:
    knowledge, events = lines
    with LocalBroker(log_dir=tmp_path / "broker") as broker:
        run = Scenario(broker, tmp_path, "archive-kill", knowledge)
        worker = run.worker().start()
        run.publish(events[:500])
        run.wait_drained()
        publisher = threading.Thread(target=run.publish, args=(events[500:], 1_000.0))
        publisher.start()
        time.sleep(1.5)
        worker.kill()  # SIGKILL: what it archived but did not commit comes again
        assert publisher.is_alive()
        worker = run.worker().start()
        try:
            publisher.join(60)
            run.wait_drained()
        finally:
            code = worker.stop()
        assert code == 0, worker.log_text()[-3000:]
    _assert_archived_once(run.store(), _valid(events))


def test_archive_waits_out_a_store_outage(lines: tuple[Path, list[bytes]], tmp_path: Path) -> None:
    knowledge, events = lines
    outage = tmp_path / "store-is-down"
    half = len(events) // 2
    with LocalBroker(log_dir=tmp_path / "broker") as broker:
        run = Scenario(broker, tmp_path, "archive-outage", knowledge)
        worker = run.worker(**{SWITCH_ENV: str(outage)}).start()
        try:
            run.publish(events[:half])
            run.wait_drained()
            outage.touch()
            run.publish(events[half:])
            time.sleep(4)
            assert run.lag() > 0 and worker.running  # waiting, not dropping
            outage.unlink()
            run.wait_drained()
        finally:
            code = worker.stop()
        log = worker.log_text()
        assert code == 0, log[-3000:]
        assert "store write failed" in log and "retrying" in log
    _assert_archived_once(run.store(), _valid(events))


def test_archive_refused_for_good_is_logged_and_the_stream_goes_on(
    sample_dir: Path, tmp_path: Path
) -> None:
    """A store that refuses the archive rows for good (here: a column dropped by hand) is
    not retried forever: the refusal is logged with every event_id, decisions and findings
    go on."""
    import subprocess
    import sys

    from test_stream_support import expected_decisions, replay_findings, stored_findings

    knowledge = sample_dir / "knowledge"
    events = event_lines(sample_dir / "events.jsonl")
    with LocalBroker(log_dir=tmp_path / "broker") as broker:
        run = Scenario(broker, tmp_path, "archive-refused", knowledge)
        prepare = (
            "import sys\n"
            "from claimguard.store import FindingStore\n"
            "s = FindingStore.connect(sys.argv[1]); s.migrate()\n"
            "s.client.command('ALTER TABLE claimguard.events DROP COLUMN raw')\n"
        )
        subprocess.run([sys.executable, "-c", prepare, run.store()], check=True, timeout=120)
        run.publish(events)
        worker = run.worker().start()
        try:
            run.wait_drained()
        finally:
            code = worker.stop()
        log = worker.log_text()
        assert code == 0, log[-3000:]
        decisions = run.decisions()
    refusals = [line for line in log.splitlines() if "event archive refused" in line]
    assert refusals
    logged = " ".join(refusals)
    assert all(e in logged for e in _valid(events))  # every event_id is named
    assert {d["event_id"]: d["verdict"] for d in decisions} == expected_decisions(knowledge, events)
    want = replay_findings(knowledge, sample_dir / "events.jsonl", tmp_path)
    assert stored_findings(run.store()).keys() == want.keys()
    assert run.stats()["archive_refused"] >= len(_valid(events))
