"""The default packs: every case beside every rule, lint of bad packs naming file:line:rule."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from claimguard.rules import PackError, default_rules_dir, load_packs
from claimguard.rules.casetest import replay_case, run_case
from claimguard.rules.spec import CaseSpec
from claimguard.rules.taxonomy import ALL_TAXONOMY
from helpers import default_ruleset

CASES = [(rule.id, case) for rule in default_ruleset().rules for case in rule.spec.tests]


@pytest.mark.parametrize(("rule_id", "case"), CASES, ids=[f"{r}:{c.name}" for r, c in CASES])
def test_pack_case(rule_id: str, case):
    result = run_case(default_ruleset(), rule_id, case)
    assert result.passed, result.detail


def test_every_code_has_a_rule_and_a_test():
    rules = default_ruleset().rules
    # the contract's 20 codes and the library's rule-type codes (claimguard.library.nhsa)
    assert {r.spec.violation for r in rules} == set(ALL_TAXONOMY)
    assert all(r.spec.tests for r in rules)


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


@pytest.mark.parametrize(
    ("file", "old", "new", "needle", "fragment"),
    [
        (
            "policy/catalog.yaml",
            "    severity: high\n    applies_if: ref.max_unit_price",
            "    severity: high\n    colour: red\n    applies_if: ref.max_unit_price",
            "colour: red",
            "rule policy.price-over-cap: colour: Extra inputs are not permitted",
        ),
        (
            "policy/catalog.yaml",
            "when: over(item.unit_price, ref.max_unit_price, params.tolerance)",
            "when: over(item.unit_price, ref.max_price)",
            "ref.max_price",
            "rule policy.price-over-cap: when: ItemRow has no field 'max_price'",
        ),
        (
            "norms/dosage.yaml",
            "violation: EXCESSIVE_QUANTITY",
            "violation: TOO_MUCH",
            "TOO_MUCH",
            "rule norms.excessive-quantity: violation: Input should be",
        ),
        (
            "norms/practice.yaml",
            "id: norms.out-of-scope-practice",
            "id: norms.gender-mismatch",
            "id: norms.gender-mismatch",
            "rule norms.gender-mismatch: duplicate id",
        ),
        (
            "authenticity/stays.yaml",
            "check: readmission",
            "check: readmit",
            "check: readmit",
            "rule authenticity.split-hospitalization: check: 'readmit' is not one of",
        ),
        (
            "policy/agreement.yaml",
            "stages: {precheck: alert, settle: hold, settled: flag}",
            "stages: {precheck: alert, settle: alert, settled: flag}",
            "settle: alert",
            "rule policy.suspended-institution: stages: SUSPENDED_INSTITUTION at settle is hold",
        ),
        (
            "authenticity/visits.yaml",
            "params: {min_institutions: 3}",
            "params: {min_institutions: three}",
            "min_institutions: three",
            "rule authenticity.multi-institution-same-day: params.min_institutions",
        ),
    ],
)
def test_bad_pack_is_refused_naming_file_line_rule(
    packs: Path, file: str, old: str, new: str, needle: str, fragment: str
):
    path = packs / file
    _edit(path, old, new)
    with pytest.raises(PackError) as info:
        load_packs(packs)
    problems = [p for p in info.value.problems if str(path) in p]
    assert problems, info.value.problems
    line = _line_of(path, needle)
    assert any(p.startswith(f"{path}:{line}:") and fragment in p for p in problems), problems


def test_invalid_yaml_names_the_line(packs: Path):
    path = packs / "norms/dosage.yaml"
    _edit(path, "    version: 1\n", "    version: [1\n")
    with pytest.raises(PackError, match=r"dosage.yaml:\d+: invalid YAML"):
        load_packs(packs)


def test_lint_cli_exit_codes(packs: Path, claimguard_cli: list[str]):
    ok = subprocess.run(
        [*claimguard_cli, "rules", "lint", str(packs)], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0 and f"{len(default_ruleset().rules)} rules: ok" in ok.stdout
    _edit(packs / "norms/dosage.yaml", "severity: medium", "severity: urgent")
    bad = subprocess.run(
        [*claimguard_cli, "rules", "lint", str(packs)], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1 and "norms.excessive-quantity" in bad.stderr


def test_rules_test_cli_reports_each_case(claimguard_cli: list[str]):
    result = subprocess.run(
        [*claimguard_cli, "rules", "test"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("PASS") == len(CASES)
    assert f"{len(CASES)} passed, 0 failed" in result.stdout


def test_regional_override_replaces_a_rule_in_its_region_only(packs: Path):
    (packs / "policy/city-3206.yaml").write_text(
        """pack: policy.city-3206
layer: policy
rules:
  - id: policy.price-over-cap-3206
    version: 1
    violation: PRICE_OVER_CAP
    layer: policy
    subject: institution
    scope: item
    overrides: policy.price-over-cap
    regions: ["3206"]
    stages: {precheck: alert, settle: hold, settled: flag}
    applies_if: ref.max_unit_price != null
    when: over(item.unit_price, ref.max_unit_price * 1.1)
    message: {zh: "超过南通限价", en: "over the Nantong cap"}
    basis: 南通市医保局价格管理规定
""",
        encoding="utf-8",
    )
    case = CaseSpec(
        name="x",
        hits=[],
        events=[
            {"event_type": "settle", "settlement_id": "NT", "items": [{"unit_price": 21.0}]},
            {
                "event_type": "settle",
                "settlement_id": "XZ",
                "items": [{"unit_price": 21.0}],
                "institution": {"region": "320302"},
            },
        ],
    )
    session = replay_case(case, load_packs(packs))
    got = sorted((f.settlement_id, f.rule_id) for f in session.findings.values())
    assert got == [("XZ", "policy.price-over-cap")]
