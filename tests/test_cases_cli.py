"""The cases CLI on a real chdb store holding the contract sample's findings (replayed
through the real engine and store writer): subtree scope, guessed ids, transitions,
reversals, scoped SQL, users and the audit trail. Every command is the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cases_support import DISPOSITION_REASON, populate_in_child

pytestmark = pytest.mark.integration

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> str:
    directory = tmp_path_factory.mktemp("cases") / "store"
    populate_in_child(directory, sample_dir)
    return f"chdb://{directory}"


@pytest.fixture(scope="module")
def cg(store: str, claimguard_cli: list[str]) -> Run:
    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*claimguard_cli, *args, "--store", store],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    return run


def cases(cg: Run, region: str, *extra: str) -> list[dict[str, Any]]:
    out = cg("cases", "list", "--as", region, "--format", "json", *extra).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_each_region_sees_exactly_its_subtree(cg: Run) -> None:
    county = cases(cg, "320612")
    city = cases(cg, "320600")
    national = cases(cg, "000000")
    assert county and {c["assigned_region"] for c in county} == {"320612"}
    assert {c["assigned_region"] for c in city} >= {"320600", "320602", "320612", "320681"}
    assert all(c["assigned_region"].startswith("3206") for c in city)
    assert {c["case_id"] for c in county} < {c["case_id"] for c in city}
    assert len(national) == len({c["finding_id"] for c in national}) > len(city)
    for row in county:  # the fixed fields; person ids only as keyed pseudonyms
        assert {
            "case_id",
            "finding_id",
            "settlement_id",
            "violation",
            "assigned_region",
            "status",
            "amount",
        } <= set(row)
        assert "person_id" not in row and row["person"].startswith("PX")
    # the reversal in the sample voided its flags' cases; void cases cannot be worked
    void = [c for c in national if c["status"] == "void"]
    assert void
    refused = cg("cases", "set", void[0]["case_id"], "verifying", "--as", "000000", ok=False)
    assert refused.returncode == 3


def test_guessed_ids_and_other_counties_are_refused_without_change(cg: Run) -> None:
    other = cases(cg, "320602")[0]
    unknown = "C-" + "0" * 16
    for case_id in (other["case_id"], unknown, other["finding_id"]):
        shown = cg("cases", "show", case_id, "--as", "320612", ok=False)
        assert shown.returncode == 3 and shown.stdout == ""
        assert "not in the subtree of 320612" in shown.stderr
        changed = cg("cases", "set", case_id, "verifying", "--as", "320612", ok=False)
        assert changed.returncode == 3
    again = json.loads(
        cg("cases", "show", other["case_id"], "--as", "320602", "--format", "json").stdout
    )
    assert again["status"] == "assigned" and again["history"] == []
    audit = cg("cases", "audit", "--as", "320612", "--format", "json").stdout
    actions = [json.loads(line)["action"] for line in audit.splitlines()]
    assert actions.count("view-refused") >= 3 and actions.count("change-refused") >= 3


def test_transitions_verdicts_and_feedback(cg: Run) -> None:
    case = cases(cg, "320612", "--status", "assigned")[0]
    cid = case["case_id"]
    assert (
        cg(
            "cases", "set", cid, "confirmed", "--as", "320612", "--amount", "10", ok=False
        ).returncode
        == 3
    )  # a verdict needs a verification first
    cg("cases", "set", cid, "verifying", "--as", "320612")
    assert cg("cases", "set", cid, "confirmed", "--as", "320612", ok=False).returncode == 3
    assert cg("cases", "set", cid, "dismissed", "--as", "320612", ok=False).returncode == 3
    assert (
        cg(
            "cases", "set", cid, "confirmed", "--as", "320612", "--amount", "-1", ok=False
        ).returncode
        == 3
    )
    cg("cases", "set", cid, "confirmed", "--as", "320612", "--amount", "88.5")
    assert (
        cg("cases", "set", cid, "dismissed", "--as", "320612", "--reason", "x", ok=False).returncode
        == 3
    )  # closed stays closed
    shown = json.loads(cg("cases", "show", cid, "--as", "320600", "--format", "json").stdout)
    assert shown["status"] == "confirmed" and shown["recovered"] == 88.5
    assert [(h["from_status"], h["to_status"]) for h in shown["history"]] == [
        ("assigned", "verifying"),
        ("verifying", "confirmed"),
    ]
    # the city reports it upward, and the rule's precision counts it
    report = [
        json.loads(x)
        for x in cg("query", "report", "--as", "320600", "--format", "json").stdout.splitlines()
    ]
    confirmed = [r for r in report if r["status"] == "confirmed"]
    assert sum(r["recovered"] for r in confirmed) >= 88.5
    stats = [
        json.loads(x)
        for x in cg(
            "rules", "stats", "--as", "320612", "--min-cases", "1", "--format", "json"
        ).stdout.splitlines()
    ]
    rule = next(r for r in stats if r["rule_id"] == case["rule_id"])
    assert rule["confirmed"] >= 1 and rule["precision"] == 1.0 and rule["mark"] == "ready-for-in"
    # escalation hands the case to the parent: the county no longer works it
    other = cases(cg, "320612", "--status", "assigned")[0]["case_id"]
    cg("cases", "set", other, "escalated", "--as", "320612")
    assert cg("cases", "show", other, "--as", "320612", ok=False).returncode == 3
    up = json.loads(cg("cases", "show", other, "--as", "320600", "--format", "json").stdout)
    assert up["assigned_region"] == "320600" and up["status"] == "escalated"


def test_users_tokens_roles(cg: Run) -> None:
    analyst = cg("users", "add", "ana", "--role", "analyst", "--region", "320681").stdout.strip()
    boss = cg("users", "add", "boss", "--role", "supervisor", "--region", "320600").stdout.strip()
    listed = cg("users", "list", "--format", "json").stdout
    assert analyst not in listed and boss not in listed and '"ana"' in listed
    case = cases(cg, "320681", "--status", "assigned")[0]["case_id"]
    as_analyst = ("--token", analyst)
    # an analyst may not transfer (转办 is a supervisor's call); a supervisor may
    assert (
        cg("cases", "set", case, "transferred", "--to", "320602", *as_analyst, ok=False).returncode
        == 3
    )
    assert (
        cg(
            "cases", "set", case, "transferred", "--to", "110105", "--token", boss, ok=False
        ).returncode
        == 3
    )  # outside the supervisor's subtree
    cg("cases", "set", case, "transferred", "--to", "320602", "--token", boss)
    assert case in {c["case_id"] for c in cases(cg, "320602")}
    assert cg("cases", "show", case, *as_analyst, ok=False).returncode == 3
    # the token narrows but never widens
    assert cg("cases", "list", "--as", "320600", *as_analyst, ok=False).returncode == 3
    cg("users", "revoke", "ana")
    assert cg("cases", "list", *as_analyst, ok=False).returncode == 3


def test_queries_are_scoped_and_sql_is_read_only(cg: Run) -> None:
    county = cases(cg, "320612")
    counted = cg(
        "query", "sql", "SELECT count() AS n FROM cases", "--as", "320612", "--format", "json"
    ).stdout
    assert json.loads(counted)["n"] == len(county)
    history = cg(
        "query",
        "sql",
        "SELECT DISTINCT region FROM case_events",
        "--as",
        "320681",
        "--format",
        "json",
    ).stdout
    assert all(json.loads(x)["region"].startswith("3206") for x in history.splitlines())
    for sql in (
        "SELECT * FROM claimguard.findings",
        "SELECT person_id FROM claimguard.cases_current",
        "SELECT * FROM file('/etc/passwd')",
        "SELECT 1; DROP TABLE claimguard.findings",
        "DROP TABLE claimguard.findings",
        "SELECT count() FROM cases WHERE finding_id IN (SELECT finding_id FROM system.tables)",
        "WITH x AS (SELECT * FROM claimguard.users) SELECT * FROM x",
        "INSERT INTO claimguard.case_events SELECT * FROM claimguard.case_events",
    ):
        assert cg("query", "sql", sql, "--as", "320612", ok=False).returncode == 3, sql
    assert (
        "person_id"
        not in cg(
            "query", "sql", "SELECT * FROM cases LIMIT 1", "--as", "320612", "--format", "csv"
        ).stdout.splitlines()[0]
    )
    top = cg("query", "top-institutions", "--as", "320600", "--format", "json").stdout
    assert all(json.loads(x)["cases"] > 0 for x in top.splitlines())
    totals = cg(
        "query",
        "totals",
        "--as",
        "320612",
        "--format",
        "csv",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
    ).stdout.splitlines()
    assert totals[0].startswith("day,violation,action") and len(totals) > 1
    assert all(line.startswith("2026-03") for line in totals[1:])
    notified = cg("query", "notifications", "--as", "510104", "--format", "json").stdout
    assert notified and all(
        "510104" in json.loads(x)["notify_regions"] for x in notified.splitlines()
    )


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))


def test_a_continued_hold_shows_on_its_settlements_case(cg: Run, store: str) -> None:
    settlement = (Path(store.removeprefix("chdb://")).parent / "disposition-settlement").read_text()
    case = next(c for c in cases(cg, "000000") if c["settlement_id"] == settlement)
    shown = json.loads(
        cg("cases", "show", case["case_id"], "--as", "000000", "--format", "json").stdout
    )
    (disposition,) = shown["dispositions"]
    assert disposition["action"] == "hold" and disposition["disposition_way"] == 1
    assert disposition["disposition_reason"] == DISPOSITION_REASON
