"""The contract sample through a real Tansu, a real `claimguard worker` and a real
`claimguard serve`: (1) §8's national requests (sample/fsi/requests.jsonl), each in its
line's place in the event order, answer the expected vola_bhvr_type/sev_deg pairs; (2)
every precheck/settle line sent to /v1/check answers the verdict replay computes, with one
decision per event on the decisions topic and the store equal to replay's."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import event_lines
from serve_support import Answer, Step, feed
from test_stream_support import (
    Scenario,
    diff,
    expected_decisions,
    replay_findings,
    stored_findings,
)

pytestmark = pytest.mark.integration


@dataclass
class Run:
    scenario: Scenario
    answers: list[Answer]
    decisions: list[dict[str, Any]]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    with LocalBroker(log_dir=tmp_path_factory.mktemp("serve-sample-broker")) as running:
        yield running


def run_through_serve(
    broker: LocalBroker, root: Path, name: str, knowledge: Path, steps: list[Step]
) -> Run:
    """Start a worker and a serve, feed `steps`, drain, stop both (the worker flushes)."""
    scenario = Scenario(broker, root, name, knowledge)
    worker = scenario.worker().start()
    serve = scenario.serve().start()
    try:
        answers = asyncio.run(feed(broker.bootstrap, scenario.topics.events, serve.url, steps))
        scenario.wait_drained()
    finally:
        serve.stop()
        code = worker.stop()
    assert code == 0, worker.log_text()[-3000:]
    return Run(scenario, answers, scenario.decisions())


@pytest.fixture(scope="module")
def fsi_run(
    broker: LocalBroker, sample_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Run, list[dict[str, Any]]]:
    lines = event_lines(sample_dir / "events.jsonl")
    requests = [orjson.loads(line) for line in event_lines(sample_dir / "fsi" / "requests.jsonl")]
    by_line = {r["replaces_line"]: r for r in requests}
    steps = []
    for number, line in enumerate(lines, start=1):
        request = by_line.get(number)
        if request is None:
            steps.append(Step(line))
        else:
            body = orjson.dumps(request["request"])
            steps.append(Step(body, f"/fsi/{request['request']['infno']}"))
    root = tmp_path_factory.mktemp("serve-fsi")
    return run_through_serve(broker, root, "fsi", sample_dir / "knowledge", steps), requests


@pytest.fixture(scope="module")
def check_run(
    broker: LocalBroker, sample_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    steps = []
    for line in event_lines(sample_dir / "events.jsonl"):
        try:
            kind = orjson.loads(line).get("event_type")
        except (orjson.JSONDecodeError, AttributeError):
            kind = None
        steps.append(Step(line, "/v1/check") if kind in ("precheck", "settle") else Step(line))
    root = tmp_path_factory.mktemp("serve-check")
    return run_through_serve(broker, root, "check", sample_dir / "knowledge", steps)


def pairs(result: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((r["vola_bhvr_type"], r["sev_deg"]) for r in result)


def test_national_sample_answers_the_expected_pairs(
    fsi_run: tuple[Run, list[dict[str, Any]]],
) -> None:
    run, requests = fsi_run
    assert len(run.answers) == len(requests) == 386
    wrong = []
    for answer, request in zip(run.answers, requests, strict=True):
        body = answer.body
        assert answer.status == 200
        assert body["infcode"] == "0", body
        assert body["inf_refmsgid"] == request["request"]["msgid"]
        (summary,) = body["output"]["claimguard"]
        assert summary == {
            "event_id": request["event_id"],
            "verdict": summary["verdict"],
            "unchecked": False,
        }
        want = pairs(request["expected"])
        if pairs(body["output"]["result"]) != want:
            wrong.append((request["replaces_line"], pairs(body["output"]["result"]), want))
    assert wrong == []
    assert sum(1 for r in requests if r["expected"]) >= 40  # the sample is not all passes


def test_national_answer_fields(fsi_run: tuple[Run, list[dict[str, Any]]]) -> None:
    run, requests = fsi_run
    decisions = {d["event_id"]: d for d in run.decisions}
    seen_items = 0
    for answer, request in zip(run.answers, requests, strict=True):
        decision = decisions[request["event_id"]]  # the worker's decision for that event
        findings = {f["finding_id"]: f for f in decision["findings"]}
        assert {r["jr_id"] for r in answer.body["output"]["result"]} == set(findings)
        for entry in answer.body["output"]["result"]:
            finding = findings[entry["jr_id"]]
            assert entry["rule_id"] == finding["rule_id"]
            assert entry["rule_name"] and entry["vola_evid"]  # the rule's title and basis
            assert entry["vola_cont"] == finding["message"]
            assert entry["vola_amt"] == finding["amount"]
            assert entry["mdtrt_id"] == decision["settlement_id"]
            details = entry["judge_result_detail_dtos"]
            assert [d["rx_id"] for d in details] == finding["item_ids"]
            for detail in details:
                assert detail["vola_item_type"] == "1"
                assert detail["patn_id"] == entry["patn_id"]
                seen_items += 1
    assert seen_items > 0


def test_national_checks_give_one_decision_each(
    fsi_run: tuple[Run, list[dict[str, Any]]],
) -> None:
    run, requests = fsi_run
    counts = Counter(d["event_id"] for d in run.decisions)
    assert [e for e, n in counts.items() if n > 1] == []
    assert {r["event_id"] for r in requests} <= set(counts)


def test_check_answers_equal_replay_verdicts(check_run: Run, sample_dir: Path) -> None:
    lines = event_lines(sample_dir / "events.jsonl")
    want = expected_decisions(sample_dir / "knowledge", lines)
    got: dict[str, str] = {}
    for answer in check_run.answers:
        if answer.status == 200:
            assert answer.body["unchecked"] is False, answer.body
            got[answer.body["event_id"]] = answer.body["verdict"]
        else:  # a broken precheck/settle line: refused, and the worker never saw it
            assert answer.status == 400 and answer.body["error"]
    assert got == want
    assert set(Counter(want.values())) == {"pass", "alert", "hold"}


def test_check_answers_are_the_workers_decisions(check_run: Run) -> None:
    decisions = {d["event_id"]: d for d in check_run.decisions}
    assert len(decisions) == len(check_run.decisions)  # one decision per event
    for answer in check_run.answers:
        if answer.status != 200:
            continue
        body = dict(answer.body)
        assert body.pop("unchecked") is False
        assert body == decisions[body["event_id"]]


def test_check_run_store_equals_replay(check_run: Run, sample_dir: Path) -> None:
    refused = {a.index for a in check_run.answers if a.status != 200}
    lines = event_lines(sample_dir / "events.jsonl")
    kept = [line for i, line in enumerate(lines) if i not in refused]
    events = check_run.scenario.root / "sent.jsonl"
    events.write_bytes(b"\n".join(kept) + b"\n")
    want = replay_findings(sample_dir / "knowledge", events, check_run.scenario.root)
    got = stored_findings(check_run.scenario.store())
    assert not diff(got, want), diff(got, want)
