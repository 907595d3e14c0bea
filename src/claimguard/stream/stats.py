"""Counters of the pipeline: read by the benchmark and the demo today; the ops room will
export them as Prometheus metrics."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class PipelineStats:
    first_batch_at: float = 0.0  # wall clock (time.time()) of the first batch
    events: int = 0  # input messages processed (including dead letters and duplicates)
    dead_letters: int = 0
    duplicates: int = 0
    decisions: int = 0
    findings: int = 0  # findings produced by the engine
    stored: int = 0  # rows the store inserted (redeliveries excluded)
    batches: int = 0
    flushes: int = 0
    abandoned: int = 0
    engine_errors: int = 0  # valid events the engine failed on (dead-lettered as such)
    refused: int = 0  # events refused with a reason: too far ahead, redelivered changed
    conflicting_redeliveries: int = 0  # of those: an event_id seen before with other content
    store_rejected: int = 0  # findings the store refused, kept in its dead-letter table
    archived: int = 0  # input events newly written to the event archive (claimguard.events)
    archive_refused: int = 0  # events the archive refused for good (logged with their ids)
    rule_reloads: int = 0  # rule/knowledge sets swapped in by a reload
    histories_loaded: int = 0  # patient histories read back from the table
    fetch_seconds: float = 0.0  # drain loop: waiting for fetched records, wrapping them
    handle_seconds: float = 0.0  # decoding, evaluating, publishing
    flush_seconds: float = 0.0  # awaiting acks, store writes, changelog (in the background)
    backpressure_seconds: float = 0.0  # handler waiting for the previous flush

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
