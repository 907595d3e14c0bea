"""`claimguard synth` writes a library block: knowledge points and events that exercise every
implemented points rule type (hits, exactly-at-threshold boundaries, clean uses). Replayed
by the real CLI, every expected hit is found, each rule hits nothing else in its cases, and
the block adds no contract §3 finding."""

from __future__ import annotations

import subprocess

import orjson
import pytest

from claimguard.rules.taxonomy import LIBRARY_TAXONOMY, TAXONOMY
from claimguard.synth import generate
from helpers import default_ruleset


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory, claimguard_cli: list[str]):
    out = tmp_path_factory.mktemp("synth")
    summary = generate(out, settlements=600, seed=3)
    findings = out / "findings.jsonl"
    result = subprocess.run(
        [*claimguard_cli, "replay", "--knowledge", str(out / "knowledge"),
         "--events", str(out / "events.jsonl"), "--out", str(findings)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [orjson.loads(line) for line in findings.read_bytes().splitlines()]
    raw = (out / "library_expected.jsonl").read_bytes()
    expected = [orjson.loads(line) for line in raw.splitlines()]
    return out, summary, rows, expected


def test_every_points_rule_is_exercised(replayed):
    _, summary, _, expected = replayed
    ruleset = default_ruleset()
    exercised = {r.id for r in ruleset.points_rules} | {
        r.id for r in ruleset.window_rules if r.spec.violation in LIBRARY_TAXONOMY
    }
    assert "authenticity.frequent-dispensing" in exercised
    assert {row["rule_id"] for row in expected if "action" in row} == exercised
    assert summary.library_hits == sum("action" in row for row in expected) > 70


def test_expected_hits_are_found_and_nothing_else_of_the_rule(replayed):
    _, _, findings, expected = replayed
    live = [f for f in findings if not f["reversed"]]
    for case in (row for row in expected if "case_settlements" in row):
        settlements = set(case["case_settlements"])
        got = sorted(
            (f["settlement_id"], f["action"])
            for f in live
            if f["rule_id"] == case["rule_id"] and f["settlement_id"] in settlements
        )
        wanted = sorted(
            (row["settlement_id"], row["action"])
            for row in expected
            if row.get("rule_id") == case["rule_id"] and row.get("settlement_id") in settlements
        )
        assert got == wanted, case


def test_the_block_adds_no_contract_finding_and_comes_first(replayed):
    out, _, findings, _ = replayed
    block = [f for f in findings if f["settlement_id"].startswith("L")]
    assert block and not [f for f in block if f["violation"] in TAXONOMY]
    lines = (out / "events.jsonl").read_bytes().splitlines()
    first = orjson.loads(lines[0])
    assert first["settlement_id"].startswith("L") and first["occurred_at"].startswith("2023-")
    points = (out / "knowledge" / "knowledge_points.csv").read_text(encoding="utf-8")
    assert points.startswith("point_id,rule,code_type,codes,related,")
