"""Evaluate one event: indexed stateless rules, then cross-event windows over its patient's
history; reversal and redelivery. Knows nothing of Kafka or ClickHouse."""

from claimguard.engine.engine import Engine, Outcome, finding_id
from claimguard.engine.history import PatientHistory
from claimguard.engine.state import HistoryStore, MemoryHistories

__all__ = [
    "Engine",
    "HistoryStore",
    "MemoryHistories",
    "Outcome",
    "PatientHistory",
    "finding_id",
]
