"""`claimguard demo` end to end on a small synthetic day: real broker, worker and store."""

from __future__ import annotations

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
