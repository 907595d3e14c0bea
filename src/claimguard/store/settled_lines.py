"""Settled line totals for the ZB indicators (010_settled_lines.sql, 012_indicator_views.sql).

A settled event becomes one row per line class with its amount; the batch writer keeps them
beside the findings and writes them in the same flush, so the indicators see exactly the
settlements whose findings are stored. Line classes follow the national 医疗服务项目 code
structure: 21 影像 (2102 CT, 2103 磁共振), 22 超声, 23 核医学, 25 检验, 27 病理 are 检验检查;
every other service is 治疗; drugs and consumables by item kind."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

from claimguard.model import Event, Item
from claimguard.store.rows import aware, row_version

SETTLED_LINES = "claimguard.settled_lines"
LINE_COLUMNS = [
    "settlement_id",
    "line_class",
    "event_id",
    "occurred_at",
    "month",
    "institution_code",
    "institution_region",
    "city",
    "institution_level",
    "institution_kind",
    "person_id",
    "visit_type",
    "admitted_at",
    "discharged_at",
    "lines",
    "amount",
    "version",
]
EXAM_PREFIXES = ("21", "22", "23", "25", "27")
_STEP = Decimal("0.0001")


def line_class(item: Item) -> str:
    if item.kind != "service":
        return item.kind  # drug, consumable
    code = item.code[2:] if item.code.startswith("00") and len(item.code) > 9 else item.code
    if code.startswith("2102"):
        return "ct"
    if code.startswith("2103"):
        return "mri"
    if code.startswith(EXAM_PREFIXES):
        return "exam"
    return "treatment"


class LineTotals(NamedTuple):
    lines: int
    amount: float


def line_rows(event: Event, now: dt.datetime) -> list[list[Any]]:
    """The rows of one settled event (none for other event types)."""
    if event.event_type != "settled" or not event.items:
        return []
    assert event.visit and event.institution and event.patient
    totals: dict[str, list[float]] = {}
    for item in event.items:
        acc = totals.setdefault(line_class(item), [0, 0.0])
        acc[0] += 1
        acc[1] += item.amount
    occurred = aware(event.occurred_at)
    month = event.date.replace(day=1)
    region = event.institution.region
    version = row_version(False, now)
    visit = event.visit
    return [
        [
            event.settlement_id,
            cls,
            event.event_id,
            occurred,
            month,
            event.institution.code,
            region,
            region[:4] + "00",
            event.institution.level,
            event.institution.kind,
            event.patient.person_id,
            visit.visit_type,
            aware(visit.admitted_at) if visit.admitted_at else None,
            aware(visit.discharged_at) if visit.discharged_at else None,
            int(count),
            Decimal(repr(round(amount, 4))).quantize(_STEP),
            version,
        ]
        for cls, (count, amount) in totals.items()
    ]


class IndicatorFinding(NamedTuple):
    institution_code: str
    month: dt.date
    indicator: str
    nhsa_code: str
    value: float
    threshold: float
    peers: int
    peer_avg: float
    over_threshold: bool
    over_peers: bool


def indicator_findings(client: Any, month: dt.date | None = None) -> list[IndicatorFinding]:
    where = " WHERE month = {month:Date}" if month else ""
    result = client.query(
        "SELECT institution_code, month, indicator, nhsa_code, value, threshold, peers, "
        "peer_avg, over_threshold, over_peers FROM claimguard.indicator_findings"
        + where
        + " ORDER BY month, institution_code, indicator",
        parameters={"month": month} if month else None,
    )
    return [
        IndicatorFinding(
            str(r[0]), r[1], str(r[2]), str(r[3]), float(r[4]), float(r[5]), int(r[6]),
            float(r[7]), bool(r[8]), bool(r[9]),
        )
        for r in result.result_rows
    ]  # fmt: skip
