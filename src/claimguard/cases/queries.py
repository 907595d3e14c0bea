"""`claimguard query NAME`: named queries over the caller's subtree, and read-only SQL.

Every named query is one SELECT with the subtree condition built in. Free SQL is accepted
only as a single SELECT whose tables are `cases` (the caller's cases; person ids left out)
and `case_events` (their history); both are bound to the caller's subtree by CTEs put in
front of the statement, and the statement is checked by ClickHouse's own parser
(EXPLAIN AST): any other table, a table function or a second statement is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from claimguard.cases.access import User
from claimguard.cases.service import CASES, SUBTREE, CaseService
from claimguard.store.migrations import split_statements

Rows = list[dict[str, Any]]


class QueryRefused(ValueError):
    """The SQL is not a single read of the caller's own tables."""


def _window(column: str, day_from: dt.date | None, day_to: dt.date | None) -> tuple[str, dict]:
    conditions, params = [], {}
    if day_from:
        conditions.append(f"toDate({column}) >= {{day_from:Date}}")
        params["day_from"] = day_from
    if day_to:
        conditions.append(f"toDate({column}) <= {{day_to:Date}}")
        params["day_to"] = day_to
    return "".join(" AND " + c for c in conditions), params


def totals(svc: CaseService, user: User, day_from: Any, day_to: Any, limit: int) -> Rows:
    """Subtree findings per violation and day (every action; reversed excluded)."""
    extra, params = _window("day", day_from, day_to)
    return svc.rows(
        "SELECT day, violation, action, findings, amount FROM claimguard.jurisdiction_totals "
        f"WHERE region = {{home:String}}{extra} ORDER BY day, violation, action",
        {"home": user.region, **params},
    )


def _top(by: str) -> Callable[..., Rows]:
    def run(svc: CaseService, user: User, day_from: Any, day_to: Any, limit: int) -> Rows:
        extra, params = _window("occurred_at", day_from, day_to)
        return svc.rows(
            f"SELECT {by}, count() AS cases, sum(amount) AS amount_at_risk, "
            "countIf(status = 'confirmed') AS confirmed, "
            "sumIf(recovered, status = 'confirmed') AS recovered "
            f"FROM {CASES} WHERE assigned_region IN {SUBTREE} AND status != 'void'{extra} "
            f"GROUP BY {by} ORDER BY amount_at_risk DESC, {by} LIMIT {{limit:UInt32}}",
            {"home": user.region, "limit": limit, **params},
        )

    return run


def top_doctors(svc: CaseService, user: User, day_from: Any, day_to: Any, limit: int) -> Rows:
    """Doctors are not part of a finding: they come from the archived events
    (`claimguard.events`); cases whose settlement is not archived are left out."""
    extra, params = _window("c.occurred_at", day_from, day_to)
    return svc.rows(
        "SELECT JSONExtractString(e.raw, 'visit', 'doctor_code') AS doctor_code, "
        "count() AS cases, sum(c.amount) AS amount_at_risk, "
        "countIf(c.status = 'confirmed') AS confirmed "
        f"FROM {CASES} AS c INNER JOIN (SELECT settlement_id, any(raw) AS raw "
        "FROM claimguard.events WHERE event_type = 'settled' AND settlement_id IN "
        f"(SELECT settlement_id FROM {CASES} WHERE assigned_region IN {SUBTREE}) "
        "GROUP BY settlement_id) AS e ON e.settlement_id = c.settlement_id "
        f"WHERE c.assigned_region IN {SUBTREE} AND c.status != 'void'{extra} "
        "GROUP BY doctor_code ORDER BY amount_at_risk DESC LIMIT {limit:UInt32}",
        {"home": user.region, "limit": limit, **params},
    )


def by_status(svc: CaseService, user: User, day_from: Any, day_to: Any, limit: int) -> Rows:
    extra, params = _window("occurred_at", day_from, day_to)
    return svc.rows(
        "SELECT status, count() AS cases, sum(amount) AS amount, "
        "sumIf(recovered, status = 'confirmed') AS recovered, countIf(overdue) AS overdue "
        f"FROM {CASES} WHERE assigned_region IN {SUBTREE}{extra} "
        "GROUP BY status ORDER BY status",
        {"home": user.region, **params},
    )


def overdue(svc: CaseService, user: User, day_from: Any, day_to: Any, limit: int) -> Rows:
    rows, _ = svc.list_cases(
        user,
        day_from=day_from,
        day_to=day_to,
        overdue=True,
        sort="due_at",
        descending=False,
        limit=limit,
    )
    return rows


def notifications(svc: CaseService, user: User, day_from: Any, day_to: Any, limit: int) -> Rows:
    """Cases of other jurisdictions that name a region of the caller's subtree (异地就医)."""
    svc.sync_notify_regions()
    extra, params = _window("occurred_at", day_from, day_to)
    rows = svc.rows(
        "SELECT case_id, settlement_id, violation, assigned_region, status, amount, "
        "institution_code, institution_region, insured_region, notify_regions, person_id, "
        f"occurred_at FROM {CASES} WHERE arrayExists(r -> r IN {SUBTREE}, notify_regions) "
        f"AND assigned_region NOT IN {SUBTREE}{extra} "
        "ORDER BY occurred_at DESC LIMIT {limit:UInt32}",
        {"home": user.region, "limit": limit, **params},
    )
    return [svc.public(r) for r in rows]


def precision(svc: CaseService, user: User, day_from: Any, day_to: Any, limit: int) -> Rows:
    return [
        {k: r[k] for k in ("rule_id", "cases", "confirmed", "dismissed", "precision", "mark")}
        for r in svc.rule_stats(user)
    ]


def report(svc: CaseService, user: User, day_from: Any, day_to: Any, limit: int) -> Rows:
    """The upward report: the subtree's cases per month, violation and status."""
    extra, params = _window("month", day_from, day_to)
    return svc.rows(
        "SELECT month, violation, status, cases, amount, recovered, overdue "
        f"FROM claimguard.case_report WHERE region = {{home:String}}{extra} "
        "ORDER BY month, violation, status",
        {"home": user.region, **params},
    )


NAMED: dict[str, tuple[Callable[..., Rows], str]] = {
    "totals": (totals, "subtree findings per violation and day"),
    "top-institutions": (_top("institution_code"), "institutions by amount at risk"),
    "top-doctors": (top_doctors, "doctors by amount at risk (from the event archive)"),
    "status": (by_status, "cases by status"),
    "overdue": (overdue, "open cases past their due date"),
    "notifications": (notifications, "other regions' cases that name your subtree"),
    "precision": (precision, "rule precision (阳性率)"),
    "report": (report, "cases per month, violation and status (upward report)"),
}

_ALLOWED_TABLES = {"cases", "case_events"}
_TABLE = re.compile(r"^\s*TableIdentifier (\S+)")
_FUNCTION = re.compile(r"^\s*Function (\S+)")


def scoped_sql(svc: CaseService, user: User, sql: str, limit: int = 10_000) -> Rows:
    """Run one read-only SELECT over the caller's `cases` / `case_events`."""
    statements = split_statements(sql)
    if len(statements) != 1:
        raise QueryRefused("give exactly one statement")
    statement = statements[0]
    if not re.match(r"(?is)^\s*(select|with)\b", statement):
        raise QueryRefused("only SELECT is allowed")
    try:
        ast = svc.rows("EXPLAIN AST " + statement)
    except Exception as exc:
        raise QueryRefused(f"not valid SQL: {' '.join(str(exc).split())[:300]}") from exc
    lines = [str(next(iter(r.values()))) for r in ast]
    if not lines or not lines[0].strip().startswith("SelectWithUnionQuery"):
        raise QueryRefused("only SELECT is allowed")
    ctes = {m.group(1) for m in re.finditer(r"(?i)\b(\w+)\s+AS\s*\(", statement)}
    for i, line in enumerate(lines):
        if table := _TABLE.match(line):
            name = table.group(1)
            if name not in _ALLOWED_TABLES and name not in ctes:
                raise QueryRefused(f"table {name}: only `cases` and `case_events` may be read")
        if _FUNCTION.match(line) and i and lines[i - 1].strip().startswith("TableExpression"):
            raise QueryRefused("table functions are not allowed")
    scope = (
        f"cases AS (SELECT * EXCEPT (person_id) FROM {CASES} "
        f"WHERE assigned_region IN {SUBTREE}), "
        "case_events AS (SELECT * FROM claimguard.case_events WHERE finding_id IN "
        "(SELECT finding_id FROM cases))"
    )
    if re.match(r"(?is)^\s*with\b", statement):
        body = re.sub(r"(?is)^\s*with\b", f"WITH {scope},", statement, count=1)
    else:
        body = f"WITH {scope} {statement}"
    return svc.rows(
        f"SELECT * FROM ({body}) LIMIT {{limit:UInt32}} SETTINGS readonly = 2",
        {"home": user.region, "limit": limit},
    )
