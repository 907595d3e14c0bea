"""Where patient histories live, keyed by person_id. The engine itself never stores them:
replay keeps them in memory (below); the stream worker keeps them in a Faust table backed by
its changelog, partitioned like the input (`claimguard.stream.histories.HistoryCache`)."""

from __future__ import annotations

from typing import Protocol

from claimguard.engine.history import PatientHistory


class HistoryStore(Protocol):
    def get(self, person_id: str) -> PatientHistory:
        """The patient's history, a new empty one if none is kept; changes are made in place."""
        ...


class MemoryHistories(dict[str, PatientHistory]):
    """The in-memory store: a dict that creates a patient's history on first use."""

    def get(self, person_id: str) -> PatientHistory:  # type: ignore[override]
        history = dict.get(self, person_id)
        if history is None:
            history = self[person_id] = PatientHistory()
        return history
