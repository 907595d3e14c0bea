"""The suspicion store against a real embedded ClickHouse (chdb) in a temporary directory.

chdb is heavy (~740 MB resident) and hosts one directory per process, so the module opens
one engine and every test gets a fresh FindingStore handle on it over emptied tables.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from claimguard.store import FindingStore, JurisdictionTotal, StoreError, default_schema_dir
from claimguard.store.migrations import discover, split_statements
from claimguard.store.sample import BEIJING, sample_finding

TABLES = ("findings", "reversals", "region_chains")

pytestmark = pytest.mark.integration  # embedded ClickHouse (chdb)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    target = f"chdb://{tmp_path_factory.mktemp('chdb')}"
    keeper = FindingStore.connect(target)  # pins the engine for the whole module
    keeper.migrate()
    yield target
    keeper.close()


@pytest.fixture
def store(target: str) -> Iterator[FindingStore]:
    store = FindingStore.connect(target)
    for table in TABLES:
        store.client.command(f"TRUNCATE TABLE claimguard.{table}")
    yield store
    store.close()


def totals_by_region(store: FindingStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in store.totals():
        counts[row.region] = counts.get(row.region, 0) + row.findings
    return counts


# -- migrations ----------------------------------------------------------------------


def test_schema_dir_is_found_from_the_package() -> None:
    versions = [m.version for m in discover(default_schema_dir())]
    assert versions == sorted(versions) and versions[0] == 1


def test_migrations_are_idempotent(store: FindingStore) -> None:
    assert store.migrate() == []  # the module fixture applied them all already
    assert store.migrate() == []
    ledger = store.client.query(
        "SELECT version FROM claimguard.schema_migrations FINAL ORDER BY version"
    ).result_rows
    assert [v for (v,) in ledger] == [m.version for m in discover()]
    tables = store.client.query(
        "SELECT name FROM system.tables WHERE database = 'claimguard'"
    ).result_rows
    assert {"findings", "reversals", "region_chains", "jurisdiction_totals"} <= {
        name for (name,) in tables
    }


def test_editing_an_applied_migration_is_refused(store: FindingStore, tmp_path: Path) -> None:
    edited = tmp_path / "schemas"
    shutil.copytree(default_schema_dir(), edited)
    first = sorted(edited.glob("001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- comments and layout may change\n")
    assert store.migrate(edited) == []
    first.write_text(first.read_text() + "ALTER TABLE claimguard.findings DROP COLUMN message;\n")
    with pytest.raises(StoreError, match="changed after it was applied"):
        store.migrate(edited)


def test_split_statements_ignores_semicolons_in_comments_and_strings() -> None:
    sql = "-- a; b\nCREATE TABLE t (s String DEFAULT 'x;y') ENGINE = Log; /* ; */ SELECT 1;\n"
    assert split_statements(sql) == [
        "CREATE TABLE t (s String DEFAULT 'x;y') ENGINE = Log",
        "SELECT 1",
    ]


# -- writes and dedup ----------------------------------------------------------------


def test_round_trip_keeps_every_field(store: FindingStore) -> None:
    original = sample_finding(
        "F1",
        item_ids=["3", "7"],
        amount=12.34,
        notify_regions=["510104"],
        severity="high",
        message_en="gender mismatch",
    )
    assert store.write([original]) == 1
    [stored] = store.findings_for_settlement("S-F1")
    assert stored.model_dump() == original.model_dump()


def test_redelivered_findings_count_once(store: FindingStore) -> None:
    batch = [sample_finding(f"F{i}") for i in range(3)]
    assert store.write(batch) == 3
    assert store.write(batch) == 0  # a redelivery adds no row
    assert store.write([batch[0], batch[0]]) == 0
    assert store.count() == 3
    assert store.client.command("SELECT count() FROM claimguard.findings") == 3
    assert totals_by_region(store)["000000"] == 3
    assert sum(row.findings for row in store.count_by_violation_action()) == 3


def test_a_duplicate_that_slips_past_the_check_still_counts_once(store: FindingStore) -> None:
    # Two workers racing can both insert the same finding; FINAL must fold the copies.
    finding = sample_finding("F1")
    store.write([finding])
    columns = (
        "finding_id, event_id, settlement_id, event_type, occurred_at, rule_id, "
        "rule_version, violation, layer, stage, action, severity, item_ids, amount, subject, "
        "institution_code, institution_region, person_id, insured_region, assigned_region, "
        "assigned_level, notify_regions, message, message_en, reversed, ingested_at, version"
    )
    store.client.command(
        f"INSERT INTO claimguard.findings ({columns}) "
        f"SELECT {columns.replace('version', 'version + 1')} FROM claimguard.findings"
    )
    assert store.client.command("SELECT count() FROM claimguard.findings") == 2
    assert store.count() == 1
    assert totals_by_region(store)["320602"] == 1
    assert len(store.findings_for_settlement("S-F1")) == 1


# -- reversals -----------------------------------------------------------------------


def test_reversal_in_a_later_call_excludes_the_settlement(store: FindingStore) -> None:
    store.write([sample_finding(f"A{i}", settlement_id="S1") for i in (1, 2)])
    store.write([sample_finding("B1", settlement_id="S2")])
    assert store.mark_reversed(["S1"]) == 2
    assert store.mark_reversed(["S1"]) == 0  # already reversed
    assert store.count() == 3 and store.count(include_reversed=False) == 1
    assert all(f.reversed for f in store.findings_for_settlement("S1"))
    assert totals_by_region(store) == {"320602": 1, "320600": 1, "320000": 1, "000000": 1}


def test_reversal_leaves_alerts_and_holds_alone(store: FindingStore) -> None:
    # Contract §3: a reversal marks the settlement's flags; the precheck alert and the
    # settle hold answered their requests at the time.
    store.write(
        [
            sample_finding(
                "pre", settlement_id="S1", event_type="precheck", stage="pre", action="alert"
            ),
            sample_finding(
                "in", settlement_id="S1", event_type="settle", stage="in", action="hold"
            ),
            sample_finding("post", settlement_id="S1"),
        ]
    )
    assert store.mark_reversed(["S1"]) == 1
    late_hold = sample_finding(
        "in2", settlement_id="S1", event_type="settle", stage="in", action="hold"
    )
    store.write([late_hold, sample_finding("post2", settlement_id="S1")])
    state = {f.finding_id: f.reversed for f in store.findings_for_settlement("S1")}
    assert state == {"pre": False, "in": False, "in2": False, "post": True, "post2": True}
    assert {(r.action, r.findings) for r in store.totals(region="000000")} == {
        ("alert", 1),
        ("hold", 2),
    }


def test_reversal_from_another_store_handle(store: FindingStore, target: str) -> None:
    store.write([sample_finding("A1", settlement_id="S1")])
    with FindingStore.connect(target) as other:  # another batch / worker
        assert other.mark_reversed(["S1"]) == 1
    assert store.count(include_reversed=False) == 0


def test_redelivery_after_reversal_stays_reversed(store: FindingStore) -> None:
    finding = sample_finding("A1", settlement_id="S1")
    store.write([finding])
    store.mark_reversed(["S1"])
    assert store.write([finding]) == 0
    assert store.count(include_reversed=False) == 0
    assert store.totals() == []


def test_finding_arriving_after_its_reversal_is_stored_reversed(store: FindingStore) -> None:
    store.mark_reversed(["S9"])  # nothing stored yet for S9
    assert store.write([sample_finding("late", settlement_id="S9")]) == 1
    [stored] = store.findings_for_settlement("S9")
    assert stored.reversed
    assert store.totals() == []


# -- upward aggregation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("assigned", "subtree"),
    [
        ("320602", ["320602", "320600", "320000", "000000"]),
        ("429004", ["429004", "420000", "000000"]),  # 省直辖县级: parent is the province
        ("110105", ["110105", "110100", "110000", "000000"]),
        ("320600", ["320600", "320000", "000000"]),  # assigned to a city
        ("420000", ["420000", "000000"]),  # escalated to a province
    ],
)
def test_a_finding_counts_for_its_whole_ancestry(
    store: FindingStore, assigned: str, subtree: list[str]
) -> None:
    store.write([sample_finding("F1", assigned_region=assigned, amount=10.5)])
    rows = store.totals()
    assert sorted(row.region for row in rows) == sorted(subtree)
    assert all(row.findings == 1 and row.amount == Decimal("10.5") for row in rows)
    levels = {row.region: row.level for row in rows}
    assert (
        levels["000000"] == "national"
        and levels[assigned] == sample_finding("x", assigned_region=assigned).assigned_level
    )


def test_subtrees_add_up(store: FindingStore) -> None:
    store.write(
        [
            sample_finding("a", assigned_region="320602", amount=1.0),
            sample_finding("b", assigned_region="320681", amount=2.0),
            sample_finding("c", assigned_region="320600", amount=4.0),
            sample_finding("d", assigned_region="429004", amount=8.0),
            sample_finding("e", assigned_region="110105", amount=16.0),
        ]
    )
    amounts = {r.region: r.amount for r in store.totals()}
    assert amounts["320600"] == Decimal(7)  # its two counties and itself
    assert amounts["320000"] == Decimal(7)
    assert amounts["420000"] == Decimal(8)
    assert amounts["000000"] == Decimal(31)
    assert [r.region for r in store.totals(level="province")] == ["110000", "320000", "420000"]
    [only] = store.totals(region="320600")
    assert only == JurisdictionTotal(
        "320600", "city", dt.date(2024, 3, 1), "GENDER_MISMATCH", "flag", 3, Decimal(7)
    )
    top = store.top_jurisdictions(2, level="city")
    assert [(r.region, r.findings) for r in top] == [("320600", 3), ("110100", 1)]


def test_totals_per_beijing_day_and_violation(store: FindingStore) -> None:
    late_evening = dt.datetime(2024, 3, 1, 23, 30, tzinfo=BEIJING)  # 15:30 UTC
    store.write(
        [
            sample_finding("a", occurred_at=late_evening),
            sample_finding("b", occurred_at=late_evening + dt.timedelta(hours=1)),
            sample_finding("c", occurred_at=late_evening, violation="AGE_MISMATCH", action="hold"),
        ]
    )
    rows = store.totals(region="320602")
    assert [(r.day, r.violation, r.action, r.findings) for r in rows] == [
        (dt.date(2024, 3, 1), "AGE_MISMATCH", "hold", 1),
        (dt.date(2024, 3, 1), "GENDER_MISMATCH", "flag", 1),
        (dt.date(2024, 3, 2), "GENDER_MISMATCH", "flag", 1),
    ]
    second = store.totals(region="320602", day_from=dt.date(2024, 3, 2), day_to=dt.date(2024, 3, 2))
    assert [r.findings for r in second] == [1]


def test_regions_csv_overrides_the_derived_parent(store: FindingStore) -> None:
    other = FindingStore.connect(store.target)  # a second worker, without the override
    other.write([sample_finding("a", assigned_region="110105")])  # it now caches its regions
    store.write([sample_finding("b", assigned_region="320602")])
    # Re-parent the county straight under the province (a regions.csv override).
    store.load_regions({"320602": "320000"})
    assert totals_by_region(store) == {
        "110105": 1,
        "110100": 1,
        "110000": 1,
        "320602": 1,
        "320000": 1,
        "000000": 2,
    }
    # The other worker has not seen 320602's chain and writes a derived one: it must lose.
    other.write([sample_finding("c", assigned_region="320602")])
    other.close()
    assert totals_by_region(store)["320602"] == 2
    assert "320600" not in totals_by_region(store)
    # A region first seen after the override is chained with the knowledge base's tree.
    store.load_regions({"320602": "320000", "320681": "320000"})
    other = FindingStore.connect(store.target)
    other.write([sample_finding("d", assigned_region="320699")])  # derived: under 320600
    store.write([sample_finding("e", assigned_region="429005")])  # given tree, new region
    other.write([sample_finding("f", assigned_region="429005")])  # already chained
    other.close()
    assert store.ancestors("320681") == ["320681", "320000", "000000"]
    chains = dict(
        store.client.query(
            "SELECT region, source FROM claimguard.region_chains FINAL ORDER BY region"
        ).result_rows
    )
    assert chains["429005"] == 1 and chains["320699"] == 0 and chains["320681"] == 1


def test_sync_regions_chains_rows_written_by_other_tools(store: FindingStore) -> None:
    store.write([sample_finding("a", assigned_region="320602")])
    # Another tool copies a row for a region this store never chained.
    store.client.command(
        "INSERT INTO claimguard.findings SELECT * REPLACE ('b' AS finding_id, "
        "'S-b' AS settlement_id, '440785' AS assigned_region) FROM claimguard.findings"
    )
    assert "440785" not in totals_by_region(store)
    assert store.sync_regions() == 1
    assert totals_by_region(store)["440700"] == 1
    assert totals_by_region(store)["000000"] == 2
