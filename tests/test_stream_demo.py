"""`claimguard demo` end to end on a small synthetic day: real broker, worker and store."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from claimguard.stream.process import claimguard_command

pytestmark = pytest.mark.integration


def test_demo_runs_and_reports(tmp_path: Path) -> None:
    done = subprocess.run(
        [*claimguard_command(), "demo", "--data", str(tmp_path), "--settlements", "400"],
        capture_output=True,
        timeout=300,
        check=False,
    )
    out = done.stdout.decode(errors="replace")
    assert done.returncode == 0, out + done.stderr.decode(errors="replace")
    assert "Findings per violation and action" in out
    assert "jurisdictions" in out
    assert "dead letters" in out
    # everything it started is stopped: the store can be opened by another process
    assert (tmp_path / "store").is_dir()
    # it ends with the analysts' console and tokens for a supervisor and several counties
    assert "analysts' console" in out and "http://127.0.0.1:8090/" in out
    users = [line.split("\t") for line in (tmp_path / "tokens.tsv").read_text().splitlines()]
    analysts = [u for u in users if u[0] == "analyst"]
    assert len(analysts) >= 2 and all(u[3].strip() in out for u in users)
    listed = subprocess.run(
        [
            *claimguard_command(),
            "cases",
            "list",
            "--store",
            f"chdb://{tmp_path / 'store'}",
            "--token",
            analysts[0][3].strip(),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    cases = [json.loads(line) for line in listed.splitlines()]
    assert cases and {c["assigned_region"] for c in cases} == {analysts[0][1]}
    assert {"confirmed", "verifying"} <= {c["status"] for c in cases}
