"""Shared pieces of the ops tests (no tests here): one real broker + real worker that
processed the contract sample with its metrics port on, and a /metrics parser."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from claimguard.engine import Engine
from claimguard.replay import ReplaySession
from claimguard.stream.clients import event_lines
from claimguard.stream.process import WorkerProcess

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return int(answer.status), answer.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except OSError:  # nothing listening yet
        return 0, b""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) → value, from a /metrics page."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def metric_names(text: str) -> set[str]:
    """Every sample name on the page (counters with their _total, histogram _bucket...)."""
    return {name for name, _ in samples(text)}


def by_label(page: dict[Any, float], name: str, *labels: str) -> dict[Any, float]:
    out: dict[Any, float] = {}
    for (sample, pairs), value in page.items():
        if sample == name:
            d = dict(pairs)
            key = tuple(d.get(label, "") for label in labels)
            out[key[0] if len(key) == 1 else key] = value
    return out


@dataclass
class Expected:
    """What the contract sample must count, computed by the engine run in order."""

    lines: int
    unreadable: int
    event_types: Counter[str]
    verdicts: Counter[str]
    findings: Counter[tuple[str, str]]


def expected_counts(sample: Path) -> Expected:
    from claimguard.decode import DecodeError, decode_with_digest

    lines = event_lines(sample / "events.jsonl")
    session = ReplaySession(Engine.load(sample / "knowledge"))
    types: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    findings: Counter[tuple[str, str]] = Counter()
    for line in lines:
        try:
            event, _ = decode_with_digest(line)
            types[event.event_type] += 1
        except DecodeError:
            types["unreadable"] += 1
        outcome = session.feed(line)
        if outcome is None or outcome.duplicate or outcome.refused:
            continue
        for finding in outcome.findings:
            findings[(finding.violation, finding.action)] += 1
        if outcome.decision is not None:
            verdicts[outcome.decision.verdict] += 1
    return Expected(len(lines), types["unreadable"], types, verdicts, findings)


def start_metrics_worker(scenario: Any, port: int, **env: str) -> WorkerProcess:
    worker = scenario.worker(**env)
    worker.metrics_port = port
    return worker.start()


def need_binary(name: str) -> str:
    """A Debian `prometheus` package binary: required in CI (.ci/run installs it)."""
    import os
    import shutil

    import pytest

    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI (apt-get install prometheus)")
        pytest.skip(f"{name} not installed (apt-get install prometheus)")
    return found


class PrometheusServer:
    """The real `prometheus` server (Debian package) on a random port, scraping `targets`
    (job → host:port) every second and evaluating `rule_files` every second."""

    def __init__(self, root: Path, targets: dict[str, str], rule_files: list[Path]) -> None:
        import json

        from claimguard.stream.broker import free_port

        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [target]}]}
                for job, target in targets.items()
            ],
        }
        root.mkdir(parents=True, exist_ok=True)
        (root / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        self._proc: Any = None

    def start(self, binary: str, wait: float = 30.0) -> PrometheusServer:
        import subprocess
        import time

        self._log = open(self.root / "prometheus.log", "wb")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [
                binary,
                f"--config.file={self.root / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + wait
        while get(self.url + "/-/ready")[0] != 200:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: {self.log_text()[-2000:]}")
            time.sleep(0.2)
        return self

    def log_text(self) -> str:
        return (self.root / "prometheus.log").read_text(errors="replace")

    def api(self, path: str, **params: str) -> Any:
        import json
        import urllib.parse

        query = urllib.parse.urlencode(params)
        status, body = get(f"{self.url}/api/v1/{path}" + (f"?{query}" if query else ""))
        answer = json.loads(body) if body else {}
        assert status == 200 and answer.get("status") == "success", (path, params, body[:500])
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr)["result"])

    def scalar(self, expr: str) -> float:
        result = self.query(expr)
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(20)
            except Exception:
                self._proc.kill()
            self._proc = None
            self._log.close()
