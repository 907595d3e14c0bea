"""Worker settings: what the CLI passes, plus tuning knobs read from `CLAIMGUARD_*` variables.

The knobs exist for tests (short group timeouts so a restarted worker rejoins in seconds)
and for operators; the defaults suit a production Kafka cluster.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from claimguard.stream.topics import TopicNames


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def bootstrap_of(broker: str) -> str:
    """`kafka://h1:9092;h2:9092` or `h1:9092,h2:9092` → `h1:9092,h2:9092`."""
    servers = []
    for part in broker.replace(";", ",").split(","):
        part = part.strip()
        if "://" in part:
            part = part.split("://", 1)[1]
        if part:
            servers.append(part.rstrip("/"))
    if not servers:
        raise ValueError(f"no broker address in {broker!r}")
    return ",".join(servers)


@dataclass(frozen=True)
class WorkerSettings:
    broker: str
    store: str
    knowledge: Path
    rules: Path | None = None
    group: str = "claimguard"
    topics: TopicNames = field(default_factory=TopicNames.from_env)
    # A sealed batch is flushed (store, changelog, offsets) when it holds this many events
    # or findings, or when its oldest event is `flush_interval` seconds old.
    flush_events: int = field(default_factory=lambda: _env_int("CLAIMGUARD_FLUSH_EVENTS", 5_000))
    flush_findings: int = field(
        default_factory=lambda: _env_int("CLAIMGUARD_FLUSH_FINDINGS", 5_000)
    )
    flush_interval: float = field(
        default_factory=lambda: _env_float("CLAIMGUARD_FLUSH_INTERVAL", 0.5)
    )
    max_poll_records: int = field(
        default_factory=lambda: _env_int("CLAIMGUARD_MAX_POLL_RECORDS", 2_000)
    )
    fetch_max_wait_ms: int = field(
        default_factory=lambda: _env_int("CLAIMGUARD_FETCH_MAX_WAIT_MS", 10)
    )
    history_cache: int = field(
        default_factory=lambda: _env_int("CLAIMGUARD_HISTORY_CACHE", 200_000)
    )
    session_timeout: float = field(
        default_factory=lambda: _env_float("CLAIMGUARD_SESSION_TIMEOUT", 30.0)
    )
    heartbeat_interval: float = field(
        default_factory=lambda: _env_float("CLAIMGUARD_HEARTBEAT_INTERVAL", 3.0)
    )
    rebalance_timeout: float = field(
        default_factory=lambda: _env_float("CLAIMGUARD_REBALANCE_TIMEOUT", 60.0)
    )
    commit_interval: float = field(
        default_factory=lambda: _env_float("CLAIMGUARD_COMMIT_INTERVAL", 1.0)
    )
    # decisions kept to answer repeated checks from `claimguard serve` (stream/replies.py)
    recent_decisions: int = field(
        default_factory=lambda: _env_int("CLAIMGUARD_RECENT_DECISIONS", 50_000)
    )
    standby_replicas: int = field(default_factory=lambda: _env_int("CLAIMGUARD_STANDBYS", 0))
    # How long a flush forced by a rebalance or shutdown may retry before the batch is
    # abandoned (its events are then re-processed from the last committed offset).
    urgent_flush_timeout: float = field(
        default_factory=lambda: _env_float("CLAIMGUARD_URGENT_FLUSH_TIMEOUT", 10.0)
    )
    datadir: Path = field(
        default_factory=lambda: Path(
            os.environ.get("CLAIMGUARD_WORKER_DIR")
            or Path(tempfile.gettempdir()) / "claimguard-worker"
        )
    )
    log_level: str = field(default_factory=lambda: os.environ.get("CLAIMGUARD_LOG_LEVEL", "warn"))

    @property
    def bootstrap(self) -> str:
        return bootstrap_of(self.broker)

    @property
    def history_table(self) -> str:
        return "patient-history"
