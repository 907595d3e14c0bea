"""`claimguard serve` against a real Tansu, a real worker and real serve processes: bad
bodies of every kind, repeated event ids, two instances, 3103 dispositions, the deadline
with the worker stopped, and the broker frozen. One broker, worker and serve per module;
every test uses fresh patients and settlements."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from claimguard.serve.process import ServeProcess
from claimguard.serve.stack import WORKER_READY as READY
from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import event_lines, read_topic, wait_for_lag_zero
from claimguard.stream.process import WorkerProcess
from serve_support import post_sync
from test_stream_support import Scenario, wait_until

pytestmark = pytest.mark.integration


class Stack:
    def __init__(self, broker: LocalBroker, root: Path, sample: Path) -> None:
        self.broker = broker
        self.scenario = Scenario(broker, root, "behaviour", sample / "knowledge")
        lines = event_lines(sample / "events.jsonl")
        # line 2: a settle at a suspended institution (held); line 1 its precheck (alert)
        self.settle = orjson.loads(lines[1])
        requests = event_lines(sample / "fsi" / "requests.jsonl")
        self.national = orjson.loads(requests[1])["request"]  # 3102 for line 2 (hold)
        self.worker: WorkerProcess = self.scenario.worker().start()
        self.serve: ServeProcess = self.scenario.serve().start()
        self.serial = 0

    def fresh(self, event_type: str = "settle") -> dict[str, Any]:
        """The held settle of the sample as a new patient's new settlement."""
        self.serial += 1
        event = json.loads(json.dumps(self.settle))
        event["event_id"] = f"T-{self.serial}"
        event["event_type"] = event_type
        event["settlement_id"] = f"TS-{self.serial}"
        event["patient"]["person_id"] = f"TP-{self.serial}"
        return event

    def fresh_national(self, infno: str = "3102") -> dict[str, Any]:
        self.serial += 1
        request = json.loads(json.dumps(self.national))
        request["infno"] = infno
        request["msgid"] = f"M-{self.serial}"
        patient = request["input"]["data"]["patient_dtos"][0]
        patient["patn_id"] = f"NP-{self.serial}"
        return request

    def check(
        self, event: dict[str, Any], timeout_ms: int = 10_000, serve: ServeProcess | None = None
    ) -> tuple[int, dict[str, Any], float]:
        url = (serve or self.serve).url
        return post_sync(url, "/v1/check", orjson.dumps(event), timeout_ms)

    def events_published(self) -> list[dict[str, Any]]:
        records = asyncio.run(read_topic(self.broker.bootstrap, self.scenario.topics.events))
        return [orjson.loads(r.value) for r in records]

    def decisions_for(self, event_id: str) -> list[dict[str, Any]]:
        return [d for d in self.scenario.decisions() if d["event_id"] == event_id]

    def restart_worker(self) -> None:
        """Start the worker again and wait until it has joined its group (a SIGTERM that
        arrives while it is still starting ends it without its shutdown path)."""
        ready = self.worker.log_text().count(READY)
        self.worker = self.scenario.worker().start()
        wait_until(lambda: self.worker.log_text().count(READY) > ready, 90, "the restarted worker")

    def query_store(self, script: str) -> Any:
        """Run `script` (prints JSON) against the store in a child process: the worker
        must be stopped (one process per chdb directory)."""
        code = (
            "import json, sys\n"
            "from claimguard.store import FindingStore\n"
            "from claimguard.store.dispositions import dispositions, findings_with_disposition\n"
            f"store = FindingStore.connect({self.scenario.store()!r})\n" + script
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, timeout=180, check=False
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def stack(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("serve-behaviour")
    with LocalBroker(log_dir=root / "broker") as broker:
        running = Stack(broker, root, sample_dir)
        try:
            yield running
        finally:
            running.serve.stop()
            running.worker.stop()


def test_unreadable_check_bodies_are_refused_and_nothing_is_published(stack: Stack) -> None:
    before = len(stack.events_published())
    settled = stack.fresh("settled")
    no_items = stack.fresh()
    del no_items["items"]
    bad_gender = stack.fresh()
    bad_gender["patient"]["gender"] = "X"
    bodies: list[tuple[bytes, str]] = [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"42", "JSON object"),
        (b"null", "JSON object"),
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
        (orjson.dumps(settled), "precheck or settle"),
        (orjson.dumps(no_items), "items"),
        (orjson.dumps(bad_gender), "patient.gender"),
        (b'{"event_id": "x"}', "event_type"),
        (b"x" * (5 * 1024 * 1024), "larger than"),
    ]
    for body, reason in bodies:
        status, answer, _ = post_sync(stack.serve.url, "/v1/check", body)
        assert status == 400, (body[:40], answer)
        assert reason in answer["error"], (body[:40], answer)
    status, answer, _ = post_sync(
        stack.serve.url, "/v1/check", orjson.dumps(stack.fresh()), timeout_ms=0
    )
    assert status == 400 and "timeout_ms" in answer["error"]
    assert len(stack.events_published()) == before


def test_unreadable_national_requests_name_the_field(stack: Stack) -> None:
    before = len(stack.events_published())

    def broken(change: Any) -> bytes:
        request = stack.fresh_national()
        change(request)
        return orjson.dumps(request)

    def patient(r: dict[str, Any]) -> dict[str, Any]:
        return dict(r["input"]["data"]["patient_dtos"][0])

    def set_patient(field: str, value: Any) -> Any:
        return lambda r: r["input"]["data"]["patient_dtos"][0].__setitem__(field, value)

    def encounter(r: dict[str, Any]) -> dict[str, Any]:
        return dict(r["input"]["data"]["patient_dtos"][0]["fsi_encounter_dtos"][1])

    def set_order(field: str, value: Any) -> Any:
        def change(r: dict[str, Any]) -> None:
            enc = r["input"]["data"]["patient_dtos"][0]["fsi_encounter_dtos"][1]
            enc["fsi_order_dtos"][0][field] = value

        return change

    cases: list[tuple[bytes, str]] = [
        (b"", "request: empty body"),
        (b"{oops", "not valid JSON"),
        (b"[]", "request: must be an object"),
        (broken(lambda r: r.pop("msgid")), "msgid: required"),
        (broken(lambda r: r.__setitem__("inf_time", "02/03/2026")), "inf_time"),
        (broken(lambda r: r.__setitem__("input", [])), "input"),
        (broken(lambda r: r["input"]["data"].pop("patient_dtos")), "patient_dtos: required"),
        (broken(set_patient("gend", "3")), "patient_dtos[0].gend"),
        (broken(set_patient("gend", None)), "patient_dtos[0].gend"),
        (broken(set_patient("brdy", "1993-13-40")), "patient_dtos[0].brdy"),
        (broken(set_patient("curr_mdtrt_id", "nowhere")), "curr_mdtrt_id"),
        (broken(set_patient("fsi_encounter_dtos", "x")), "fsi_encounter_dtos"),
        (broken(set_order("hilist_type", "999")), "fsi_order_dtos[0].hilist_type"),
        (broken(set_order("cnt", -1)), "fsi_order_dtos[0].cnt"),
        (broken(set_order("pric", None)), "fsi_order_dtos[0].pric"),
        (broken(set_order("drord_begn_date", "soon")), "fsi_order_dtos[0].drord_begn_date"),
        (broken(lambda r: r.__setitem__("infno", "3101")), "infno"),
    ]
    assert patient and encounter  # helpers used to build the cases above
    for body, field in cases:
        status, answer, _ = post_sync(stack.serve.url, "/fsi/3102", body)
        assert status == 200
        assert answer["infcode"] == "-1", (field, answer)
        assert field in answer["err_msg"], (field, answer["err_msg"])
    assert len(stack.events_published()) == before


def test_repeated_event_id_same_decision_nothing_new(stack: Stack) -> None:
    event = stack.fresh()
    status, first, _ = stack.check(event)
    assert status == 200 and first["verdict"] == "hold" and first["unchecked"] is False
    published = len(stack.events_published())
    status, again, _ = stack.check(event)
    assert (status, again) == (200, first)
    assert len(stack.events_published()) == published  # nothing new published
    # A fresh serve has no cache: the worker answers the repeat from memory, on the
    # replies topic, and the decisions topic still holds exactly one decision.
    stack.serve.stop()
    stack.serve = stack.scenario.serve().start()
    status, third, _ = stack.check(event)
    assert (status, third) == (200, first)
    assert len(stack.decisions_for(event["event_id"])) == 1
    # After a worker restart its memory is empty too: the reply is rebuilt from the
    # findings stored for the event (same verdict, same findings), still no new decision.
    assert stack.worker.stop() == 0
    stack.restart_worker()
    stack.serve.stop()
    stack.serve = stack.scenario.serve().start()
    status, fourth, _ = stack.check(event)
    assert status == 200 and fourth["unchecked"] is False, fourth
    assert fourth["verdict"] == first["verdict"]
    assert sorted(f["finding_id"] for f in fourth["findings"]) == sorted(
        f["finding_id"] for f in first["findings"]
    )
    assert len(stack.decisions_for(event["event_id"])) == 1


def test_two_serve_instances(stack: Stack) -> None:
    second = stack.scenario.serve("-2").start()
    try:
        event = stack.fresh()
        status, via_first, _ = stack.check(event)
        assert status == 200 and via_first["unchecked"] is False
        published = len(stack.events_published())
        status, via_second, _ = stack.check(event, serve=second)
        assert (status, via_second) == (200, via_first)  # seen on the decisions topic
        assert len(stack.events_published()) == published
        others = [stack.fresh("precheck") for _ in range(6)]
        for i, other in enumerate(others):
            status, answer, _ = stack.check(other, serve=second if i % 2 else stack.serve)
            assert status == 200 and answer["unchecked"] is False
            assert answer["verdict"] == "alert"  # a precheck at a suspended institution
        for other in [event, *others]:
            assert len(stack.decisions_for(other["event_id"])) == 1
    finally:
        second.stop()


def test_dispositions_accepted_refused_and_stored(stack: Stack) -> None:
    status, answer, _ = post_sync(
        stack.serve.url, "/fsi/3102", orjson.dumps(stack.fresh_national()), 10_000
    )
    assert status == 200 and answer["infcode"] == "0" and answer["output"]["result"], answer
    jr_id = answer["output"]["result"][0]["jr_id"]

    def request(msgid: str, warns: Any) -> bytes:
        return orjson.dumps(
            {
                "infno": "3103",
                "msgid": msgid,
                "fixmedins_code": "H44078597958",
                "input": {"data": {"warn_type": "2", "warns": warns}},
            }
        )

    good = {"warn_rslt_id": jr_id, "dspo_way": "1", "dspo_way_rea": "急诊抢救，继续结算"}
    no_reason = {"warn_rslt_id": "other-finding", "dspo_way": "1", "dspo_way_rea": ""}
    changed = {"warn_rslt_id": "changed-finding", "dspo_way": "2"}
    _, missing, _ = post_sync(stack.serve.url, "/fsi/3103", request("D-1", [no_reason]))
    assert missing["infcode"] == "-1"
    assert "warns[0].dspo_way_rea" in missing["err_msg"]
    _, mixed, _ = post_sync(
        stack.serve.url, "/fsi/3103", request("D-2", [changed, {**good, "dspo_way": "3"}])
    )
    assert mixed["infcode"] == "-1" and "warns[1].dspo_way" in mixed["err_msg"]
    _, accepted, _ = post_sync(stack.serve.url, "/fsi/3103", request("D-3", good))  # an object
    assert accepted["infcode"] == "0" and accepted["output"] == {"accepted": 1}, accepted
    assert accepted["inf_refmsgid"] == "D-3"

    # stored once the worker's dispositions consumer has committed them
    asyncio.run(
        wait_for_lag_zero(
            stack.broker.bootstrap,
            f"{stack.scenario.group}.dispositions",
            stack.scenario.topics.dispositions,
            60,
        )
    )
    assert stack.worker.stop() == 0
    try:
        stored = stack.query_store(
            "print(json.dumps({'d': dispositions(store), "
            "'f': findings_with_disposition(store)}, default=str))"
        )
    finally:
        stack.restart_worker()
    assert [(d["finding_id"], d["dspo_way"], d["reason"], d["msgid"]) for d in stored["d"]] == [
        (jr_id, 1, "急诊抢救，继续结算", "D-3")
    ]  # nothing of the refused requests
    shown = {f["finding_id"]: f for f in stored["f"]}
    assert shown[jr_id]["disposition_way"] == 1
    assert shown[jr_id]["disposition_reason"] == "急诊抢救，继续结算"
    assert all(f["disposition_way"] == 0 for k, f in shown.items() if k != jr_id)


def test_deadline_with_the_worker_stopped(stack: Stack) -> None:
    assert stack.worker.stop() == 0
    event = stack.fresh()
    try:
        status, answer, seconds = stack.check(event, timeout_ms=300)
        assert status == 200
        assert answer["unchecked"] is True and answer["verdict"] == "pass"
        assert answer["findings"] == [] and answer["event_id"] == event["event_id"]
        assert 0.3 <= seconds < 1.0
        national = stack.fresh_national("3101")
        _, national_answer, seconds = post_sync(
            stack.serve.url, "/fsi/3101", orjson.dumps(national), timeout_ms=300
        )
        assert seconds < 1.0
        assert national_answer["infcode"] == "0"
        assert national_answer["output"]["result"] == []
        assert [c["unchecked"] for c in national_answer["output"]["claimguard"]] == [True]
    finally:
        stack.restart_worker()
    # The stream catches up: the event is evaluated, decided once and stored.
    wait_until(lambda: stack.decisions_for(event["event_id"]), 60, "the late decision")
    (decision,) = stack.decisions_for(event["event_id"])
    assert decision["verdict"] == "hold"
    # ...and a repeat now answers the real decision (this serve saw it on the topic)
    status, again, _ = stack.check(event)
    assert again["verdict"] == "hold" and again["unchecked"] is False
    time.sleep(1.5)  # > the flush interval: the findings are stored
    assert stack.worker.stop() == 0
    try:
        ids = stack.query_store(
            "print(json.dumps([r[0] for r in store.client.query("
            "'SELECT event_id FROM claimguard.findings FINAL').result_rows]))"
        )
    finally:
        stack.restart_worker()
    assert event["event_id"] in ids


def test_broker_down_answers_unchecked_at_once(stack: Stack) -> None:
    assert stack.serve.health() == 200
    event = stack.fresh()
    stack.broker.pause()
    try:
        wait_until(lambda: stack.serve.health() == 503, 10, "healthz 503")
        status, answer, seconds = stack.check(event, timeout_ms=5_000)
        assert status == 200 and answer["unchecked"] is True
        assert seconds < 0.5  # at once, not at the deadline
    finally:
        stack.broker.resume()
    wait_until(lambda: stack.serve.health() == 200, 20, "healthz 200 again")
    # the spooled check is published once the broker is back, and decided
    wait_until(lambda: stack.decisions_for(event["event_id"]), 60, "the spooled decision")
    metrics = urllib.request.urlopen(stack.serve.url + "/metrics", timeout=5).read().decode()
    assert 'claimguard_unchecked_total{reason="broker_down"} 1.0' in metrics
    assert 'claimguard_http_requests_total{code="200",path="/v1/check"}' in metrics
    assert "claimguard_http_request_seconds_bucket" in metrics
