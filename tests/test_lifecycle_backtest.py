"""`claimguard backtest` over the contract sample archived in a real chdb store: a pack with
moved thresholds reports exactly the findings that change, computed independently by
replaying the same events (in the archive's event order) through both packs."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from claimguard.decode import DecodeError, decode_with_digest
from claimguard.engine import Engine
from claimguard.replay import ReplaySession
from lifecycle_support import REPO, copy_rules, edit, query_store

WINDOW = ("--from", "2026-03-01", "--to", "2026-06-30")


@pytest.fixture(scope="module")
def archived(
    sample_dir: Path, claimguard_cli: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("backtest")
    store = f"chdb://{root / 'store'}"
    done = subprocess.run(
        [*claimguard_cli, "replay", "--knowledge", str(sample_dir / "knowledge"),
         "--events", str(sample_dir / "events.jsonl"), "--out", str(root / "f.jsonl"),
         "--store", store],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    yield root, store


@pytest.fixture(scope="module")
def candidate(archived: tuple[Path, str]) -> Path:
    rules = copy_rules(archived[0] / "candidate")
    edit(rules / "authenticity" / "visits.yaml", "min_institutions: 3", "min_institutions: 2")
    edit(rules / "authenticity" / "stays.yaml", "max_gap_days: 15", "max_gap_days: 5")
    # a hold rule limited to a region no event comes from: holds and alerts go to pass
    edit(
        rules / "policy" / "agreement.yaml",
        "    when: inst == null",
        '    regions: ["99"]\n    when: inst == null',
    )
    return rules


def _in_archive_order(events: Path) -> list[bytes]:
    """The valid lines ordered as the archive reads them back: event time, then line."""
    keyed = []
    for number, line in enumerate(events.read_bytes().splitlines(), start=1):
        try:
            event, _ = decode_with_digest(line)
        except DecodeError:
            continue
        keyed.append((event.occurred_at, number, line))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [line for _, _, line in keyed]


def _replayed(knowledge: Path, rules: Path, lines: list[bytes]) -> dict[str, tuple[str, str]]:
    session = ReplaySession(Engine.load(knowledge, rules))
    session.run(lines)
    return {fid: (f.rule_id, f.action) for fid, f in session.findings.items()}


def _verdicts(knowledge: Path, rules: Path, lines: list[bytes]) -> dict[str, str]:
    session = ReplaySession(Engine.load(knowledge, rules))
    out = {}
    for line in lines:
        outcome = session.feed(line)
        if outcome is not None and outcome.decision is not None:
            out[outcome.decision.event_id] = outcome.decision.verdict
    return out


def _backtest(cli: list[str], store: str, rules: Path, knowledge: Path, *extra: str) -> str:
    done = subprocess.run(
        [*cli, "backtest", "--store", store, "--rules", str(rules), "--knowledge",
         str(knowledge), *WINDOW, *extra],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_archive_holds_each_valid_event_once(archived: tuple[Path, str], sample_dir: Path) -> None:
    lines = _in_archive_order(sample_dir / "events.jsonl")
    ids = {orjson.loads(line)["event_id"] for line in lines}
    assert len(ids) == len(lines) - 1  # the sample redelivers one event
    [[rows, distinct, months]] = query_store(
        archived[1],
        "SELECT count(), uniqExact(event_id), uniqExact(toYYYYMM(occurred_at)) "
        "FROM claimguard.events",  # no FINAL: not even an unmerged copy
    )
    assert rows == distinct == len(ids)
    assert months > 1


def test_backtest_reports_exactly_the_findings_that_change(
    archived: tuple[Path, str], candidate: Path, sample_dir: Path, claimguard_cli: list[str]
) -> None:
    knowledge = sample_dir / "knowledge"
    lines = _in_archive_order(sample_dir / "events.jsonl")
    before = _replayed(knowledge, REPO / "rules", lines)
    after = _replayed(knowledge, candidate, lines)
    want_new = {fid: after[fid][0] for fid in after.keys() - before.keys()}
    want_lost = {fid: before[fid][0] for fid in before.keys() - after.keys()}
    assert want_new and want_lost  # the moved thresholds do change something

    out = _backtest(
        claimguard_cli, archived[1], candidate, knowledge, "--format", "json", "--examples", "1000"
    )
    rows = [orjson.loads(line) for line in out.splitlines()]
    summary = rows.pop()
    assert summary["summary"] and summary["events"] == len(lines) - 1
    got_new = {ex["finding_id"]: r["rule_id"] for r in rows for ex in r["new_examples"]}
    got_lost = {ex["finding_id"]: r["rule_id"] for r in rows for ex in r["lost_examples"]}
    assert got_new == want_new
    assert got_lost == want_lost
    for row in rows:
        rid = row["rule_id"]
        assert row["baseline_hits"] == sum(1 for r, _ in before.values() if r == rid), rid
        assert row["candidate_hits"] == sum(1 for r, _ in after.values() if r == rid), rid
        assert row["new"] == sum(1 for r in want_new.values() if r == rid)
        assert row["lost"] == sum(1 for r in want_lost.values() if r == rid)
    full = _backtest(claimguard_cli, archived[1], candidate, knowledge, "--format", "json",
                     "--examples", "1000", "--full")  # fmt: skip
    full_rows = [orjson.loads(line) for line in full.splitlines()]
    full_summary = full_rows.pop()
    # running only the differing rules changes nothing
    assert [r for r in full_rows if r["rule_id"] in {x["rule_id"] for x in rows}] == rows
    assert all(not r["new"] and not r["lost"] for r in full_rows if r not in rows)
    assert full_summary["verdict_changes"] == summary["verdict_changes"]
    # ... and the verdict changes are those the two replays give
    want_changes: dict[str, int] = {}
    verdicts = [_verdicts(knowledge, r, lines) for r in (REPO / "rules", candidate)]
    for eid, verdict in verdicts[0].items():
        if verdicts[1][eid] != verdict:
            key = f"{verdict}→{verdicts[1][eid]}"
            want_changes[key] = want_changes.get(key, 0) + 1
    assert want_changes and summary["verdict_changes"] == want_changes
    # split by patient over two processes: the same report
    parallel = _backtest(claimguard_cli, archived[1], candidate, knowledge, "--format", "json",
                         "--examples", "1000", "--jobs", "2")  # fmt: skip
    parallel_rows = [orjson.loads(line) for line in parallel.splitlines()]
    parallel_summary = parallel_rows.pop()
    assert parallel_rows == rows
    for key in ("events", "lead_in_events", "verdict_changes", "candidate_findings"):
        assert parallel_summary[key] == summary[key], key
    changed = {r["rule_id"] for r in rows if r["status"] == "changed"}
    assert changed == {
        "authenticity.multi-institution-same-day",
        "authenticity.split-hospitalization",
        "policy.suspended-institution",
    }


def test_same_packs_report_no_change(
    archived: tuple[Path, str], sample_dir: Path, claimguard_cli: list[str]
) -> None:
    out = _backtest(claimguard_cli, archived[1], REPO / "rules", sample_dir / "knowledge",
                    "--format", "json")  # fmt: skip
    assert len(out.splitlines()) == 1  # only the summary: no rule differs, none ran
    out = _backtest(claimguard_cli, archived[1], REPO / "rules", sample_dir / "knowledge",
                    "--format", "json", "--full")  # fmt: skip
    rows = [orjson.loads(line) for line in out.splitlines()][:-1]
    assert rows and all(r["new"] == r["lost"] == r["changed"] == 0 for r in rows)
    assert sum(r["baseline_hits"] for r in rows) == 85


def test_window_and_region_select_events(
    archived: tuple[Path, str], candidate: Path, sample_dir: Path, claimguard_cli: list[str]
) -> None:
    """A later window warms histories from its lead-in and counts only its own events."""
    knowledge = sample_dir / "knowledge"
    lines = _in_archive_order(sample_dir / "events.jsonl")
    start = dt.datetime(2026, 4, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    in_window = [x for x in lines if decode_with_digest(x)[0].occurred_at >= start]
    out = _backtest(claimguard_cli, archived[1], candidate, knowledge, "--format", "json",
                    "--from", "2026-04-01")  # fmt: skip
    summary = orjson.loads(out.splitlines()[-1])
    assert summary["events"] == len({decode_with_digest(x)[0].event_id for x in in_window})
    assert summary["lead_in_events"] > 0
    region = decode_with_digest(lines[0])[0].institution.region  # type: ignore[union-attr]
    out = _backtest(claimguard_cli, archived[1], candidate, knowledge, "--format", "json",
                    "--region", region)  # fmt: skip
    summary = orjson.loads(out.splitlines()[-1])
    want = {
        decode_with_digest(x)[0].event_id
        for x in lines
        if (e := decode_with_digest(x)[0]).institution and e.institution.region == region
    }
    assert 0 < summary["events"] == len(want)


def test_html_report_is_self_contained(
    archived: tuple[Path, str], candidate: Path, sample_dir: Path, claimguard_cli: list[str]
) -> None:
    out = archived[0] / "report.html"
    _backtest(claimguard_cli, archived[1], candidate, sample_dir / "knowledge",
              "--format", "html", "--out", str(out))  # fmt: skip
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "authenticity.split-hospitalization" in page and "出院后" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    table = _backtest(claimguard_cli, archived[1], candidate, sample_dir / "knowledge")
    assert "authenticity.multi-institution-same-day" in table and "lost" in table


def test_precision_from_worked_cases(
    archived: tuple[Path, str], candidate: Path, sample_dir: Path, claimguard_cli: list[str]
) -> None:
    """Where cases were worked to a verdict (issue 10's claimguard.case_events), each rule
    reports the precision its findings had before and would have after."""
    root = archived[0]
    shutil.copytree(root / "store", root / "store-cases", symlinks=True)  # as cp -a
    store = f"chdb://{root / 'store-cases'}"
    knowledge = sample_dir / "knowledge"

    def rows() -> dict[str, dict]:
        out = _backtest(claimguard_cli, store, candidate, knowledge, "--format", "json",
                        "--examples", "100")  # fmt: skip
        return {r["rule_id"]: r for r in map(orjson.loads, out.splitlines()) if "rule_id" in r}

    before = rows()
    assert before["authenticity.split-hospitalization"]["baseline_precision"] is None
    lost = [x["finding_id"] for x in before["authenticity.split-hospitalization"]["lost_examples"]]
    new = [
        x["finding_id"] for x in before["authenticity.multi-institution-same-day"]["new_examples"]
    ]
    assert len(lost) == 2 and new
    verdicts = [(lost[0], "confirmed"), (lost[1], "dismissed"), (new[0], "dismissed")]
    values = ", ".join(f"('{fid}', now64(6), '{status}')" for fid, status in verdicts)
    query_store(store, "INSERT INTO claimguard.case_events (finding_id, at, to_status) VALUES "
                       f"('{lost[0]}', now64(6) - 60, 'verifying'), {values}")  # fmt: skip
    after = rows()
    split = after["authenticity.split-hospitalization"]
    assert (split["baseline_precision"], split["candidate_precision"]) == (0.5, None)
    multi = after["authenticity.multi-institution-same-day"]
    assert (multi["baseline_precision"], multi["candidate_precision"]) == (None, 0.0)
    assert multi["worked_cases"] == 1


def test_archive_retention_is_configurable(
    sample_dir: Path, tmp_path: Path, claimguard_cli: list[str]
) -> None:
    import os

    store = f"chdb://{tmp_path / 'store'}"

    def replay(days: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*claimguard_cli, "replay", "--knowledge", str(sample_dir / "knowledge"),
             "--events", str(sample_dir / "events.jsonl"), "--out", str(tmp_path / "f.jsonl"),
             "--store", store],
            capture_output=True, text=True, check=False,
            env={**os.environ, "CLAIMGUARD_EVENT_RETENTION_DAYS": days},
        )  # fmt: skip

    assert replay("400").returncode == 0
    [[ddl]] = query_store(store, "SHOW CREATE TABLE claimguard.events")
    assert "TTL toDateTime(occurred_at) + toIntervalDay(400)" in ddl
    refused = replay("0")
    assert refused.returncode == 2
    assert "CLAIMGUARD_EVENT_RETENTION_DAYS: 0" in refused.stderr
    # a TTL past DateTime's end (2106) would wrap round and expire the whole archive
    refused = replay("36500")
    assert refused.returncode == 2
    assert "CLAIMGUARD_EVENT_RETENTION_DAYS: 36500 days is more than" in refused.stderr
    [[kept]] = query_store(store, "SELECT count() FROM claimguard.events")
    assert kept > 0


def test_window_reads_in_blocks_without_gaps_or_repeats(archived: tuple[Path, str]) -> None:
    """The archive is read in blocks keyed on (occurred_at, seq, event_id): tiny blocks
    give exactly the sequence one big block gives."""
    code = (
        "import sys, datetime as dt\n"
        "from claimguard.archive import events\n"
        "from claimguard.store import FindingStore\n"
        "s = FindingStore.connect(sys.argv[1])\n"
        "lo = dt.datetime(2026, 1, 1, tzinfo=dt.UTC); hi = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)\n"
        "big = [r for _, r in events.read_window(s.client, lo, hi)]\n"
        "events.READ_BLOCK = 7\n"
        "small = [r for _, r in events.read_window(s.client, lo, hi)]\n"
        "print(len(big), len(small), big == small)\n"
    )
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code, archived[1]], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    n_big, n_small, same = done.stdout.split()
    assert int(n_big) == int(n_small) > 700 and same == "True"
