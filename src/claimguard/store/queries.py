"""Read helpers for analysts and the demo, over the views of 004_views.sql."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

from clickhouse_connect.driver.client import Client


class JurisdictionTotal(NamedTuple):
    region: str
    level: str
    day: dt.date
    violation: str
    action: str
    findings: int
    amount: Decimal


class ViolationActionCount(NamedTuple):
    violation: str
    action: str
    findings: int
    amount: Decimal


class JurisdictionRank(NamedTuple):
    region: str
    level: str
    findings: int
    amount: Decimal


def totals(
    client: Client,
    level: str | None,
    region: str | None,
    day_from: dt.date | None,
    day_to: dt.date | None,
) -> list[JurisdictionTotal]:
    conditions: list[str] = []
    parameters: dict[str, Any] = {}
    if level is not None:
        conditions.append("level = {level:String}")
        parameters["level"] = level
    if region is not None:
        conditions.append("region = {region:String}")
        parameters["region"] = region
    if day_from is not None:
        conditions.append("day >= {day_from:Date}")
        parameters["day_from"] = day_from
    if day_to is not None:
        conditions.append("day <= {day_to:Date}")
        parameters["day_to"] = day_to
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    result = client.query(
        "SELECT region, level, day, violation, action, findings, amount "
        f"FROM claimguard.jurisdiction_totals{where} "
        "ORDER BY region, day, violation, action",
        parameters=parameters,
    )
    return [JurisdictionTotal(*row) for row in result.result_rows]


def count_by_violation_action(client: Client) -> list[ViolationActionCount]:
    """National picture: distinct unreversed findings per violation and action."""
    result = client.query(
        "SELECT violation, action, count() AS findings, sum(amount) AS amount "
        "FROM claimguard.findings FINAL WHERE reversed = 0 AND shadow = 0 "
        "GROUP BY violation, action ORDER BY findings DESC, violation, action"
    )
    return [ViolationActionCount(*row) for row in result.result_rows]


def top_jurisdictions(client: Client, n: int, level: str | None) -> list[JurisdictionRank]:
    """The n jurisdictions with the most findings in their subtree (optionally one level)."""
    where = " WHERE level = {level:String}" if level is not None else ""
    result = client.query(
        "SELECT region, level, sum(findings) AS findings, sum(amount) AS amount "
        f"FROM claimguard.jurisdiction_totals{where} "
        "GROUP BY region, level ORDER BY findings DESC, amount DESC, region LIMIT {n:UInt32}",
        parameters={"n": n, "level": level},
    )
    return [JurisdictionRank(*row) for row in result.result_rows]
