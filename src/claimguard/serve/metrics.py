"""The service's Prometheus metrics, in a registry of its own (one per service instance)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
            "claimguard_http_requests_total",
            "HTTP requests answered, by path and status code",
            ["path", "code"],
            registry=r,
        )
        self.seconds = Histogram(
            "claimguard_http_request_seconds",
            "Time from request received to answer written, by path",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.unchecked = Counter(
            "claimguard_unchecked_total",
            "Events answered pass/unchecked (fail open): no decision within the deadline, "
            "or the broker unreachable",
            ["reason"],
            registry=r,
        )
        self.broker_up = Gauge(
            "claimguard_serve_broker_up", "1 while the broker answers, else 0", registry=r
        )
        self.spooled = Gauge(
            "claimguard_serve_spooled_events",
            "Checked events waiting in memory for the broker to come back",
            registry=r,
        )
        self.dropped = Counter(
            "claimguard_serve_dropped_total",
            "Events never published: the spool was full while the broker was away",
            registry=r,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
