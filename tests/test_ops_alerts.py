"""deploy/prometheus: promtool checks the rules and runs their unit tests; every alert the
issue asks for exists, with summary, description and a runbook_url that lands on a
section of deploy/RUNBOOK.md; every metric an alert uses is one claimguard defines."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from claimguard.ops import names
from ops_support import DEPLOY, need_binary

ALERTS = DEPLOY / "prometheus" / "alerts.yml"
REQUIRED = {
    "ClaimguardWorkerDown",
    "ClaimguardNoEventsDuringWorkingHours",
    "ClaimguardConsumerLagGrowing",
    "ClaimguardDeadLetterRate",
    "ClaimguardStoreWritesFailing",
    "ClaimguardStoreRejectedFindings",
    "ClaimguardDecisionLatencyHigh",
    "ClaimguardManyUnchecked",
    "ClaimguardRuleErrors",
    "ClaimguardHoldRateJump",
}


def alert_rules() -> list[dict]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules() -> None:
    promtool = need_binary("promtool")
    done = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_unit_tests_pass() -> None:
    promtool = need_binary("promtool")
    done = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"],
        cwd=ALERTS.parent,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", (ALERTS.parent / "alerts.test.yml").read_text()))
    assert {r["alert"] for r in alert_rules()} <= tested  # every alert has a unit test


def runbook_anchors() -> set[str]:
    text = (DEPLOY / "RUNBOOK.md").read_text()
    anchors = set()
    for heading in re.findall(r"^#{1,4} (.+)$", text, flags=re.M):
        anchors.add(re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-"))
    return anchors


def test_every_alert_is_documented_and_linked() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= REQUIRED
    anchors = runbook_anchors()
    for rule in rules:
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], rule["alert"]
        url = notes["runbook_url"]
        assert url.split("#")[0].endswith("deploy/RUNBOOK.md"), url
        assert url.split("#")[1] in anchors, f"{rule['alert']}: no section #{url.split('#')[1]}"
        assert rule["labels"]["severity"] in ("critical", "warning")
    # the runbook explains how to roll back a rule pack
    assert "rolling-back-a-rule-pack" in anchors


def expression_metrics(expr: str) -> set[str]:
    """claimguard_* metric names an expression reads (recording rules excluded)."""
    found = set(re.findall(r"\bclaimguard_[a-z_]+", expr))
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in found}


def test_alert_metrics_are_defined() -> None:
    doc = yaml.safe_load(ALERTS.read_text())
    known = set(names.WORKER_METRICS) | set(names.SERVE_METRICS)
    for group in doc["groups"]:
        for rule in group["rules"]:
            unknown = expression_metrics(rule["expr"]) - known
            assert not unknown, (rule.get("alert") or rule.get("record"), unknown)


@pytest.mark.parametrize("path", sorted((DEPLOY / "prometheus").glob("*.yml")))
def test_prometheus_files_parse(path: Path) -> None:
    assert yaml.safe_load(path.read_text())
