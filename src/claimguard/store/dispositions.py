"""`claimguard.dispositions` (contract §9): the clinicians' answers to alerts and holds,
one row per finding, the latest received wins; and findings read with their disposition."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from claimguard.model import Finding

DISPOSITIONS = "claimguard.dispositions"
COLUMNS = [
    "finding_id",
    "warn_type",
    "dspo_way",
    "reason",
    "msgid",
    "fixmedins_code",
    "received_at",
]
WITH_DISPOSITION = "claimguard.findings_with_disposition"


def rows_of(message: dict[str, Any]) -> list[list[Any]]:
    """The rows of one accepted 3103 request (as `claimguard serve` publishes it)."""
    received = dt.datetime.fromisoformat(message["received_at"])
    return [
        [
            str(warn["finding_id"]),
            int(warn["warn_type"]),
            int(warn["dspo_way"]),
            str(warn.get("reason", "")),
            str(message.get("msgid", "")),
            str(message.get("fixmedins_code", "")),
            received,
        ]
        for warn in message["warns"]
    ]


def write_dispositions(store: Any, rows: list[list[Any]]) -> int:
    """Insert rows through a FindingStore (its client and its error translation)."""
    if rows:
        store._call(lambda: store.client.insert(DISPOSITIONS, rows, column_names=COLUMNS))
    return len(rows)


def dispositions(store: Any) -> list[dict[str, Any]]:
    """Every finding's latest disposition."""

    def run() -> list[dict[str, Any]]:
        result = store.client.query(
            f"SELECT {', '.join(COLUMNS)} FROM {DISPOSITIONS} FINAL ORDER BY finding_id"
        )
        return [dict(zip(COLUMNS, row, strict=True)) for row in result.result_rows]

    return list(store._call(run))


def findings_of_events(store: Any, event_ids: Sequence[str]) -> dict[str, list[Finding]]:
    """event_id → its stored findings (latest state): a repeated check's decision."""
    from claimguard.store.finding_store import FINDINGS
    from claimguard.store.rows import COLUMNS, to_finding

    def run() -> dict[str, list[Finding]]:
        result = store.client.query(
            f"SELECT {', '.join(COLUMNS)} FROM {FINDINGS} FINAL "
            # shadow findings never decided anything, so they are no part of a reply
            "WHERE event_id IN {ids:Array(String)} AND shadow = 0 ORDER BY finding_id",
            parameters={"ids": list(event_ids)},
        )
        found: dict[str, list[Finding]] = {}
        for row in result.result_rows:
            finding = to_finding(row, COLUMNS)
            found.setdefault(finding.event_id, []).append(finding)
        return found

    return dict(store._call(run))


def findings_with_disposition(store: Any, settlement_id: str | None = None) -> list[dict[str, Any]]:
    """Findings (latest state) beside their disposition (`disposition_way` 0: none yet)."""

    def run() -> list[dict[str, Any]]:
        where = " WHERE settlement_id = {sid:String}" if settlement_id else ""
        result = store.client.query(
            f"SELECT * FROM {WITH_DISPOSITION}{where} ORDER BY finding_id",
            parameters={"sid": settlement_id} if settlement_id else None,
        )
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    return list(store._call(run))
