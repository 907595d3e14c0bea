"""Decode one raw event with orjson and validate it against the contract's event model."""

from __future__ import annotations

import hashlib
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
    return _validate(_parse(raw))


def decode_with_digest(raw: bytes | str) -> tuple[Event, str]:
    """The event and a digest of its content (key order and spacing do not count), so that
    a redelivered event_id with different content can be told from a plain redelivery."""
    data = _parse(raw)
    event = _validate(data)
    try:
        canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # e.g. nesting deeper than orjson writes: the raw bytes
        canonical = raw.encode() if isinstance(raw, str) else raw
    return event, hashlib.blake2b(canonical, digest_size=8).hexdigest()


def _parse(raw: bytes | str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not valid JSON: {exc}"[:MAX_REASON]) from None


def _validate(data: Any) -> Event:
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
