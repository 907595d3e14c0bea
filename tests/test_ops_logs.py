"""`--log-format json` on the real CLI: every line the worker writes is one JSON object
with ts, level, logger and message, and a line about one event carries its event_id and
settlement_id as fields."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

import orjson
import pytest

from claimguard.ops.logs import JsonFormatter
from claimguard.serve.stack import WORKER_READY
from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import event_lines
from test_stream_support import Scenario

pytestmark = pytest.mark.integration


def _event(line: bytes) -> dict | None:  # type: ignore[type-arg]
    from claimguard.decode import DecodeError, decode_with_digest

    try:
        decode_with_digest(line)
    except DecodeError:
        return None
    return dict(orjson.loads(line))


def json_lines(text: str) -> list[dict]:  # type: ignore[type-arg]
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines
    parsed = []
    for line in lines:
        record = json.loads(line)  # every line, or the test fails naming it
        assert isinstance(record, dict), line
        assert {"ts", "level", "logger", "message"} <= set(record), line
        dt.datetime.fromisoformat(record["ts"])
        parsed.append(record)
    return parsed


def test_worker_logs_are_json_lines_with_event_ids(sample_dir: Path, tmp_path: Path) -> None:
    lines = event_lines(sample_dir / "events.jsonl")
    first = next(e for e in map(_event, lines) if e and e.get("event_type") == "settle")
    changed = dict(first)
    changed["items"] = [dict(item, quantity=item["quantity"] + 1) for item in first["items"]]
    with LocalBroker(log_dir=tmp_path / "broker") as broker:
        scenario = Scenario(broker, tmp_path, "opslogs", sample_dir / "knowledge")
        worker = scenario.worker()
        worker.extra_args = ["--log-format", "json"]
        worker.start()
        try:
            deadline = time.monotonic() + 90
            while WORKER_READY not in worker.log_text():
                assert worker.running and time.monotonic() < deadline, worker.log_text()[-2000:]
                time.sleep(0.2)
            # the event, then the same event_id with other content (refused), then junk
            scenario.publish([orjson.dumps(first), orjson.dumps(changed), b"not json at all"])
            scenario.wait_drained()
        finally:
            assert worker.stop() == 0
    records = json_lines(worker.log_text())
    assert any(WORKER_READY in r["message"] for r in records)  # Faust's own lines too
    refused = [r for r in records if "delivered before with other content" in r["message"]]
    assert len(refused) == 1
    assert refused[0]["event_id"] == first["event_id"]
    assert refused[0]["settlement_id"] == first["settlement_id"]
    assert refused[0]["level"] == "WARNING" and refused[0]["logger"] == "claimguard.stream"
    junk = [r for r in records if r["message"].startswith("dead letter") and "event_id" not in r]
    assert len(junk) == 1  # an unreadable line has no ids to give


def test_serve_logs_are_json_lines(claimguard_cli: list[str], tmp_path: Path) -> None:
    import subprocess

    from claimguard.stream.broker import free_port

    proc = subprocess.run(
        [*claimguard_cli, "serve", "--rules", str(tmp_path / "missing"), "--log-format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2  # refused before logging anything: the message says why
    assert "not a rule-pack directory" in proc.stderr
    port = free_port()
    proc2 = subprocess.Popen(
        [*claimguard_cli, "serve", "--broker", f"kafka://127.0.0.1:{free_port()}",
         "--listen", f"127.0.0.1:{port}", "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(4)
    proc2.terminate()
    _, err = proc2.communicate(timeout=30)
    json_lines(err)  # the broker is away: serve logs it, in JSON


def test_formatter_fields_and_exceptions() -> None:
    record = logging.makeLogRecord(
        {"name": "claimguard.x", "levelno": 40, "levelname": "ERROR", "msg": "a %s", "args": ("b",),
         "event_id": "E1", "settlement_id": "S1", "created": 0.0}
    )  # fmt: skip
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "a b" and line["event_id"] == "E1" and line["settlement_id"] == "S1"
    assert line["ts"] == "1970-01-01T00:00:00.000+00:00"
    assert "ValueError: boom" in line["exc"]
