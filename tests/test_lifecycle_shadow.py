"""Shadow mode (issue 11): a shadow rule runs and its findings are stored with shadow = 1,
but it never changes a decision, a verdict or a hold, and the read views leave it out
unless asked. Every finding names its rule version and pack digest."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import orjson
import pytest

from claimguard.engine import Engine
from claimguard.replay import ReplaySession
from claimguard.rules import PackError, load_packs
from claimguard.rules.digest import file_digest
from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import event_lines
from lifecycle_support import edit, query_store, with_hold_everything
from test_stream_support import Scenario, expected_decisions, stored_findings

RULE = "policy.hold-everything"


def _decisions(knowledge: Path, rules: Path, lines: list[bytes]) -> tuple[dict, ReplaySession]:
    session = ReplaySession(Engine.load(knowledge, rules))
    decided = {}
    for line in lines:
        outcome = session.feed(line)
        if outcome is not None and outcome.decision is not None:
            decided[outcome.decision.event_id] = outcome.decision
    return decided, session


def test_mode_is_linted(tmp_path: Path) -> None:
    rules = with_hold_everything(tmp_path / "rules", mode="shadw")
    with pytest.raises(PackError) as err:
        load_packs(rules)
    [problem] = err.value.problems
    assert "hold-everything.yaml:11: rule policy.hold-everything: mode:" in problem


def test_shadow_hold_rule_never_decides(sample_dir: Path, tmp_path: Path) -> None:
    knowledge = sample_dir / "knowledge"
    lines = event_lines(sample_dir / "events.jsonl")
    baseline, base_session = _decisions(knowledge, Path("rules"), lines)
    shadow_rules = with_hold_everything(tmp_path / "rules", mode="shadow")
    shadowed, session = _decisions(knowledge, shadow_rules, lines)

    assert {k: d.verdict for k, d in shadowed.items()} == {
        k: d.verdict for k, d in baseline.items()
    }
    assert {k: sorted(f.finding_id for f in d.findings) for k, d in shadowed.items()} == {
        k: sorted(f.finding_id for f in d.findings) for k, d in baseline.items()
    }
    shadow = [f for f in session.findings.values() if f.rule_id == RULE]
    # it fired on every distinct valid precheck/settle/settled event, all marked shadow
    assert len(shadow) == session.counts["events"] - session.counts["duplicates"] - 1
    assert all(f.shadow for f in shadow)
    assert Counter(f.action for f in shadow)["hold"] > 0
    live = {k: f for k, f in session.findings.items() if f.rule_id != RULE}
    assert live.keys() == base_session.findings.keys()
    assert not any(f.shadow for f in live.values())

    # the same rule live holds: the test would fail if shadow changed nothing
    live_rules = with_hold_everything(tmp_path / "live", mode="live")
    held, _ = _decisions(knowledge, live_rules, lines)
    assert {d.verdict for d in held.values() if d.event_type == "settle"} == {"hold"}


def test_findings_record_rule_version_and_pack_digest(sample_dir: Path, tmp_path: Path) -> None:
    rules = with_hold_everything(tmp_path / "rules", mode="shadow")
    edit(rules / "policy" / "hold-everything.yaml", "version: 1", "version: 7")
    _, session = _decisions(
        sample_dir / "knowledge", rules, event_lines(sample_dir / "events.jsonl")
    )
    digest = file_digest(rules / "policy" / "hold-everything.yaml")
    ours = [f for f in session.findings.values() if f.rule_id == RULE]
    assert ours and {(f.rule_version, f.pack_digest) for f in ours} == {(7, digest)}
    others = [f for f in session.findings.values() if f.rule_id != RULE]
    assert others and all(len(f.pack_digest) == 16 for f in others)


def test_store_views_leave_shadow_out_unless_asked(
    sample_dir: Path, tmp_path: Path, claimguard_cli: list[str]
) -> None:
    rules = with_hold_everything(tmp_path / "rules", mode="shadow")
    store = f"chdb://{tmp_path / 'store'}"
    out = tmp_path / "findings.jsonl"
    done = subprocess.run(
        [*claimguard_cli, "replay", "--knowledge", str(sample_dir / "knowledge"),
         "--events", str(sample_dir / "events.jsonl"), "--out", str(out),
         "--rules", str(rules), "--store", store],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    replayed = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    n_shadow = sum(1 for f in replayed if f["shadow"])
    n_live = len(replayed) - n_shadow
    live_unreversed = sum(1 for f in replayed if not f["shadow"] and not f["reversed"])
    assert n_shadow and n_live

    [[stored_shadow]] = query_store(
        store, "SELECT count() FROM claimguard.findings FINAL WHERE shadow = 1"
    )
    assert stored_shadow == n_shadow
    [[current, current_all]] = query_store(
        store,
        "SELECT (SELECT count() FROM claimguard.findings_current), "
        "(SELECT count() FROM claimguard.findings_current_all)",
    )
    assert (current, current_all) == (n_live, n_live + n_shadow)
    [[with_disposition]] = query_store(
        store, "SELECT count() FROM claimguard.findings_with_disposition"
    )
    assert with_disposition == n_live
    [[national, national_shadow]] = query_store(
        store,
        "SELECT (SELECT sum(findings) FROM claimguard.jurisdiction_totals "
        "WHERE region = '000000'), (SELECT sum(findings) FROM "
        "claimguard.jurisdiction_totals_shadow WHERE region = '000000')",
    )
    assert national == live_unreversed
    assert national_shadow == sum(1 for f in replayed if f["shadow"] and not f["reversed"])


@pytest.mark.integration
def test_worker_stores_shadow_findings_and_never_decides_with_them(
    sample_dir: Path, tmp_path: Path
) -> None:
    knowledge = sample_dir / "knowledge"
    lines = event_lines(sample_dir / "events.jsonl")
    rules = with_hold_everything(tmp_path / "rules", mode="shadow")
    with LocalBroker(log_dir=tmp_path / "broker") as broker:
        scenario = Scenario(broker, tmp_path, "shadow", knowledge)
        scenario.publish(lines)
        worker = scenario.worker()
        worker.rules = rules
        worker.start()
        try:
            scenario.wait_drained()
        finally:
            code = worker.stop()
        assert code == 0, worker.log_text()[-3000:]
        decisions = scenario.decisions()
    assert {d["event_id"]: d["verdict"] for d in decisions} == expected_decisions(knowledge, lines)
    assert not any(f["rule_id"] == RULE or f["shadow"] for d in decisions for f in d["findings"])
    stored = stored_findings(scenario.store())
    shadow = [f for f in stored.values() if f["rule_id"] == RULE]
    assert shadow and all(f["shadow"] for f in shadow)
    assert not any(f["shadow"] for f in stored.values() if f["rule_id"] != RULE)
    # the event archive holds each valid event once (the sample repeats one event)
    valid = {orjson.loads(x)["event_id"] for x in lines if _valid(x)}
    [[archived, distinct]] = query_store(
        scenario.store(), "SELECT count(), uniqExact(event_id) FROM claimguard.events FINAL"
    )
    assert archived == distinct == len(valid)


def _valid(line: bytes) -> bool:
    from claimguard.decode import DecodeError, decode_with_digest

    try:
        decode_with_digest(line)
    except DecodeError:
        return False
    return True
