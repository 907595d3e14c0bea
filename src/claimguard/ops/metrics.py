"""The worker's Prometheus metrics, on prometheus_client's default REGISTRY (so metrics other
modules define, and the process collector, are exported on the same page).

Hot-path counts are plain ints and dicts bumped by the pipeline (a dict increment costs
~50 ns; a labelled prometheus Counter ~1 µs) and turned into metric families only when
Prometheus scrapes, by `WorkerCollector`. Histograms are real prometheus_client
histograms: they are observed once per decision or store write, not per finding.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from claimguard.ops import names
from claimguard.ops.build import BuildInfo, build_info, build_info_family

__all__ = ["BuildInfo", "WorkerCollector", "WorkerMetrics", "build_info", "build_info_family"]

# Decisions: the settle answer budget is tens of milliseconds, the worker's flush interval
# 0.5 s; above a few seconds the stream is lagging.
DECISION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STORE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Defined once per process (a second definition of a name would be refused by REGISTRY).
DECISION_LATENCY = Histogram(
    names.DECISION_LATENCY,
    "From the input message's broker timestamp to the broker's acknowledgement of its decision",
    buckets=DECISION_BUCKETS,
)
STORE_WRITE_SECONDS = Histogram(
    names.STORE_WRITE_SECONDS,
    "Duration of one store call writing findings, reversals or dead letters",
    buckets=STORE_BUCKETS,
)


@dataclass
class WorkerMetrics:
    """What the pipeline counts for Prometheus beyond `PipelineStats`."""

    events: Counter[str] = field(default_factory=Counter)  # event_type → input messages
    decisions: Counter[str] = field(default_factory=Counter)  # verdict → decisions
    findings: Counter[tuple[str, str]] = field(default_factory=Counter)  # (violation, action)
    store_write_failures: int = 0  # store calls that failed because it was unavailable
    store_up: bool = True  # the last store call (write or ping) succeeded
    lag: dict[int, int] = field(default_factory=dict)  # input partition → messages behind
    assigned: int = 0  # input partitions assigned to this worker
    rebalances: int = 0
    last_flush: float = 0.0  # wall clock of the last completed flush
    last_tick: float = field(default_factory=time.monotonic)  # event loop liveness

    def observe_decision(self, broker_timestamp: float | None) -> None:
        if broker_timestamp:
            DECISION_LATENCY.observe(max(0.0, time.time() - broker_timestamp))

    @property
    def ready(self) -> bool:
        return self.assigned > 0 and self.store_up


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    # CounterMetricFamily wants the name without `_total` (it appends it)
    return CounterMetricFamily(name.removesuffix("_total"), doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _labelled_counter(
    name: str, doc: str, labels: list[str], values: Iterable[tuple[Any, float]]
) -> CounterMetricFamily:
    """One sample per (label value or tuple of them, count)."""
    family = CounterMetricFamily(name.removesuffix("_total"), doc, labels=labels)
    for key, n in values:
        family.add_metric(list(key) if isinstance(key, tuple) else [str(key)], n)
    return family


def _labelled_gauge(
    name: str, doc: str, labels: list[str], values: Iterable[tuple[Any, float]]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for key, n in values:
        family.add_metric([str(key)], n)
    return family


class WorkerCollector(Collector):
    """Turns the pipeline's counters into metric families at scrape time."""

    def __init__(self, pipeline: Any, metrics: WorkerMetrics, info: BuildInfo) -> None:
        self.pipeline = pipeline
        self.metrics = metrics
        self.info = info

    def describe(self) -> list[Metric]:
        return []  # no duplicate check: tests may run several collectors in one process

    def collect(self) -> Iterator[Metric]:
        m, stats, engine = self.metrics, self.pipeline.stats, self.pipeline.engine
        # list(...) of a dict is one C call under the GIL: safe beside the event loop thread
        yield _labelled_counter(
            names.EVENTS,
            "Input messages by event_type (unreadable ones as event_type=unreadable)",
            ["event_type"],
            list(m.events.items()),
        )
        yield _labelled_counter(
            names.DECISIONS,
            "Decisions published on the decisions topic, by verdict",
            ["verdict"],
            list(m.decisions.items()),
        )
        yield _labelled_counter(
            names.FINDINGS,
            "Findings the engine produced, by violation code and action",
            ["violation", "action"],
            list(m.findings.items()),
        )
        yield _labelled_counter(
            names.RULE_ERRORS,
            "Events on which a rule raised (the rule was skipped for that event)",
            ["rule_id"],
            list(engine.rule_errors.items()),
        )
        yield _labelled_gauge(
            names.CONSUMER_LAG,
            "Input messages not yet committed, per assigned partition",
            ["partition"],
            sorted(m.lag.items()),
        )
        yield _counter(
            names.DEAD_LETTERS, "Messages sent to the dead-letter topic", stats.dead_letters
        )
        yield _counter(
            names.STORE_WRITE_FAILURES,
            "Store calls that failed because the store was unavailable (retried)",
            m.store_write_failures,
        )
        yield _counter(
            names.ENGINE_ERRORS,
            "Valid events the engine failed on (dead-lettered)",
            stats.engine_errors,
        )
        yield _counter(
            names.REFUSED_EVENTS,
            "Events refused with a reason (dated too far ahead, redelivered changed)",
            stats.refused,
        )
        yield _counter(
            names.CONFLICTING_REDELIVERIES,
            "Event ids redelivered with other content (the first delivery stands)",
            engine.conflicting_redeliveries,
        )
        yield _counter(
            names.STORE_REJECTED,
            "Findings the store refused for good, kept in claimguard.finding_dead_letters",
            stats.store_rejected,
        )
        yield _counter(names.DUPLICATES, "Redelivered events (no new decision)", stats.duplicates)
        yield _counter(names.STORED, "Finding rows the store inserted", stats.stored)
        yield _counter(names.FLUSHES, "Epochs flushed (store, changelog, offsets)", stats.flushes)
        yield _counter(
            names.ABANDONED, "Epochs abandoned at a rebalance or shutdown", stats.abandoned
        )
        yield _counter(
            names.BACKPRESSURE,
            "Time the consumer waited for the previous flush (store or broker slow)",
            stats.backpressure_seconds,
        )
        yield _counter(
            names.HISTORIES_LOADED,
            "Patient histories read back from the table",
            self.pipeline.histories.loaded,
        )
        yield _counter(names.REBALANCES, "Partition assignments received", m.rebalances)
        yield _gauge(
            names.LAST_FLUSH, "Wall clock of the last completed flush (0: none yet)", m.last_flush
        )
        yield _gauge(names.UNFLUSHED, "Epochs open or flushing", self.pipeline.unflushed)
        yield _gauge(
            names.HISTORY_CACHE,
            "Patient histories held in memory",
            len(getattr(self.pipeline.histories, "_live", ())),
        )
        yield _gauge(names.ASSIGNED_PARTITIONS, "Input partitions assigned", m.assigned)
        yield _gauge(names.STORE_UP, "1 when the last store call succeeded", int(m.store_up))
        yield _gauge(
            names.READY, "1 when partitions are assigned and the store answers", int(m.ready)
        )
        yield _labelled_gauge(
            names.KNOWLEDGE_ROWS,
            "Knowledge rows loaded, by file",
            ["file"],
            sorted(self.info.knowledge_rows.items()),
        )
        yield _gauge(names.RULES_LOADED, "Rules loaded", self.info.rules_loaded)
        yield build_info_family(self.info)
