"""The contract's worked sample through the real CLI: every expected row, nothing else."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path


def _key(row: dict) -> tuple:
    return (
        row["settlement_id"],
        row["violation"],
        row["action"],
        row["assigned_region"],
        row["assigned_level"],
        tuple(row["notify_regions"]),
    )


def test_replay_matches_expected(sample_dir: Path, claimguard_cli: list[str], tmp_path: Path):
    out, dead = tmp_path / "findings.jsonl", tmp_path / "dead.jsonl"
    result = subprocess.run(
        [
            *claimguard_cli,
            "replay",
            "--knowledge",
            str(sample_dir / "knowledge"),
            "--events",
            str(sample_dir / "events.jsonl"),
            "--out",
            str(out),
            "--dead-letter",
            str(dead),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "dead letters 4" in result.stdout
    expected = Counter(_key(json.loads(line)) for line in (sample_dir / "expected.jsonl").open())
    findings = [json.loads(line) for line in out.open()]
    got = Counter(_key(f) for f in findings if not f["reversed"])
    assert got - expected == Counter(), "findings the sample does not expect"
    assert expected - got == Counter(), "expected findings that are missing"
    dead_rows = [json.loads(line) for line in dead.open()]
    assert len(dead_rows) == 4
    assert all(row["error"] and row["raw"] for row in dead_rows)
    assert len({f["finding_id"] for f in findings}) == len(findings)


def test_findings_carry_contract_fields(
    sample_dir: Path, claimguard_cli: list[str], tmp_path: Path
):
    out = tmp_path / "f.jsonl"
    subprocess.run(
        [
            *claimguard_cli,
            "replay",
            "--knowledge",
            str(sample_dir / "knowledge"),
            "--events",
            str(sample_dir / "events.jsonl"),
            "--out",
            str(out),
        ],
        capture_output=True,
        check=True,
    )
    required = {
        "event_id",
        "settlement_id",
        "event_type",
        "rule_id",
        "rule_version",
        "violation",
        "layer",
        "stage",
        "action",
        "item_ids",
        "amount",
        "subject",
        "assigned_region",
        "assigned_level",
        "notify_regions",
        "message",
    }
    stage_of = {"precheck": "pre", "settle": "in", "settled": "post"}
    for line in out.open():
        row = json.loads(line)
        assert required <= row.keys()
        assert row["stage"] == stage_of[row["event_type"]]
        assert row["message"]
        assert row["amount"] >= 0
