"""Writing a batch of findings so that one bad row cannot wedge the stream.

Only a transient error (StoreUnavailable) is retried by the caller. A permanent error on a
batch is narrowed to the offending rows by bisecting it; those rows, and the rows this side
already knows the table cannot hold, go to `claimguard.finding_dead_letters` with the reason
and the finding, and the rest is stored. When every row of a batch of several fails, the
fault is the store's, not the rows': that is raised as StoreUnavailable, to be retried."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from claimguard.model.findings import Finding
from claimguard.store.errors import StoreError, StoreUnavailable

log = logging.getLogger("claimguard.store")

DEAD_LETTERS = "claimguard.finding_dead_letters"
DEAD_LETTER_COLUMNS = ["finding_id", "settlement_id", "rule_id", "reason", "finding", "failed_at"]
MAX_AMOUNT = 10.0**14  # Decimal(18, 4)
MIN_YEAR, MAX_YEAR = 1900, 2299  # DateTime64(3)


class Rejected(NamedTuple):
    finding: Finding
    reason: str


class StoreRefusesEverything(StoreUnavailable):
    """Every row of a batch failed: a store problem (schema, disk), retried, not dead-lettered."""


def row_problem(finding: Finding) -> str | None:
    """Why the findings table cannot hold this finding, if this side can tell."""
    amount = finding.amount
    if not isinstance(amount, (int, float)) or not math.isfinite(amount):
        return f"amount {amount!r} is not a finite number"
    if abs(amount) >= MAX_AMOUNT:
        return f"amount {amount!r} does not fit Decimal(18, 4)"
    year = finding.occurred_at.year
    if not MIN_YEAR <= year <= MAX_YEAR:
        return f"occurred_at {finding.occurred_at.isoformat()} is outside DateTime64's range"
    return None


def write_isolating(store: Any, findings: Sequence[Finding]) -> tuple[int, list[Rejected]]:
    """Store what can be stored; → (rows inserted, rejected findings with their reasons)."""
    rejected: list[Rejected] = []
    good: list[Finding] = []
    for finding in findings:
        problem = row_problem(finding)
        if problem:
            rejected.append(Rejected(finding, problem))
        else:
            good.append(finding)
    if not good:
        return 0, rejected
    try:
        return int(store.write(good)), rejected
    except StoreUnavailable:
        raise
    except StoreError as exc:
        first_error = str(exc)
    refused: list[Rejected] = []
    inserted = _bisect(store, good, refused)
    if len(good) > 1 and len(refused) == len(good):
        raise StoreRefusesEverything(f"the store refuses every row of the batch: {first_error}")
    return inserted, rejected + refused


def _bisect(store: Any, batch: Sequence[Finding], refused: list[Rejected]) -> int:
    if len(batch) == 1:
        try:
            return int(store.write(batch))
        except StoreUnavailable:
            raise
        except StoreError as exc:
            refused.append(Rejected(batch[0], str(exc)[:2000]))
            return 0
    middle = len(batch) // 2
    return _bisect(store, batch[:middle], refused) + _bisect(store, batch[middle:], refused)


def finding_json(finding: Finding) -> str:
    """ASCII JSON: survives whatever the finding holds (even text the store refused)."""
    return json.dumps(finding.model_dump(mode="json"), ensure_ascii=True, default=str)


def dead_letter_rows(rejected: Sequence[Rejected], now: dt.datetime) -> list[list[Any]]:
    return [
        [
            _ascii(r.finding.finding_id),
            _ascii(r.finding.settlement_id),
            _ascii(r.finding.rule_id),
            _ascii(r.reason),
            finding_json(r.finding),
            now,
        ]
        for r in rejected
    ]


def _ascii(text: str) -> str:
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
