"""Shared pieces of the stream tests (no tests here): a real Tansu broker, real `claimguard
worker` subprocesses, real chdb stores, and the replay output to compare them with."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka.admin import AIOKafkaAdminClient

from claimguard.engine import Engine
from claimguard.replay import ReplaySession
from claimguard.serve.process import ServeProcess
from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import publish, read_topic, wait_for_lag_zero
from claimguard.stream.inspect import read_findings
from claimguard.stream.process import FAST_GROUP_ENV, WorkerProcess, claimguard_command
from claimguard.stream.topics import TopicNames, ensure_topics

PARTITIONS = 4
DRAIN_TIMEOUT = 90.0


@dataclass
class Scenario:
    """One isolated run on a shared broker: its own topics, group and store(s)."""

    broker: LocalBroker
    root: Path
    name: str
    knowledge: Path

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.topics = TopicNames(
            events=f"{self.name}.events",
            decisions=f"{self.name}.decisions",
            deadletter=f"{self.name}.deadletter",
            replies=f"{self.name}.replies",
            dispositions=f"{self.name}.dispositions",
        )
        self.group = f"cg-{self.name}"
        asyncio.run(ensure_topics(self.broker.bootstrap, self.topics.all(), PARTITIONS))

    def store(self, suffix: str = "") -> str:
        return f"chdb://{self.root / ('store' + suffix)}"

    def worker(self, suffix: str = "", **env: str) -> WorkerProcess:
        return WorkerProcess(
            broker=self.broker.url,
            store=self.store(suffix),
            knowledge=self.knowledge,
            group=self.group,
            log_path=self.root / f"worker{suffix}.log",
            env={
                **FAST_GROUP_ENV,
                "CLAIMGUARD_TOPIC_EVENTS": self.topics.events,
                "CLAIMGUARD_TOPIC_DECISIONS": self.topics.decisions,
                "CLAIMGUARD_TOPIC_DEADLETTER": self.topics.deadletter,
                "CLAIMGUARD_TOPIC_REPLIES": self.topics.replies,
                "CLAIMGUARD_TOPIC_DISPOSITIONS": self.topics.dispositions,
                "CLAIMGUARD_WORKER_DIR": str(self.root / f"faust{suffix}"),
                "CLAIMGUARD_LOG_LEVEL": "info",
                "CLAIMGUARD_STATS_FILE": str(self.root / f"stats{suffix}.json"),
                # test data has fixed dates (synth's library block lies in 2023): keep every
                # archived event however old the data grows, so archive counts stay exact
                "CLAIMGUARD_EVENT_RETENTION_DAYS": "7300",
                **env,
            },
        )

    def serve(self, suffix: str = "") -> ServeProcess:
        """A `claimguard serve` on this scenario's topics (start it yourself)."""
        return ServeProcess(
            broker=self.broker.url,
            log_path=self.root / f"serve{suffix}.log",
            env={
                "CLAIMGUARD_TOPIC_EVENTS": self.topics.events,
                "CLAIMGUARD_TOPIC_DECISIONS": self.topics.decisions,
                "CLAIMGUARD_TOPIC_DEADLETTER": self.topics.deadletter,
                "CLAIMGUARD_TOPIC_REPLIES": self.topics.replies,
                "CLAIMGUARD_TOPIC_DISPOSITIONS": self.topics.dispositions,
            },
        )

    def stats(self, suffix: str = "") -> dict[str, Any]:
        """The counters the last worker with this suffix wrote at exit."""
        return dict(orjson.loads((self.root / f"stats{suffix}.json").read_bytes()))

    def publish(self, lines: list[bytes], rate: float | None = None) -> int:
        return asyncio.run(publish(self.broker.bootstrap, self.topics.events, lines, rate=rate))

    def wait_drained(self, timeout: float = DRAIN_TIMEOUT) -> None:
        asyncio.run(
            wait_for_lag_zero(self.broker.bootstrap, self.group, self.topics.events, timeout)
        )

    def lag(self) -> int:
        from claimguard.stream.clients import group_lag

        return asyncio.run(group_lag(self.broker.bootstrap, self.group, self.topics.events))

    def decisions(self) -> list[dict[str, Any]]:
        records = asyncio.run(read_topic(self.broker.bootstrap, self.topics.decisions))
        return [orjson.loads(r.value) for r in records]

    def dead_letters(self) -> list[Any]:
        return asyncio.run(read_topic(self.broker.bootstrap, self.topics.deadletter))

    def members(self) -> int:
        return asyncio.run(group_members(self.broker.bootstrap, self.group))


async def group_members(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
        return sum(len(g[5]) for response in described for g in response.groups)
    finally:
        await admin.close()


def stored_findings(*targets: str) -> dict[str, dict[str, Any]]:
    """The union of the findings of `targets`, by finding_id (read in child processes)."""
    found: dict[str, dict[str, Any]] = {}
    for target in targets:
        for finding in read_findings(target):
            found[finding["finding_id"]] = finding
    return found


def replay_findings(knowledge: Path, events: Path, out_dir: Path) -> dict[str, dict[str, Any]]:
    """What `claimguard replay` writes for the same events, by finding_id."""
    out = out_dir / "replay.jsonl"
    subprocess.run(
        [
            *claimguard_command(),
            "replay",
            "--knowledge",
            str(knowledge),
            "--events",
            str(events),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    findings = [orjson.loads(line) for line in out.read_bytes().splitlines() if line.strip()]
    return {f["finding_id"]: f for f in findings}


def expected_decisions(knowledge: Path, lines: list[bytes]) -> dict[str, str]:
    """event_id → verdict for every distinct precheck/settle event, from the engine run in
    order (what replay computes)."""
    session = ReplaySession(Engine.load(knowledge))
    verdicts: dict[str, str] = {}
    for line in lines:
        outcome = session.feed(line)
        if outcome is not None and outcome.decision is not None:
            verdicts[outcome.decision.event_id] = outcome.decision.verdict
    return verdicts


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def diff(got: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]]) -> str:
    """A short description of how two finding sets differ (empty when equal)."""
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    changed = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    if not (missing or extra or changed):
        return ""
    parts = [f"{len(missing)} missing, {len(extra)} extra, {len(changed)} changed"]
    for key in changed[:3]:
        fields = {
            f: (got[key].get(f), want[key].get(f))
            for f in want[key]
            if got[key].get(f) != want[key].get(f)
        }
        parts.append(f"{key}: {fields}")
    for key in missing[:3]:
        parts.append(f"missing {want[key]['settlement_id']} {want[key]['violation']}")
    return "; ".join(parts)
