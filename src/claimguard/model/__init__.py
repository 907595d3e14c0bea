"""Pydantic models: the single source of truth for every external shape (contract §1–§7)."""

from claimguard.model.events import (
    EVENT_TYPES,
    Event,
    EventType,
    Institution,
    Item,
    Patient,
    Visit,
)
from claimguard.model.findings import (
    ACTIONS,
    STAGE_OF_EVENT,
    Action,
    Decision,
    Finding,
    Layer,
    Stage,
    Subject,
    Verdict,
    verdict_of,
)
from claimguard.model.knowledge import DoctorRow, InstitutionRow, ItemRow, PersonRow, RegionRow

__all__ = [
    "ACTIONS",
    "EVENT_TYPES",
    "STAGE_OF_EVENT",
    "Action",
    "Decision",
    "DoctorRow",
    "Event",
    "EventType",
    "Finding",
    "Institution",
    "InstitutionRow",
    "Item",
    "ItemRow",
    "Layer",
    "Patient",
    "PersonRow",
    "RegionRow",
    "Stage",
    "Subject",
    "Verdict",
    "Visit",
    "verdict_of",
]
