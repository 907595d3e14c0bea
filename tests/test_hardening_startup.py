"""A --store that can never open fails at start with the real cause in one line and a
non-zero exit; one that is merely unavailable is waited for, within --store-wait."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest


def worker(cli: list[str], knowledge: Path, store: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            *cli,
            "worker",
            "--broker",
            "kafka://127.0.0.1:9",
            "--store",
            store,
            "--knowledge",
            str(knowledge),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _store_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("claimguard worker: store")]


@pytest.mark.parametrize(
    ("target", "cause"),
    [
        ("file:///tmp/claimguard-x", "unknown store scheme 'file://'"),
        ("{file}/sub", "Not a directory"),
        ("chdb:///proc/claimguard-store", "cannot use /proc/claimguard-store as a chdb directory"),
    ],
)
def test_a_store_that_can_never_open_fails_fast(
    sample_dir: Path, claimguard_cli: list[str], tmp_path: Path, target: str, cause: str
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    target = target.replace("{file}", f"chdb://{a_file}")
    started = time.monotonic()
    result = worker(claimguard_cli, sample_dir / "knowledge", target)
    assert result.returncode == 2, result.stderr[-2000:]
    assert time.monotonic() - started < 60
    lines = _store_lines(result.stderr)
    assert len(lines) == 1 and cause in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_an_unavailable_store_is_waited_for_within_the_bound(
    sample_dir: Path, claimguard_cli: list[str]
) -> None:
    with socket.socket() as sock:  # a port nothing listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    result = worker(
        claimguard_cli, sample_dir / "knowledge", f"http://127.0.0.1:{port}", "--store-wait", "2"
    )
    waited = time.monotonic() - started
    assert result.returncode == 69, result.stderr[-2000:]
    lines = _store_lines(result.stderr)
    assert len(lines) == 1 and "still unavailable after waiting 2s" in lines[0]
    assert "retrying" in result.stderr  # it did wait, with retries
    assert waited < 45
