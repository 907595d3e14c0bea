"""Replay never loses or clobbers output: clashing paths are refused, output is written
atomically, and a run stopped on event N keeps the findings of events 1..N-1."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from claimguard.engine import Engine
from claimguard.replay import run_replay
from test_cli import replay


@pytest.mark.parametrize("clash", ["out-is-events", "dead-is-events", "out-is-dead"])
def test_outputs_that_would_overwrite_input_or_each_other_are_refused(
    sample_dir: Path, claimguard_cli: list[str], tmp_path: Path, clash: str
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes((sample_dir / "events.jsonl").read_bytes())
    before = events.read_bytes()
    out, dead = tmp_path / "f.jsonl", tmp_path / "d.jsonl"
    if clash == "out-is-events":
        out = tmp_path / "." / "events.jsonl"
    elif clash == "dead-is-events":
        (tmp_path / "link.jsonl").symlink_to(events)
        dead = tmp_path / "link.jsonl"
    else:
        dead = out
    result = replay(claimguard_cli, sample_dir / "knowledge", events, out, "--dead-letter", dead)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is the same file as" in result.stderr
    assert events.read_bytes() == before


def _findings(path: Path) -> set[tuple[str, str, str]]:
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return {(r["settlement_id"], r["violation"], r["action"]) for r in rows}


def test_a_run_stopped_on_event_n_keeps_the_findings_of_1_to_n_minus_1(
    sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = (sample_dir / "events.jsonl").read_bytes().splitlines(keepends=True)
    stop_at = 400  # 1-based line of the event the run stops on
    head = tmp_path / "head.jsonl"
    head.write_bytes(b"".join(lines[: stop_at - 1]))
    assert run_replay(sample_dir / "knowledge", head, tmp_path / "head-out.jsonl") == 0
    expected = _findings(tmp_path / "head-out.jsonl")
    assert expected

    real = Engine.process
    seen: list[str] = []

    def crashing(self: Engine, event, history, digest=""):  # type: ignore[no-untyped-def]
        seen.append(event.event_id)
        if orjson.loads(lines[stop_at - 1])["event_id"] == event.event_id:
            raise KeyboardInterrupt  # the operator's Ctrl-C, or anything fatal
        return real(self, event, history, digest)

    monkeypatch.setattr(Engine, "process", crashing)
    out = tmp_path / "out.jsonl"
    out.write_text("previous run\n")
    code = run_replay(sample_dir / "knowledge", sample_dir / "events.jsonl", out)
    assert code == 1
    assert out.read_text() == "previous run\n"  # a complete earlier output is not clobbered
    partial = tmp_path / "out.jsonl.partial"
    assert _findings(partial) == expected


def test_sigterm_mid_run_keeps_a_partial_output(claimguard_cli: list[str], tmp_path: Path) -> None:
    """The real command, stopped from outside half-way through a large file."""
    import signal
    import subprocess
    import time

    from claimguard.synth import generate

    generate(tmp_path / "data", settlements=20_000, seed=5)
    events = tmp_path / "data" / "events.jsonl"
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [
            *claimguard_cli,
            "replay",
            "--knowledge",
            str(tmp_path / "data" / "knowledge"),
            "--events",
            str(events),
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3.0)  # loading and part of the run; the whole file takes longer
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the machine replayed the whole file before the signal")
    assert proc.returncode == 1, stderr
    assert "stopped at line" in stderr and "Terminated" in stderr
    partial = tmp_path / "out.jsonl.partial"
    assert partial.exists() and not out.exists()
    assert all(orjson.loads(line) for line in partial.read_bytes().splitlines())
