"""`claimguard demo` shows the library: the NHSA rule types that fired and the ZB indicators,
from a real broker, worker and store; the worker wrote every settled settlement's line
totals beside its findings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest

from claimguard.store import FindingStore
from claimguard.stream.process import claimguard_command

pytestmark = pytest.mark.integration


def test_demo_shows_the_library_and_keeps_line_totals(tmp_path: Path) -> None:
    done = subprocess.run(
        [*claimguard_command(), "demo", "--data", str(tmp_path), "--settlements", "400"],
        capture_output=True,
        timeout=300,
        check=False,
    )
    out = done.stdout.decode(errors="replace")
    assert done.returncode == 0, out + done.stderr.decode(errors="replace")
    assert "NHSA rule library: rule types that fired" in out
    assert "GZ10000101007000" in out and "indicator findings in all" in out
    settled = set()
    for line in (tmp_path / "synth" / "events.jsonl").read_bytes().splitlines():
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("event_type") == "settled":
            settled.add(event.get("settlement_id"))
    with FindingStore.connect(f"chdb://{tmp_path / 'store'}") as store:
        stored = store.client.query(
            "SELECT uniqExact(settlement_id) FROM claimguard.settled_lines FINAL"
        ).result_rows[0][0]
    assert 0 < stored <= len(settled) and stored >= len(settled) - 5  # broken lines aside
