"""The worker's /metrics, /healthz and /readyz on a real broker + real `claimguard worker`
that processed the contract sample: every counter is exact."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from claimguard.ops import names
from claimguard.stream.broker import LocalBroker, free_port
from claimguard.stream.clients import event_lines
from ops_support import by_label, expected_counts, get, samples, start_metrics_worker
from test_stream_support import Scenario

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def worker_page(
    sample_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Scenario, str]]:
    root = tmp_path_factory.mktemp("ops-metrics")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with LocalBroker(log_dir=root / "broker") as broker:
        scenario = Scenario(broker, root, "opsmetrics", sample_dir / "knowledge")
        # the fault switch (stream/faults.py): the store is "down" while this file exists
        worker = start_metrics_worker(
            scenario, port, CLAIMGUARD_FAULT_STORE_DOWN=str(root / "down")
        )
        try:
            deadline = time.monotonic() + 90
            while get(url + "/readyz")[0] != 200:  # partitions assigned, store answers
                assert worker.running, worker.log_text()[-3000:]
                assert time.monotonic() < deadline, worker.log_text()[-3000:]
                time.sleep(0.2)
            scenario.publish(event_lines(sample_dir / "events.jsonl"))
            scenario.wait_drained()
            time.sleep(1.5)  # one more lag sample after the last commit
            status, body = get(url + "/metrics")
            assert status == 200
            yield url, scenario, body.decode()
            assert worker.running, worker.log_text()[-3000:]
        finally:
            worker.stop()


def test_counters_are_exact_after_the_contract_sample(
    worker_page: tuple[str, Scenario, str], sample_dir: Path
) -> None:
    _, scenario, text = worker_page
    page = samples(text)
    want = expected_counts(sample_dir)
    events = by_label(page, names.EVENTS, "event_type")
    assert events == {k: float(v) for k, v in want.event_types.items()}
    assert sum(events.values()) == want.lines == 722
    assert events["unreadable"] == 4
    assert by_label(page, names.DECISIONS, "verdict") == {
        k: float(v) for k, v in want.verdicts.items()
    }
    assert by_label(page, names.FINDINGS, "violation", "action") == {
        k: float(v) for k, v in want.findings.items()
    }
    assert page[(names.DEAD_LETTERS, ())] == len(scenario.dead_letters()) == 4
    decisions = sum(want.verdicts.values())
    assert len(scenario.decisions()) == decisions
    assert page[(names.DECISION_LATENCY + "_count", ())] == decisions
    assert page[(names.STORE_WRITE_FAILURES, ())] == 0
    assert page[(names.STORE_REJECTED, ())] == 0
    assert page[(names.ENGINE_ERRORS, ())] == 0
    assert page[(names.STORE_WRITE_SECONDS + "_count", ())] >= 1
    assert by_label(page, names.RULE_ERRORS, "rule_id") == {}
    # the same numbers the worker's own stats file has
    stats = scenario.stats()
    assert sum(by_label(page, names.FINDINGS, "violation", "action").values()) == stats["findings"]
    assert page[(names.STORED, ())] == stats["stored"]


def test_lag_partitions_build_info(worker_page: tuple[str, Scenario, str]) -> None:
    _, _, text = worker_page
    page = samples(text)
    lag = by_label(page, names.CONSUMER_LAG, "partition")
    assert set(lag) == {"0", "1", "2", "3"}  # the scenario's four partitions
    assert sum(lag.values()) == 0  # drained and committed
    assert page[(names.ASSIGNED_PARTITIONS, ())] == 4
    info = [labels for (name, labels), v in page.items() if name == names.BUILD_INFO and v == 1]
    assert len(info) == 1
    labels = dict(info[0])
    assert labels["version"] and len(labels["rules_digest"]) == 12
    assert len(labels["knowledge_digest"]) == 12
    assert page[(names.KNOWLEDGE_ROWS, (("file", "items"),))] > 0
    assert page[(names.READY, ())] == 1
    assert page[(names.LAST_FLUSH, ())] > time.time() - 600
    assert page[(names.REBALANCES, ())] >= 1


def test_every_declared_worker_metric_is_exported(worker_page: tuple[str, Scenario, str]) -> None:
    _, _, text = worker_page
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    missing = [n for n in names.WORKER_METRICS if n not in families]
    assert not missing
    assert "process_cpu_seconds_total" in text  # the default REGISTRY: process collector too


def test_health_and_readiness(worker_page: tuple[str, Scenario, str]) -> None:
    url, _, _ = worker_page
    status, body = get(url + "/healthz")
    assert status == 200 and b'"ok": true' in body
    status, body = get(url + "/readyz")
    assert status == 200 and b'"assigned_partitions": 4' in body
    assert get(url + "/nothing")[0] == 404


def test_store_outage_fails_readiness_and_counts_failures(
    worker_page: tuple[str, Scenario, str], sample_dir: Path
) -> None:
    """Runs last: the store goes down, /readyz says so and the failed writes are counted;
    it comes back, the worker is ready again and the event is stored and committed."""
    url, scenario, _ = worker_page
    flag = scenario.root / "down"
    flag.touch()
    try:
        wait_status(url + "/readyz", 503, 30)
        assert get(url + "/healthz")[0] == 200  # alive: not a reason to restart it
        event = next(e for e in map(decoded, event_lines(sample_dir / "events.jsonl")) if e)
        event.update(event_id="ops-outage-1", settlement_id="ops-outage-S1")
        scenario.publish([orjson.dumps(event)])

        def failures() -> float:
            return samples(get(url + "/metrics")[1].decode())[(names.STORE_WRITE_FAILURES, ())]

        deadline = time.monotonic() + 30
        while failures() < 1:
            assert time.monotonic() < deadline, "no store failure counted"
            time.sleep(0.3)
        assert scenario.lag() == 1  # nothing committed while the store is down
    finally:
        flag.unlink()
    wait_status(url + "/readyz", 200, 30)
    scenario.wait_drained()
    page = samples(get(url + "/metrics")[1].decode())
    assert page[(names.STORE_UP, ())] == 1
    assert sum(by_label(page, names.EVENTS, "event_type").values()) == 723


def test_a_taken_metrics_port_refuses_to_start(
    worker_page: tuple[str, Scenario, str], claimguard_cli: list[str], tmp_path: Path
) -> None:
    import subprocess

    url, scenario, _ = worker_page
    port = url.rsplit(":", 1)[1]
    done = subprocess.run(
        [*claimguard_cli, "worker", "--broker", scenario.broker.url, "--store",
         f"chdb://{tmp_path / 'store'}", "--knowledge", str(scenario.knowledge),
         "--group", "ops-port-clash", "--metrics-port", port],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "CLAIMGUARD_WORKER_DIR": str(tmp_path / "faust")},
    )  # fmt: skip
    assert done.returncode == 69, done.stderr[-2000:]
    assert f"claimguard worker: metrics port {port}:" in done.stderr


def wait_status(url: str, status: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while get(url)[0] != status:
        assert time.monotonic() < deadline, f"{url} never answered {status}"
        time.sleep(0.3)


def decoded(line: bytes) -> dict | None:  # type: ignore[type-arg]
    from claimguard.decode import DecodeError, decode_with_digest

    try:
        event, _ = decode_with_digest(line)
    except DecodeError:
        return None
    return dict(orjson.loads(line)) if event.event_type == "settle" else None
