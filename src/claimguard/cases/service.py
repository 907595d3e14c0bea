"""Every read and write of cases, restricted to the caller's subtree and audited.

One CaseService wraps one FindingStore. Store calls are serialised by `lock`: the worker
hosts the console on its own store client (an embedded chdb directory opens in one
process only), so the console's queries take the same lock as the worker's flushes.

Scope: a user (or a CLI `--as REGION`) sees a case when its home region is an ancestor of
(or is) the case's current assigned region — the `region_ancestors` closure, the same tree
the totals use — and sees it read-only as a notification when it is an ancestor of one of
the case's notify_regions. A case outside both answers exactly like a case that does not
exist (CaseNotVisible), so guessing ids tells nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from claimguard.cases import lifecycle
from claimguard.cases.access import (
    USER_COLUMNS,
    USERS,
    User,
    check_region,
    check_user,
    new_token,
    token_hash,
    user_row,
)
from claimguard.cases.lifecycle import CaseRefused
from claimguard.routing.regions import level_of
from claimguard.store import FindingStore

CASES = "claimguard.cases_current"
CASE_EVENTS = "claimguard.case_events"
AUDIT = "claimguard.audit"
EVENT_COLUMNS = [
    "case_id",
    "finding_id",
    "who",
    "at",
    "from_status",
    "to_status",
    "reason",
    "amount",
    "region",
    "from_region",
]
AUDIT_COLUMNS = ["at", "who", "role", "region", "action", "case_id", "detail"]
# What a case row shows (person_id leaves only as its pseudonym, `person`).
LIST_COLUMNS = [
    "case_id",
    "finding_id",
    "settlement_id",
    "violation",
    "rule_id",
    "assigned_region",
    "level",
    "status",
    "amount",
    "recovered",
    "occurred_at",
    "opened_at",
    "due_at",
    "overdue",
    "institution_code",
    "person_id",
]
SORTS = {"opened_at", "occurred_at", "amount", "due_at", "status", "violation", "case_id"}
SUBTREE = "(SELECT region FROM claimguard.region_ancestors WHERE ancestor = {home:String})"


class CaseNotVisible(CaseRefused):
    """No such case in the caller's subtree (it may exist elsewhere; we do not say)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def plain(value: Any) -> Any:
    """A value as JSON/CSV shows it."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


class CaseService:
    def __init__(
        self,
        store: FindingStore,
        pseudonymize: Callable[[str], str],
        lock: threading.Lock | threading.RLock | None = None,
        rule_texts: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self.store = store
        self.pseudonymize = pseudonymize
        self.lock = lock or threading.Lock()  # around each store call (shared with a worker)
        self._changing = threading.RLock()  # around a whole read-check-write of a case
        self.rule_texts = dict(rule_texts or {})
        self.violation_titles: dict[str, str] = {}  # code → a Chinese name, for display

    # -- plumbing --------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self.lock:
            yield

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            result = self.store.client.query(sql, parameters=dict(parameters or {}))
            names = result.column_names
            return [dict(zip(names, row, strict=True)) for row in result.result_rows]

        with self._locked():
            return self.store._call(run)

    def _insert(self, table: str, rows: list[list[Any]], columns: list[str]) -> None:
        with self._locked():
            self.store._call(lambda: self.store.client.insert(table, rows, column_names=columns))

    def public(self, row: dict[str, Any]) -> dict[str, Any]:
        """A row as analysts may read it: the person id replaced by its pseudonym."""
        out = {k: v for k, v in row.items() if k != "person_id"}
        if "person_id" in row:
            out["person"] = self.pseudonymize(str(row["person_id"]))
        if "overdue" in out:
            out["overdue"] = bool(out["overdue"])
        return out

    # -- regions ---------------------------------------------------------------------

    def chain(self, region: str) -> list[str]:
        """region → national, from the store's chains (the knowledge base's tree)."""
        found = self.rows(
            "SELECT chain FROM claimguard.region_chains FINAL WHERE region = {r:String}",
            {"r": region},
        )
        return list(found[0]["chain"]) if found else self.store.ancestors(region)

    def in_subtree(self, home: str, region: str) -> bool:
        return home in self.chain(region)

    def ensure_regions(self, regions: Sequence[str]) -> None:
        with self._locked():
            self.store._call(lambda: self.store._ensure_chains(set(regions)))

    def sync_notify_regions(self) -> None:
        """Give notify regions a chain too, so notifications reach their subtree."""
        found = self.rows(
            "SELECT DISTINCT arrayJoin(notify_regions) AS r FROM claimguard.findings "
            "WHERE action = 'flag' AND notify_regions != [] "
            "AND r NOT IN (SELECT region FROM claimguard.region_chains)"
        )
        if found:
            self.ensure_regions([str(r["r"]) for r in found])

    def children(self, region: str) -> list[str]:
        """The regions one level below `region` on any stored chain (a province appears
        under national even when no case is assigned to the province itself)."""
        found = self.rows(
            "SELECT DISTINCT chain[indexOf(chain, {r:String}) - 1] AS child "
            "FROM claimguard.region_chains FINAL "
            "WHERE indexOf(chain, {r:String}) > 1 ORDER BY child",
            {"r": region},
        )
        return [str(r["child"]) for r in found]

    # -- users and audit ---------------------------------------------------------------

    def add_user(self, name: str, role: str, region: str) -> str:
        """Create (or replace) a user; returns the token, shown once and stored hashed."""
        check_user(name, role, region)
        token = new_token()
        self._insert(USERS, [user_row(name, role, region, token_hash(token), False)], USER_COLUMNS)
        self.ensure_regions([region])
        return token

    def users(self) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT name, role, region, created_at, revoked FROM claimguard.users FINAL "
            "ORDER BY name"
        )

    def revoke(self, name: str) -> bool:
        found = self.rows(
            "SELECT name, role, region, token_sha256 FROM claimguard.users FINAL "
            "WHERE name = {n:String} AND revoked = 0",
            {"n": name},
        )
        if not found:
            return False
        u = found[0]
        row = user_row(u["name"], u["role"], u["region"], u["token_sha256"], True)
        self._insert(USERS, [row], USER_COLUMNS)
        return True

    def authenticate(self, token: str) -> User | None:
        if not token:
            return None
        found = self.rows(
            "SELECT name, role, region FROM claimguard.users FINAL "
            "WHERE token_sha256 = {h:String} AND revoked = 0",
            {"h": token_hash(token)},
        )
        if not found:
            return None
        u = found[0]
        return User(str(u["name"]), str(u["role"]), str(u["region"]))

    def audit(self, user: User, action: str, case_id: str = "", detail: Any = "") -> None:
        text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
        row = [_now(), user.name, user.role, user.region, action, case_id, text]
        self._insert(AUDIT, [row], AUDIT_COLUMNS)

    def audit_log(self, user: User, case_id: str | None = None, limit: int = 200) -> list[dict]:
        """Audit rows of the caller's subtree (supervisors) or the caller's own (analysts)."""
        conditions = [f"region IN {SUBTREE}"]
        params: dict[str, Any] = {"home": user.region, "limit": limit}
        if not user.supervises:
            conditions.append("who = {who:String}")
            params["who"] = user.name
        if case_id:
            conditions.append("case_id = {cid:String}")
            params["cid"] = case_id
        return self.rows(
            f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {AUDIT} WHERE {' AND '.join(conditions)} "
            "ORDER BY at DESC LIMIT {limit:UInt32}",
            params,
        )

    # -- cases -----------------------------------------------------------------------

    def _filters(
        self,
        user: User,
        status: str | None = None,
        violation: str | None = None,
        region: str | None = None,
        day_from: dt.date | None = None,
        day_to: dt.date | None = None,
        overdue: bool = False,
    ) -> tuple[str, dict[str, Any]]:
        conditions = [f"assigned_region IN {SUBTREE}"]
        params: dict[str, Any] = {"home": user.region}
        if region:
            conditions.append(
                "assigned_region IN (SELECT region FROM claimguard.region_ancestors "
                "WHERE ancestor = {within:String})"
            )
            params["within"] = region
        if status:
            conditions.append("status = {status:String}")
            params["status"] = status
        if violation:
            conditions.append("violation = {violation:String}")
            params["violation"] = violation
        if day_from:
            conditions.append("toDate(occurred_at) >= {day_from:Date}")
            params["day_from"] = day_from
        if day_to:
            conditions.append("toDate(occurred_at) <= {day_to:Date}")
            params["day_to"] = day_to
        if overdue:
            conditions.append("overdue")
        return " AND ".join(conditions), params

    def list_cases(
        self,
        user: User,
        status: str | None = None,
        violation: str | None = None,
        region: str | None = None,
        day_from: dt.date | None = None,
        day_to: dt.date | None = None,
        overdue: bool = False,
        sort: str = "opened_at",
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """(one page of the caller's cases, how many match in all)."""
        where, params = self._filters(user, status, violation, region, day_from, day_to, overdue)
        order = sort if sort in SORTS else "opened_at"
        direction = "DESC" if descending else "ASC"
        page = ""
        if limit is not None:
            page = " LIMIT {limit:UInt32} OFFSET {offset:UInt32}"
            params.update(limit=limit, offset=max(0, offset))
        rows = self.rows(
            f"SELECT {', '.join(LIST_COLUMNS)} FROM {CASES} WHERE {where} "
            f"ORDER BY {order} {direction}, case_id{page}",
            params,
        )
        total = self.rows(f"SELECT count() AS n FROM {CASES} WHERE {where}", params)[0]["n"]
        return [self.public(r) for r in rows], int(total)

    def _find(self, case_id: str) -> dict[str, Any] | None:
        found = self.rows(
            f"SELECT * FROM {CASES} WHERE case_id = {{cid:String}}", {"cid": case_id.strip()}
        )
        return found[0] if found else None

    def _visibility(self, user: User, case: dict[str, Any]) -> str | None:
        """'assigned' (the caller works it), 'notified' (read-only) or None."""
        if self.in_subtree(user.region, str(case["assigned_region"])):
            return "assigned"
        if any(self.in_subtree(user.region, str(r)) for r in case["notify_regions"]):
            return "notified"
        return None

    def show(self, user: User, case_id: str, audit: bool = True) -> dict[str, Any]:
        """The case page: the case, its history, its settlement's dispositions, the rule,
        and the transitions the caller may make. Every view is audited."""
        case = self._find(case_id)
        seen = self._visibility(user, case) if case else None
        if case is None or seen is None:
            if audit:
                self.audit(user, "view-refused", case_id)
            raise CaseNotVisible(f"case {case_id} is not in the subtree of {user.region}")
        out = self.public(case)
        out["access"] = seen
        out["history"] = [
            {k: plain(v) for k, v in h.items()}
            for h in self.rows(
                f"SELECT who, at, from_status, to_status, reason, amount, region, from_region "
                f"FROM {CASE_EVENTS} WHERE finding_id = {{fid:String}} ORDER BY at",
                {"fid": case["finding_id"]},
            )
        ]
        out["dispositions"] = self.rows(
            "SELECT finding_id, action, violation, disposition_way, disposition_reason, "
            "disposition_received_at FROM claimguard.findings_with_disposition "
            "WHERE settlement_id = {sid:String} AND disposition_way > 0 ORDER BY finding_id",
            {"sid": case["settlement_id"]},
        )
        out["related"] = [
            self.public(r)
            for r in self.rows(
                "SELECT finding_id, rule_id, violation, action, stage, amount, reversed "
                "FROM claimguard.findings FINAL WHERE settlement_id = {sid:String} "
                "ORDER BY finding_id",
                {"sid": case["settlement_id"]},
            )
        ]
        title, basis = self.rule_texts.get(str(case["rule_id"]), ("", ""))
        out["rule_title"], out["rule_basis"] = title, basis
        out["items"] = self.settlement_items(str(case["settlement_id"]), case["occurred_at"])
        out["allowed"] = (
            list(lifecycle.allowed(str(case["status"]), user.role)) if seen == "assigned" else []
        )
        if "escalated" in out["allowed"] and len(self.chain(str(case["assigned_region"]))) < 2:
            out["allowed"].remove("escalated")
        if audit:
            self.audit(user, "view", str(case["case_id"]))
        return out

    def set_status(
        self,
        user: User,
        case_id: str,
        to: str,
        amount: Decimal | None = None,
        reason: str = "",
        to_region: str | None = None,
    ) -> dict[str, Any]:
        """Append one change; CaseRefused (nothing written) when the case is not the
        caller's to work or the transition is not allowed. Read-check-write runs under one
        lock, so two console users cannot both move the same case from the same state
        (within one process; two processes on one ClickHouse server could)."""
        with self._changing:
            case = self._find(case_id)
            if case is None or self._visibility(user, case) != "assigned":
                self.audit(user, "change-refused", case_id, {"to": to})
                raise CaseNotVisible(f"case {case_id} is not in the subtree of {user.region}")
            status, region = str(case["status"]), str(case["assigned_region"])
            if to_region:
                check_region(to_region)
            try:
                lifecycle.check(status, to, user.role, amount, reason, to_region)
                new_region = region
                if to == lifecycle.ESCALATED:
                    chain = self.chain(region)
                    if len(chain) < 2:
                        raise CaseRefused(f"{region} has no parent to escalate to")
                    new_region = chain[1]
                elif to == lifecycle.TRANSFERRED and to_region:
                    self.ensure_regions([to_region])
                    if not self.in_subtree(user.region, to_region):
                        raise CaseRefused(f"{to_region} is outside the subtree of {user.region}")
                    if to_region == region:
                        raise CaseRefused(f"the case is already assigned to {region}")
                    new_region = to_region
            except CaseRefused as exc:
                self.audit(
                    user, "change-refused", str(case["case_id"]), {"to": to, "why": str(exc)}
                )
                raise
            self.ensure_regions([new_region])
            row = [
                case["case_id"],
                case["finding_id"],
                user.name,
                _now(),
                status,
                to,
                reason,
                amount if amount is not None else Decimal(0),
                new_region,
                region,
            ]
            self._insert(CASE_EVENTS, [row], EVENT_COLUMNS)
            detail = {"from": status, "to": to, "region": new_region, "reason": reason}
            if amount is not None:
                detail["amount"] = str(amount)
            self.audit(user, "change", str(case["case_id"]), detail)
            if self.in_subtree(user.region, new_region):
                return self.show(user, str(case["case_id"]), audit=False)
            # escalated above the caller: the case has left its subtree
            return {"case_id": case["case_id"], "status": to, "assigned_region": new_region}

    # -- the settlement's items, when the event archive (issue 11) holds the event -------

    def settlement_items(
        self, settlement_id: str, occurred_at: dt.datetime | None = None
    ) -> list[dict[str, Any]] | None:
        """The items of the settlement's archived event (the `settled` one first), or None
        when the event archive (`claimguard.events`, 031) does not hold it (e.g. stored
        before the archive existed). The archive is ordered by event time, so the flagged
        settlement's time bounds the read."""
        where = "settlement_id = {sid:String}"
        params: dict[str, Any] = {"sid": settlement_id}
        if occurred_at is not None:
            where += (
                " AND occurred_at BETWEEN {t:DateTime64(3)} - INTERVAL 1 DAY"
                " AND {t:DateTime64(3)} + INTERVAL 1 DAY"
            )
            params["t"] = occurred_at
        found = self.rows(
            f"SELECT raw FROM claimguard.events WHERE {where} "
            "ORDER BY event_type = 'settled' DESC, occurred_at DESC LIMIT 1",
            params,
        )
        if not found:
            return None
        try:
            event = json.loads(found[0]["raw"])
        except (TypeError, ValueError):
            return []
        items = event.get("items") if isinstance(event, dict) else None
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    # -- overview, reports, rules ------------------------------------------------------

    def check_region_in_scope(self, user: User, region: str) -> None:
        check_region(region)
        if not self.in_subtree(user.region, region):
            raise CaseNotVisible(f"{region} is outside the subtree of {user.region}")

    def overview(
        self,
        user: User,
        region: str,
        day_from: dt.date | None = None,
        day_to: dt.date | None = None,
    ) -> dict[str, Any]:
        """A jurisdiction's whole subtree: totals, trend per day, top violations and
        institutions, and each child region's numbers (the drill-down)."""
        self.check_region_in_scope(user, region)
        probe = User(user.name, user.role, region)
        where, params = self._filters(probe, day_from=day_from, day_to=day_to)
        totals = self.rows(
            "SELECT count() AS cases, sum(amount) AS amount, "
            "countIf(status IN ('assigned','verifying','escalated','transferred')) AS open, "
            "countIf(status = 'confirmed') AS confirmed, countIf(status = 'dismissed') "
            "AS dismissed, countIf(status = 'void') AS void, "
            "sumIf(recovered, status = 'confirmed') AS recovered, countIf(overdue) AS overdue "
            f"FROM {CASES} WHERE {where}",
            params,
        )[0]
        by_status = self.rows(
            f"SELECT status, count() AS cases, sum(amount) AS amount FROM {CASES} "
            f"WHERE {where} GROUP BY status ORDER BY cases DESC",
            params,
        )
        trend = self.rows(
            f"SELECT toDate(occurred_at) AS day, count() AS cases, sum(amount) AS amount "
            f"FROM {CASES} WHERE {where} GROUP BY day ORDER BY day",
            params,
        )
        violations = self.rows(
            f"SELECT violation, count() AS cases, sum(amount) AS amount, "
            f"countIf(status = 'confirmed') AS confirmed FROM {CASES} WHERE {where} "
            "GROUP BY violation ORDER BY amount DESC LIMIT 10",
            params,
        )
        institutions = self.rows(
            f"SELECT institution_code, count() AS cases, sum(amount) AS amount FROM {CASES} "
            f"WHERE {where} GROUP BY institution_code ORDER BY amount DESC LIMIT 10",
            params,
        )
        children = []
        for child in self.children(region):
            cw, cp = self._filters(
                User(user.name, user.role, child), day_from=day_from, day_to=day_to
            )
            row = self.rows(
                "SELECT count() AS cases, sum(amount) AS amount, "
                "countIf(status = 'confirmed') AS confirmed, "
                "sumIf(recovered, status = 'confirmed') AS recovered, "
                f"countIf(overdue) AS overdue FROM {CASES} WHERE {cw}",
                cp,
            )[0]
            children.append({"region": child, "level": level_of(child), **row})
        chain = self.chain(region)
        up = chain[1] if len(chain) > 1 and self.in_subtree(user.region, chain[1]) else None
        self.audit(user, "overview", "", {"region": region})
        return {
            "region": region,
            "level": level_of(region),
            "up": up,
            "totals": totals,
            "by_status": by_status,
            "trend": trend,
            "violations": violations,
            "institutions": institutions,
            "children": children,
        }

    def rule_stats(
        self,
        user: User,
        by_region: bool = False,
        min_cases: int = 20,
        ready: float = 0.9,
        review: float = 0.3,
    ) -> list[dict[str, Any]]:
        """Precision (阳性率) per rule over the caller's subtree, or per rule and each
        region of the subtree; `mark`: ready-for-事中 (precision ≥ ready over at least
        min_cases verdicts), to-review (precision ≤ review over at least min_cases)."""
        if by_region:
            rows = self.rows(
                "SELECT region, level, rule_id, cases, confirmed, dismissed, recovered "
                "FROM claimguard.rule_verdicts WHERE region IN "
                + SUBTREE
                + " ORDER BY rule_id, region",
                {"home": user.region},
            )
        else:
            rows = self.rows(
                "SELECT region, level, rule_id, cases, confirmed, dismissed, recovered "
                "FROM claimguard.rule_verdicts WHERE region = {home:String} ORDER BY rule_id",
                {"home": user.region},
            )
        out = []
        for r in rows:
            verdicts = int(r["confirmed"]) + int(r["dismissed"])
            precision = int(r["confirmed"]) / verdicts if verdicts else None
            mark = ""
            if precision is not None and verdicts >= min_cases:
                if precision >= ready:
                    mark = "ready-for-in"
                elif precision <= review:
                    mark = "to-review"
            title = self.rule_texts.get(str(r["rule_id"]), ("", ""))[0]
            out.append(
                {**r, "title": title, "verdicts": verdicts, "precision": precision, "mark": mark}
            )
        return out
