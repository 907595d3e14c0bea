"""Finding ↔ `claimguard.findings` row. Columns follow the pydantic Finding, the single
source of truth for the shape, plus the store's own `ingested_at` and `version`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from claimguard.model.findings import Finding

SHANGHAI = ZoneInfo("Asia/Shanghai")
REVERSED_BIT = 48  # version = (reversed << 48) | epoch ms; see 001_findings.sql
FINDING_FIELDS: list[str] = list(Finding.model_fields)
STORE_FIELDS = ["ingested_at", "version"]
COLUMNS: list[str] = FINDING_FIELDS + STORE_FIELDS
_AMOUNT_STEP = Decimal("0.0001")  # Decimal(18, 4)


def epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def row_version(reversed_: bool, now: dt.datetime) -> int:
    return (int(reversed_) << REVERSED_BIT) | epoch_ms(now)


def aware(moment: dt.datetime) -> dt.datetime:
    """Contract times carry an offset; a naive one is read as Beijing time, not UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def to_row(finding: Finding, reversed_: bool, now: dt.datetime) -> list[Any]:
    values = finding.model_dump()
    values["occurred_at"] = aware(finding.occurred_at)
    values["amount"] = Decimal(repr(finding.amount)).quantize(_AMOUNT_STEP)
    values["reversed"] = int(reversed_)
    values["ingested_at"] = now
    values["version"] = row_version(reversed_, now)
    return [values[name] for name in COLUMNS]


def to_finding(row: Sequence[Any], columns: Sequence[str]) -> Finding:
    values = dict(zip(columns, row, strict=True))
    values["amount"] = float(values["amount"])
    values["reversed"] = bool(values["reversed"])
    return Finding.model_validate({name: values[name] for name in FINDING_FIELDS})
