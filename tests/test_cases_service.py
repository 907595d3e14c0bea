"""CaseService on a real chdb store written by the real FindingStore: reversal → void,
due dates per level, concurrent changes, the event archive's items and doctors, and the
pseudonym key. In-process (one chdb directory for the module)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from claimguard.cases.access import Pseudonymizer, User
from claimguard.cases.lifecycle import CaseRefused
from claimguard.cases.queries import top_doctors
from claimguard.cases.service import CaseService
from claimguard.store import FindingStore
from claimguard.store.rows import COLUMNS, to_row
from claimguard.store.sample import sample_finding

pytestmark = pytest.mark.integration
COUNTY = User("ana", "analyst", "320602")
ADMIN = User("root", "admin", "000000")


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseService]:
    root = tmp_path_factory.mktemp("cases-service")
    store = FindingStore.connect(f"chdb://{root / 'store'}")
    store.migrate()
    yield CaseService(store, Pseudonymizer.from_file(root / "key"))
    store.close()


def case_of(finding_id: str) -> str:
    return "C-" + finding_id[:16]


def test_reversal_voids_open_cases_but_not_verdicts(svc: CaseService) -> None:
    open_id, closed_id = "1" * 32, "2" * 32
    svc.store.write([sample_finding(open_id), sample_finding(closed_id)])
    svc.set_status(COUNTY, case_of(open_id), "verifying")
    svc.set_status(COUNTY, case_of(closed_id), "verifying")
    svc.set_status(COUNTY, case_of(closed_id), "confirmed", amount=Decimal("12.5"))
    svc.store.mark_reversed([f"S-{open_id}", f"S-{closed_id}"])
    assert svc.show(COUNTY, case_of(open_id))["status"] == "void"
    assert svc.show(COUNTY, case_of(closed_id))["status"] == "confirmed"
    with pytest.raises(CaseRefused):
        svc.set_status(COUNTY, case_of(open_id), "confirmed", amount=Decimal(1))


def test_due_days_per_level_and_overdue(svc: CaseService) -> None:
    fid = "3" * 32
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    row = to_row(sample_finding(fid, assigned_region="320612"), False, old)  # opened 10 d ago
    svc.store.client.insert("claimguard.findings", [row], column_names=COLUMNS)
    svc.store.sync_regions()
    user = User("x", "analyst", "320612")
    assert svc.show(user, case_of(fid))["overdue"] is False  # 30 days by default
    svc._insert(
        "claimguard.case_due_days",
        [["county", 7, dt.datetime.now(dt.UTC)]],
        ["level", "days", "set_at"],
    )
    shown = svc.show(user, case_of(fid))
    assert shown["overdue"] is True
    assert abs((shown["due_at"] - old).total_seconds() - 7 * 86400) < 1
    overdue, _ = svc.list_cases(user, overdue=True)
    assert [c["case_id"] for c in overdue] == [case_of(fid)]
    svc.set_status(user, case_of(fid), "verifying")
    svc.set_status(user, case_of(fid), "dismissed", reason="no violation")
    assert svc.list_cases(user, overdue=True)[1] == 0  # closed cases are never overdue


def test_two_users_cannot_both_move_a_case_from_the_same_state(svc: CaseService) -> None:
    fid = "4" * 32
    svc.store.write([sample_finding(fid)])
    svc.set_status(COUNTY, case_of(fid), "verifying")
    outcomes: list[str] = []

    def verdict(to: str, **details: object) -> None:
        try:
            svc.set_status(COUNTY, case_of(fid), to, **details)
            outcomes.append(to)
        except CaseRefused:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=verdict, args=("confirmed",), kwargs={"amount": Decimal(5)}),
        threading.Thread(target=verdict, args=("dismissed",), kwargs={"reason": "ok"}),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "refused" and len(set(outcomes)) == 2
    history = svc.show(COUNTY, case_of(fid))["history"]
    assert [h["to_status"] for h in history] == ["verifying", outcomes[0]]


def test_items_and_doctors_come_from_the_event_archive_when_present(svc: CaseService) -> None:
    fid = "5" * 32
    svc.store.write([sample_finding(fid)])
    # not archived (yet): no items, no doctor
    assert top_doctors(svc, ADMIN, None, None, 10) == []
    assert svc.show(ADMIN, case_of(fid))["items"] is None
    # the archive's columns that these reads use (the rest take defaults)
    finding = sample_finding(fid)
    event = {
        "visit": {"doctor_code": "D320602000123"},
        "items": [
            {
                "item_id": "1",
                "code": "X01",
                "kind": "drug",
                "quantity": 2,
                "unit_price": 50.0,
                "amount": 100.0,
            }
        ],
    }
    svc.store.client.insert(
        "claimguard.events",
        [
            [
                f"E-{fid}",
                "settled",
                finding.occurred_at,
                finding.settlement_id,
                json.dumps(event),
                dt.datetime.now(dt.UTC),
            ]
        ],
        column_names=[
            "event_id",
            "event_type",
            "occurred_at",
            "settlement_id",
            "raw",
            "archived_at",
        ],
    )
    assert svc.show(ADMIN, case_of(fid))["items"] == event["items"]
    doctors = top_doctors(svc, ADMIN, None, None, 10)
    assert {d["doctor_code"] for d in doctors} == {"D320602000123"}


def test_pseudonyms_are_keyed_and_stable(tmp_path: Path) -> None:
    one = Pseudonymizer.from_file(tmp_path / "a.key")
    again = Pseudonymizer.from_file(tmp_path / "a.key")
    other = Pseudonymizer.from_file(tmp_path / "b.key")
    assert (tmp_path / "a.key").stat().st_mode & 0o777 == 0o600
    assert one("P0001") == again("P0001") != other("P0001")
    assert one("P0001") != one("P0002") and "P0001" not in one("P0001")
