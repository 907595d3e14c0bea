"""The service's Prometheus metrics, in a registry of its own (one per service instance);
names from claimguard/ops/names.py, shared with the alerts and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from claimguard.ops import names

# Fine buckets below 100 ms: that is where the answer budget lives (p99 ≤ 50 ms at 500/s).
LATENCY_BUCKETS = (
    0.002,
    0.005,
    0.01,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


@dataclass
class ServeMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            names.HTTP_REQUESTS,
            "HTTP requests answered, by path and status code",
            ["path", "code"],
            registry=r,
        )
        self.seconds = Histogram(
            names.HTTP_REQUEST_SECONDS,
            "Time from request received to answer written, by path",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.unchecked = Counter(
            names.UNCHECKED,
            "Events answered pass/unchecked (fail open): no decision within the deadline, "
            "or the broker unreachable",
            ["reason"],
            registry=r,
        )
        self.broker_up = Gauge(
            names.SERVE_BROKER_UP, "1 while the broker answers, else 0", registry=r
        )
        self.spooled = Gauge(
            names.SERVE_SPOOLED,
            "Checked events waiting in memory for the broker to come back",
            registry=r,
        )
        self.dropped = Counter(
            names.SERVE_DROPPED,
            "Events never published: the spool was full while the broker was away",
            registry=r,
        )

        self.build = Gauge(
            names.BUILD_INFO,
            "Always 1: the version and rule-pack digest this process runs",
            ["version", "rules_digest", "knowledge_digest"],
            registry=r,
        )

    def set_build(self, rules: Path | None) -> None:
        from claimguard.ops.build import tree_digest, version
        from claimguard.rules.loader import default_rules_dir

        digest = tree_digest(rules or default_rules_dir(), (".yaml", ".yml"))
        self.build.labels(version(), digest, "none").set(1)

    def exposition(self) -> bytes:
        # plus the process-wide default registry: process metrics, and any metric another
        # module defines there (e.g. rule reloads)
        return generate_latest(self.registry) + generate_latest(REGISTRY)
