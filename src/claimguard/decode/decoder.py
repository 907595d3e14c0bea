"""Decode one raw event with orjson and validate it against the contract's event model."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from claimguard.model import Event, Finding

MAX_REASON = 500


class DecodeError(ValueError):
    """An unreadable event; `reason` is short, human-readable and goes into the dead letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)[:MAX_REASON]


def decode(raw: bytes | str) -> Event:
    """Return the validated event or raise DecodeError; never anything else."""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not valid JSON: {exc}"[:MAX_REASON]) from None
    if not isinstance(data, dict):
        raise DecodeError(f"an event must be a JSON object, got {type(data).__name__}")
    try:
        return Event.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(_explain(exc)) from None
    except (ValueError, TypeError, RecursionError) as exc:  # defensive: odd inputs
        raise DecodeError(f"invalid event: {exc}"[:MAX_REASON]) from None


def encode_finding_line(finding: Finding) -> bytes:
    """One finding as a JSON line (replay output, dead-letter-free pass-through benchmarks)."""
    return orjson.dumps(finding.model_dump(mode="json")) + b"\n"
