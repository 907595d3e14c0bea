"""ZB indicators against a real embedded ClickHouse (chdb): settled line totals written by
the batch writer (normal and isolating flush), ratios per institution and month, compared
with thresholds and with peers of the same city, level and kind; reversals excluded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from claimguard.decode import decode
from claimguard.library.indicators_cli import run_indicators
from claimguard.model import Event
from claimguard.rules.casetest import build_events
from claimguard.rules.spec import CaseSpec
from claimguard.store import BatchWriter, FindingStore

pytestmark = pytest.mark.integration  # embedded ClickHouse (chdb)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"chdb://{tmp_path_factory.mktemp('chdb')}"


@pytest.fixture(scope="module")
def store(target: str) -> Iterator[FindingStore]:
    store = FindingStore.connect(target)
    store.migrate()
    yield store
    store.close()


def _events(patches: list[dict]) -> list[Event]:
    events = build_events(CaseSpec(name="x", events=patches, hits=[]))
    return [decode(orjson.dumps(e)) for e in events]  # type: ignore[misc]


def _settled(sid: str, inst: str, items: list[dict], **kw: object) -> dict:
    return {
        "event_type": "settled",
        "event_id": f"E{sid}",
        "settlement_id": sid,
        "occurred_at": kw.pop("occurred_at", "2026-03-10T09:00:00+08:00"),
        "institution": {"code": inst, "region": kw.pop("region", "320602")},
        "items": items,
        **kw,
    }


DRUG = {"code": "XDRUG", "kind": "drug"}
EXAM = {"code": "250101001", "kind": "service", "days": None}
CT = {"code": "210200001", "kind": "service", "days": None}


def _line(base: dict, price: float, n: int = 1) -> dict:
    return {**base, "item_id": f"{base['code']}-{price}-{n}", "unit_price": price, "quantity": 1}


def test_indicators_flag_over_threshold_and_over_peers(store: FindingStore):
    patches = []
    # five level-2 hospitals in 3206: four with 30% drugs, one with 60% (over 0.45 and over
    # 1.5 × the peers' 30%)
    for n in range(1, 5):
        patches.append(_settled(f"N{n}", f"H3206020000{n}", [_line(DRUG, 30), _line(EXAM, 70)]))
    patches.append(_settled("HI", "H32060200009", [_line(DRUG, 60), _line(CT, 40)]))
    # a settlement that is reversed later does not count: it would push N1 over
    patches.append(_settled("RV", "H32060200001", [_line(DRUG, 1000)]))
    # another city: not a peer of the 3206 hospitals
    patches.append(_settled("OT", "H32050200001", [_line(DRUG, 35), _line(EXAM, 65)],
                            region="320502"))  # fmt: skip
    events = _events(patches)
    writer = BatchWriter(store)
    for event in events[:4]:
        writer.add_settled(event)
    writer.flush()  # the normal path
    for event in events[4:]:
        writer.add_settled(event)
    writer.reverse(["RV"])
    writer.flush_isolating()  # the path the worker uses
    rows = store.client.query(
        "SELECT count() FROM claimguard.settled_lines FINAL"
    ).result_rows  # fmt: skip
    assert rows[0][0] == 13
    found = {(f.institution_code, f.indicator): f for f in store.indicator_findings()}
    drug = found[("H32060200009", "drug_ratio")]
    assert drug.value == pytest.approx(0.6) and drug.over_threshold and drug.over_peers
    assert drug.peers == 4 and drug.peer_avg == pytest.approx(0.3)
    # CT 40% of the hospital's amount: over the 10% CT threshold (CT also counts as exam)
    assert found[("H32060200009", "ct_ratio")].over_threshold
    # the reversed settlement is not counted, so N1's drugs are like its peers'
    assert ("H32060200001", "drug_ratio") not in found
    # exam 70% at every peer: over the 30% threshold, not over the peers
    exam = found[("H32060200002", "exam_ratio")]
    assert exam.over_threshold and not exam.over_peers
    # redelivery folds: writing the same settlements again changes nothing
    for event in events:
        writer.add_settled(event)
    writer.flush_isolating()
    assert {(f.institution_code, f.indicator) for f in store.indicator_findings()} == set(found)


def test_a_threshold_for_the_level_wins_over_the_kinds(store: FindingStore):
    # level-2 hospitals: 70 % exam is allowed here (the kind's default is 30 %)
    store.client.command(
        "INSERT INTO claimguard.indicator_thresholds VALUES "
        "('exam_ratio', 'hospital', 2, 0.8, 1.5, 3, 2)"
    )
    try:
        found = {(f.institution_code, f.indicator) for f in store.indicator_findings()}
        assert ("H32060200002", "exam_ratio") not in found
        assert ("H32060200009", "drug_ratio") in found
    finally:
        store.client.command(
            "INSERT INTO claimguard.indicator_thresholds VALUES "
            "('exam_ratio', 'hospital', 2, 2.0, 100, 1000000, 3)"
        )


def test_readmission_rate_over_31_days(store: FindingStore):
    def stay(sid: str, person: str, admitted: str, discharged: str) -> dict:
        visit = {"visit_type": "inpatient", "admitted_at": f"{admitted}T09:00:00+08:00",
                 "discharged_at": f"{discharged}T09:00:00+08:00"}  # fmt: skip
        return _settled(sid, "H33010200001", [_line(DRUG, 10)], region="330102",
                        occurred_at=f"{discharged}T10:00:00+08:00", visit=visit,
                        patient={"person_id": person})  # fmt: skip

    events = _events(
        [
            stay("S1", "PA", "2026-05-01", "2026-05-05"),
            stay("S2", "PA", "2026-05-20", "2026-05-25"),  # 15 days after S1: readmission
            stay("S3", "PB", "2026-05-02", "2026-05-04"),
            stay("S4", "PC", "2026-05-03", "2026-05-06"),
        ]
    )
    writer = BatchWriter(store)
    for event in events:
        writer.add_settled(event)
    writer.flush_isolating()
    (row,) = [
        f
        for f in store.indicator_findings()
        if f.institution_code == "H33010200001" and f.indicator == "readmission_31d"
    ]
    assert (
        row.value == pytest.approx(0.25) and row.over_threshold and row.nhsa_code.startswith("ZB")
    )


def test_migrations_are_in_the_library_range():
    names = sorted(
        p.name for p in (Path(__file__).parents[1] / "schemas/clickhouse").glob("01*.sql")
    )
    assert names[:3] == ["010_settled_lines.sql", "011_indicator_defaults.sql",
                         "012_indicator_views.sql"]  # fmt: skip


def test_indicators_command_lists_a_month(store: FindingStore, target: str, capsys) -> None:
    assert run_indicators(target, "2026-03", as_json=True) == 0
    rows = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(r["institution_code"], r["indicator"]) for r in rows} >= {
        ("H32060200009", "drug_ratio")
    }
    assert all(r["month"] == "2026-03-01" for r in rows)
    assert run_indicators(target, "2026-13", as_json=False) == 2
