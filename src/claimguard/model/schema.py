"""JSON Schema generated from the pydantic models; `schemas/json/` holds the committed copy."""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import BaseModel

from claimguard.library.points import KnowledgePointRow
from claimguard.model.events import Event
from claimguard.model.findings import Decision, Finding
from claimguard.model.knowledge import DoctorRow, InstitutionRow, ItemRow, PersonRow, RegionRow

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "event": Event,
    "finding": Finding,
    "decision": Decision,
    "knowledge-item": ItemRow,
    "knowledge-institution": InstitutionRow,
    "knowledge-doctor": DoctorRow,
    "knowledge-person": PersonRow,
    "knowledge-region": RegionRow,
    "knowledge-point": KnowledgePointRow,
}


def schema_documents() -> dict[str, bytes]:
    """file name → the schema's bytes, stable (sorted keys) so a drift shows as a diff."""
    return {
        f"{name}.schema.json": orjson.dumps(
            model.model_json_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        )
        + b"\n"
        for name, model in SCHEMA_MODELS.items()
    }


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in schema_documents().items():
        path = directory / name
        path.write_bytes(content)
        written.append(path)
    return written
