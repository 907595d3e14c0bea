"""Every Prometheus metric name claimguard exports, in one place: the worker and `serve`
define their metrics with these, and the tests check that every name an alert or a
dashboard panel uses is one of them (and really appears on /metrics)."""

from __future__ import annotations

# -- worker ------------------------------------------------------------------------------
EVENTS = "claimguard_events_total"  # {event_type}; unreadable input as "unreadable"
DECISIONS = "claimguard_decisions_total"  # {verdict}
FINDINGS = "claimguard_findings_total"  # {violation, action}
DEAD_LETTERS = "claimguard_dead_letters_total"
DECISION_LATENCY = "claimguard_decision_latency_seconds"  # histogram
CONSUMER_LAG = "claimguard_consumer_lag_messages"  # {partition}
STORE_WRITE_SECONDS = "claimguard_store_write_seconds"  # histogram
STORE_WRITE_FAILURES = "claimguard_store_write_failures_total"
RULE_ERRORS = "claimguard_rule_errors_total"  # {rule_id}
BUILD_INFO = "claimguard_build_info"  # {version, rules_digest, knowledge_digest} = 1
# hardening counters the pipeline already keeps
ENGINE_ERRORS = "claimguard_engine_errors_total"
REFUSED_EVENTS = "claimguard_refused_events_total"
CONFLICTING_REDELIVERIES = "claimguard_conflicting_redeliveries_total"
STORE_REJECTED = "claimguard_store_rejected_total"
# what an on-call engineer needs besides
DUPLICATES = "claimguard_duplicate_events_total"
STORED = "claimguard_stored_findings_total"
FLUSHES = "claimguard_flushes_total"
ABANDONED = "claimguard_abandoned_epochs_total"
LAST_FLUSH = "claimguard_last_flush_timestamp_seconds"
UNFLUSHED = "claimguard_unflushed_epochs"
BACKPRESSURE = "claimguard_backpressure_seconds_total"
HISTORIES_LOADED = "claimguard_histories_loaded_total"
HISTORY_CACHE = "claimguard_history_cache_patients"
KNOWLEDGE_ROWS = "claimguard_knowledge_rows"  # {file}
RULES_LOADED = "claimguard_rules_loaded"
REBALANCES = "claimguard_rebalances_total"
ASSIGNED_PARTITIONS = "claimguard_assigned_partitions"
STORE_UP = "claimguard_store_up"
READY = "claimguard_ready"

# -- serve -------------------------------------------------------------------------------
HTTP_REQUESTS = "claimguard_http_requests_total"  # {path, code}
HTTP_REQUEST_SECONDS = "claimguard_http_request_seconds"  # histogram {path}
UNCHECKED = "claimguard_unchecked_total"  # {reason}
SERVE_BROKER_UP = "claimguard_serve_broker_up"
SERVE_SPOOLED = "claimguard_serve_spooled_events"
SERVE_DROPPED = "claimguard_serve_dropped_total"

WORKER_METRICS = (
    EVENTS,
    DECISIONS,
    FINDINGS,
    DEAD_LETTERS,
    DECISION_LATENCY,
    CONSUMER_LAG,
    STORE_WRITE_SECONDS,
    STORE_WRITE_FAILURES,
    RULE_ERRORS,
    BUILD_INFO,
    ENGINE_ERRORS,
    REFUSED_EVENTS,
    CONFLICTING_REDELIVERIES,
    STORE_REJECTED,
    DUPLICATES,
    STORED,
    FLUSHES,
    ABANDONED,
    LAST_FLUSH,
    UNFLUSHED,
    BACKPRESSURE,
    HISTORIES_LOADED,
    HISTORY_CACHE,
    KNOWLEDGE_ROWS,
    RULES_LOADED,
    REBALANCES,
    ASSIGNED_PARTITIONS,
    STORE_UP,
    READY,
)
SERVE_METRICS = (
    HTTP_REQUESTS,
    HTTP_REQUEST_SECONDS,
    UNCHECKED,
    SERVE_BROKER_UP,
    SERVE_SPOOLED,
    SERVE_DROPPED,
    BUILD_INFO,
)
