"""The contract's worked sample through the real CLI: every expected row, nothing else."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import pytest


class Replayed(NamedTuple):
    stdout: str
    findings: list[dict]
    dead_letters: list[dict]


@pytest.fixture(scope="module")
def replayed(
    sample_dir: Path, claimguard_cli: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Replayed:
    out_dir = tmp_path_factory.mktemp("sample")
    out, dead = out_dir / "findings.jsonl", out_dir / "dead.jsonl"
    result = subprocess.run(
        [*claimguard_cli, "replay", "--knowledge", str(sample_dir / "knowledge"),
         "--events", str(sample_dir / "events.jsonl"), "--out", str(out),
         "--dead-letter", str(dead)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return Replayed(
        result.stdout,
        [json.loads(line) for line in out.open()],
        [json.loads(line) for line in dead.open()],
    )


def _key(row: dict) -> tuple:
    return (
        row["settlement_id"],
        row["violation"],
        row["action"],
        row["assigned_region"],
        row["assigned_level"],
        tuple(row["notify_regions"]),
    )


def test_replay_matches_expected(sample_dir: Path, replayed: Replayed):
    assert "dead letters 4" in replayed.stdout
    expected = Counter(_key(json.loads(line)) for line in (sample_dir / "expected.jsonl").open())
    got = Counter(_key(f) for f in replayed.findings if not f["reversed"])
    assert got - expected == Counter(), "findings the sample does not expect"
    assert expected - got == Counter(), "expected findings that are missing"
    assert len({f["finding_id"] for f in replayed.findings}) == len(replayed.findings)


def test_broken_lines_are_dead_letters_with_reasons(replayed: Replayed):
    assert len(replayed.dead_letters) == 4
    assert all(row["error"] and row["raw"] and row["line"] for row in replayed.dead_letters)


def test_findings_carry_contract_fields(replayed: Replayed):
    required = {"event_id", "settlement_id", "event_type", "rule_id", "rule_version", "violation",
                "layer", "stage", "action", "item_ids", "amount", "subject", "assigned_region",
                "assigned_level", "notify_regions", "message"}  # fmt: skip
    stage_of = {"precheck": "pre", "settle": "in", "settled": "post"}
    for row in replayed.findings:
        assert required <= row.keys()
        assert row["stage"] == stage_of[row["event_type"]]
        assert row["message"]
        assert row["amount"] >= 0
