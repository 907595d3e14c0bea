"""FindingStore: the suspicion store of contract §7 over clickhouse-connect.

One code path for both targets: `chdb:///dir` (embedded engine, in-process) and
`http://host:8123`. Every driver error leaves as StoreUnavailable (retry) or StoreError.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from claimguard.model.findings import Finding
from claimguard.routing.regions import RegionTree
from claimguard.store import migrations, queries
from claimguard.store.errors import StoreError, translate
from claimguard.store.isolation import DEAD_LETTER_COLUMNS, DEAD_LETTERS, Rejected, dead_letter_rows
from claimguard.store.regions import (
    CHAIN_COLUMNS,
    SOURCE_DERIVED,
    SOURCE_GIVEN,
    chain_of,
    chain_rows,
    tree_of,
)
from claimguard.store.rows import COLUMNS, epoch_ms, row_version, to_finding, to_row
from claimguard.store.targets import normalize_target

T = TypeVar("T")
log = logging.getLogger("claimguard.store")

FINDINGS = "claimguard.findings"
REVERSALS = "claimguard.reversals"
REGION_CHAINS = "claimguard.region_chains"
# Contract §3: a reversal "marks that settlement's earlier flags as reversed". Alerts and
# holds answered a precheck/settle request at the time; they stay as they were.
REVERSIBLE_ACTION = "flag"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FindingStore:
    """Batched, idempotent writes of findings; reversal marking; analyst queries."""

    def __init__(self, client: Client, target: str) -> None:
        self.client = client
        self.target = target
        self._tree = tree_of(None)
        self._source = SOURCE_DERIVED  # whose tree new chains come from; see 003_regions.sql
        self._chained: set[str] | None = None  # regions that have a chain row; lazy

    # -- lifecycle -------------------------------------------------------------------

    @classmethod
    def connect(cls, target: str, **client_args: Any) -> FindingStore:
        """Open `chdb:///path/to/dir` or `http://host:8123[/?user=..]`. Raises
        StoreUnavailable when the target cannot be reached (or, for chdb, another process
        holds the directory). A relative `chdb://data/dir` is taken from the cwd."""
        target = normalize_target(target)
        try:
            client = clickhouse_connect.get_client(dsn=target, **client_args)
        except Exception as exc:
            raise translate(exc, target) from exc
        return cls(client, target)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> FindingStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:
            raise translate(exc, self.target) from exc

    def ping(self) -> None:
        """Raises StoreUnavailable when the store does not answer (readiness probes)."""
        self._call(lambda: self.client.command("SELECT 1"))

    def migrate(self, schema_dir: Path | None = None) -> list[int]:
        """Apply pending schemas/clickhouse migrations; returns the versions applied now."""
        return self._call(lambda: migrations.migrate(self.client, schema_dir))

    # -- regions ---------------------------------------------------------------------

    def load_regions(self, parents: Mapping[str, str]) -> int:
        """Adopt the knowledge base's region parents (regions.csv: code → parent) and
        rewrite the chain of every region they touch or that findings already use.
        Returns the number of chains written."""
        self._tree = tree_of(parents)
        self._source = SOURCE_GIVEN
        return self._call(lambda: self._load_regions(parents))

    def _load_regions(self, parents: Mapping[str, str]) -> int:
        self._chained = None  # re-read: other writers may have added regions since
        known = self._chained_regions()
        regions = known | set(parents) | set(parents.values())
        rows = chain_rows(self._tree, regions, SOURCE_GIVEN, epoch_ms(_now()))
        self.client.insert(REGION_CHAINS, rows, column_names=CHAIN_COLUMNS)
        known.update(regions)
        return len(rows)

    def _chained_regions(self) -> set[str]:
        if self._chained is None:
            result = self.client.query(f"SELECT DISTINCT region FROM {REGION_CHAINS}")
            self._chained = {str(row[0]) for row in result.result_rows}
        return self._chained

    def _ensure_chains(self, regions: Iterable[str]) -> None:
        """Give every region a finding is assigned to a chain, or the totals would miss it."""
        known = self._chained_regions()
        missing = set(regions) - known
        if missing:
            rows = chain_rows(self._tree, missing, self._source, epoch_ms(_now()))
            self.client.insert(REGION_CHAINS, rows, column_names=CHAIN_COLUMNS)
            known.update(missing)

    def sync_regions(self) -> int:
        """Add chains for assigned regions that lack one (e.g. rows written by other tools)."""

        def run() -> int:
            result = self.client.query(
                f"SELECT DISTINCT assigned_region FROM {FINDINGS} "
                f"WHERE assigned_region NOT IN (SELECT region FROM {REGION_CHAINS})"
            )
            missing = [str(row[0]) for row in result.result_rows]
            self._ensure_chains(missing)
            return len(missing)

        return self._call(run)

    @property
    def region_tree(self) -> RegionTree:
        return self._tree

    def ancestors(self, region: str) -> list[str]:
        return chain_of(self._tree, region)

    # -- writes ----------------------------------------------------------------------

    def write(self, findings: Sequence[Finding]) -> int:
        """Insert findings not stored yet; returns how many rows were inserted. Idempotent:
        a finding already stored (same finding_id, same or stronger reversed state) is
        skipped here, and any copy that slips through a race is folded by FINAL."""
        unique: dict[str, Finding] = {}
        for finding in findings:
            unique.setdefault(finding.finding_id, finding)
        if not unique:
            return 0
        return self._call(lambda: self._write(list(unique.values())))

    def _write(self, findings: list[Finding]) -> int:
        self._ensure_chains({f.assigned_region for f in findings})
        settlements = sorted({f.settlement_id for f in findings})
        stored = self._stored_state(settlements, [f.finding_id for f in findings])
        reversed_settlements = self._reversed_among(settlements)
        now = _now()
        rows: list[list[Any]] = []
        for finding in findings:
            is_reversed = finding.reversed or (
                finding.action == REVERSIBLE_ACTION
                and finding.settlement_id in reversed_settlements
            )
            if finding.finding_id in stored and stored[finding.finding_id] >= is_reversed:
                continue  # redelivery: nothing new to say
            try:
                rows.append(to_row(finding, is_reversed, now))
            except InvalidOperation as exc:
                raise StoreError(
                    f"finding {finding.finding_id}: amount {finding.amount!r} is not a number"
                ) from exc
        if rows:
            self.client.insert(FINDINGS, rows, column_names=COLUMNS)
        return len(rows)

    def _stored_state(self, settlements: list[str], finding_ids: list[str]) -> dict[str, bool]:
        """finding_id → reversed, for those of `finding_ids` already stored."""
        result = self.client.query(
            f"SELECT finding_id, max(reversed) FROM {FINDINGS} "
            "WHERE settlement_id IN {sids:Array(String)} AND finding_id IN {fids:Array(String)} "
            "GROUP BY finding_id",
            parameters={"sids": settlements, "fids": finding_ids},
        )
        return {str(fid): bool(rev) for fid, rev in result.result_rows}

    def _reversed_among(self, settlements: list[str]) -> set[str]:
        result = self.client.query(
            f"SELECT DISTINCT settlement_id FROM {REVERSALS} "
            "WHERE settlement_id IN {sids:Array(String)}",
            parameters={"sids": settlements},
        )
        return {str(row[0]) for row in result.result_rows}

    def mark_reversed(self, settlement_ids: Sequence[str]) -> int:
        """Record the reversals and re-insert each stored flag of those settlements as a
        reversed version; returns the number of findings newly marked.

        Why re-insert rather than ALTER TABLE ... UPDATE: a mutation rewrites whole data
        parts and runs asynchronously on a server, which is the wrong tool for a stream of
        small reversals; a higher-versioned row is an ordinary insert that
        ReplacingMergeTree folds, the same on chdb and on a server. It also works when the
        findings were written by another batch or process, since it reads the store, and
        the reversals table covers findings that arrive after their reversal."""
        sids = sorted(set(settlement_ids))
        if not sids:
            return 0
        return self._call(lambda: self._mark_reversed(sids))

    def _mark_reversed(self, sids: list[str]) -> int:
        now = _now()
        self.client.insert(
            REVERSALS, [[sid, now] for sid in sids], column_names=["settlement_id", "reversed_at"]
        )
        columns = ", ".join(COLUMNS)
        current = self.client.query(
            f"SELECT {columns} FROM {FINDINGS} FINAL "
            "WHERE settlement_id IN {sids:Array(String)} AND reversed = 0 "
            "AND action = {action:String}",
            parameters={"sids": sids, "action": REVERSIBLE_ACTION},
        )
        version = row_version(True, now)
        reversed_col, version_col = COLUMNS.index("reversed"), COLUMNS.index("version")
        rows = []
        for row in current.result_rows:
            updated = list(row)
            updated[reversed_col] = 1
            updated[version_col] = version
            rows.append(updated)  # ingested_at stays: when the finding first arrived
        if rows:
            self.client.insert(FINDINGS, rows, column_names=COLUMNS)
        return len(rows)

    def write_lines(self, rows: Sequence[Sequence[Any]]) -> int:
        """Settled line totals for the ZB indicators (store/settled_lines.py); idempotent."""
        from claimguard.store.settled_lines import LINE_COLUMNS, SETTLED_LINES

        if not rows:
            return 0
        self._call(lambda: self.client.insert(SETTLED_LINES, rows, column_names=LINE_COLUMNS))
        return len(rows)

    def indicator_findings(self, month: dt.date | None = None) -> list[Any]:
        """ZB indicator findings per institution and month (012_indicator_views.sql)."""
        from claimguard.store.settled_lines import indicator_findings

        return self._call(lambda: indicator_findings(self.client, month))

    def dead_letter(self, rejected: Sequence[Rejected]) -> int:
        """Keep findings the findings table refused, with the reason (040_*.sql)."""
        if not rejected:
            return 0
        rows = dead_letter_rows(rejected, _now())
        self._call(lambda: self.client.insert(DEAD_LETTERS, rows, column_names=DEAD_LETTER_COLUMNS))
        return len(rows)

    def archive_events(self, rows: Sequence[list[Any]]) -> int:
        """Archive input events (archive/events.py: event_row); exactly once by event_id."""
        from claimguard.archive.events import write_events

        if not rows:
            return 0
        return self._call(lambda: write_events(self.client, rows))

    def apply_event_retention(self, days: int | None = None) -> int | None:
        """The event archive's TTL: `days`, else $CLAIMGUARD_EVENT_RETENTION_DAYS if set."""
        from claimguard.archive.events import apply_retention

        return self._call(lambda: apply_retention(self.client, days))

    def dead_letters(self) -> list[tuple[str, str, str]]:
        """(finding_id, reason, finding JSON) of every dead-lettered finding."""
        result = self._call(
            lambda: self.client.query(
                f"SELECT finding_id, reason, finding FROM {DEAD_LETTERS} FINAL ORDER BY finding_id"
            )
        )
        return [(str(a), str(b), str(c)) for a, b, c in result.result_rows]

    # -- reads -----------------------------------------------------------------------

    def findings_for_settlement(
        self, settlement_id: str, include_shadow: bool = False
    ) -> list[Finding]:
        """Every stored finding of one settlement, once each, in its latest state (shadow
        findings only when asked)."""
        shadow = "" if include_shadow else " AND shadow = 0"

        def run() -> list[Finding]:
            result = self.client.query(
                f"SELECT {', '.join(COLUMNS)} FROM {FINDINGS} FINAL "
                f"WHERE settlement_id = {{sid:String}}{shadow} ORDER BY occurred_at, finding_id",
                parameters={"sid": settlement_id},
            )
            return [to_finding(row, COLUMNS) for row in result.result_rows]

        return self._call(run)

    def count(self, include_reversed: bool = True, include_shadow: bool = False) -> int:
        """Distinct findings stored (shadow findings only when asked)."""
        conditions = [c for c, skip in (("reversed = 0", include_reversed),
                                        ("shadow = 0", include_shadow)) if not skip]  # fmt: skip
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return self._call(
            lambda: int(self.client.command(f"SELECT count() FROM {FINDINGS} FINAL{where}"))
        )

    def totals(
        self,
        level: str | None = None,
        region: str | None = None,
        day_from: dt.date | None = None,
        day_to: dt.date | None = None,
    ) -> list[queries.JurisdictionTotal]:
        """Subtree totals per jurisdiction, day, violation and action (reversed excluded)."""
        return self._call(lambda: queries.totals(self.client, level, region, day_from, day_to))

    def count_by_violation_action(self) -> list[queries.ViolationActionCount]:
        return self._call(lambda: queries.count_by_violation_action(self.client))

    def top_jurisdictions(
        self, n: int = 10, level: str | None = None
    ) -> list[queries.JurisdictionRank]:
        return self._call(lambda: queries.top_jurisdictions(self.client, n, level))
