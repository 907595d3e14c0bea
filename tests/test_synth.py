"""The synthetic generator: deterministic, valid against the models, and honest about what
it injected. A small oracle written straight from contract §3 checks that the injected
settlements are exactly the ones a correct engine would flag, and nothing else."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from claimguard.model import (
    DoctorRow,
    Event,
    InstitutionRow,
    ItemRow,
    PersonRow,
    RegionRow,
)
from claimguard.synth import VIOLATIONS, SynthSummary, generate

N = 2000
SEED = 11


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("synth")
    return out, generate(out, settlements=N, seed=SEED)


Row = TypeVar("Row", bound=BaseModel)


def _rows(path: Path, model: type[Row]) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [model.model_validate(r) for r in csv.DictReader(handle)]


def _events(out: Path) -> tuple[list[Event], list[bytes]]:
    good: list[Event] = []
    broken: list[bytes] = []
    for raw in (out / "events.jsonl").read_bytes().splitlines():
        try:
            good.append(Event.model_validate_json(raw))
        except ValidationError:
            broken.append(raw)
    return good, broken


def _injected(out: Path) -> list[dict[str, str]]:
    return [orjson.loads(line) for line in (out / "injected.jsonl").read_bytes().splitlines()]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    names = (
        "events.jsonl",
        "injected.jsonl",
        *(f"knowledge/{k}.csv" for k in ("items", "institutions", "doctors", "persons", "regions")),
    )
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, settlements=600, seed=5)
    generate(b, settlements=600, seed=5)
    generate(c, settlements=600, seed=6)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "events.jsonl").read_bytes() != (c / "events.jsonl").read_bytes()


def test_events_validate_and_only_the_broken_lines_fail(synth: tuple[Path, SynthSummary]) -> None:
    out, summary = synth
    good, broken = _events(out)
    assert len(good) + len(broken) == summary.events
    assert len(broken) == summary.broken_lines >= 6
    # ~0.1 %: a handful, not a flood
    assert summary.broken_lines <= max(6, summary.events // 500)
    assert any(not raw.startswith(b"{") for raw in broken)  # not JSON at all
    settled = [e for e in good if e.event_type == "settled"]
    assert len({e.settlement_id for e in settled}) == summary.settlements == N


def test_events_are_in_time_order_and_well_formed(synth: tuple[Path, SynthSummary]) -> None:
    out, summary = synth
    good, _ = _events(out)
    times = [e.occurred_at for e in good]
    assert times == sorted(times)
    first, last = min(times), max(times)
    assert (last - first).days >= 35  # several weeks: the 30-day window matters
    ids = [e.event_id for e in good]
    assert len(ids) - len(set(ids)) == summary.redelivered >= 2
    for e in good:
        if e.event_type == "reversal":
            continue
        assert e.institution is not None and e.patient is not None and e.visit is not None
        assert e.items, e.event_id
        for item in e.items:
            assert abs(item.amount - round(item.quantity * item.unit_price, 2)) < 0.011
        if e.institution.kind == "pharmacy":
            assert e.institution.code.startswith("P") and e.institution.level == 0
        else:
            assert e.institution.code.startswith("H")
        assert e.patient.person_id.startswith("P")
        assert e.institution.code[1:7] == e.institution.region
    kinds = {e.visit.visit_type for e in good if e.visit}
    assert kinds == {"outpatient", "inpatient", "pharmacy"}
    assert summary.reversals >= 2
    assert {e.event_type for e in good} == {"precheck", "settle", "settled", "reversal"}


def test_knowledge_validates_against_the_row_models(synth: tuple[Path, SynthSummary]) -> None:
    out, _ = synth
    k = out / "knowledge"
    items = _rows(k / "items.csv", ItemRow)
    institutions = _rows(k / "institutions.csv", InstitutionRow)
    doctors = _rows(k / "doctors.csv", DoctorRow)
    persons = _rows(k / "persons.csv", PersonRow)
    regions = _rows(k / "regions.csv", RegionRow)
    assert {i.kind for i in items} == {"drug", "service", "consumable"}
    assert any(not i.covered for i in items)
    assert {i.agreement_status for i in institutions} == {"active", "suspended", "terminated"}
    assert {d.status for d in doctors} == {"active", "suspended"}
    assert any(p.deceased_on for p in persons)
    codes = {i.code for i in institutions}
    assert all(d.institution_code in codes for d in doctors)
    parents = {r.code: r.parent for r in regions}
    assert parents["429004"] == "420000"  # 省直辖县级: straight to the province
    assert parents["110105"] == "110100"
    for code, parent in parents.items():
        if code.endswith("0000"):
            assert parent == "000000"
        elif code.endswith("00") or code[2:4] == "90":
            assert parent == code[:2] + "0000"
        else:
            assert parent == code[:4] + "00"
    header = (k / "items.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == (
        "code,kind,name,covered,gender,age_min,age_max,indications,"
        "max_unit_price,max_daily_quantity,max_days_supply,max_per_day,"
        "min_institution_level,excludes"
    )


def test_every_code_is_injected_and_listed(synth: tuple[Path, SynthSummary]) -> None:
    out, summary = synth
    rows = _injected(out)
    assert {r["violation"] for r in rows} == set(VIOLATIONS)
    assert all(summary.injected[code] >= 3 for code in VIOLATIONS)
    assert sum(summary.injected.values()) == len(rows)
    settled = {e.settlement_id for e in _events(out)[0] if e.event_type == "settled"}
    assert {r["settlement_id"] for r in rows} <= settled
    # one flagged settlement is later reversed: its findings stay, marked reversed
    reversed_ids = {e.settlement_id for e in _events(out)[0] if e.event_type == "reversal"}
    assert (
        {r["settlement_id"] for r in rows if r.get("reversed")}
        == (reversed_ids & {r["settlement_id"] for r in rows})
        != set()
    )
    text = str(summary)
    assert "FREQUENT_VISITS" in text and f"{summary.events}" in text


def test_small_runs_still_inject_every_code(tmp_path: Path) -> None:
    summary = generate(tmp_path, settlements=50, seed=2)
    assert all(summary.injected[code] >= 3 for code in VIOLATIONS)


# -- an oracle straight from contract §3 --------------------------------------------------


@dataclass
class _Done:
    """A settled, not reversed settlement, as the cross-event codes see it."""

    sid: str
    event: Event
    reversed: bool = False


@dataclass
class _Knowledge:
    items: dict[str, ItemRow]
    institutions: dict[str, InstitutionRow]
    doctors: dict[str, DoctorRow]
    deceased: dict[str, dt.date]


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _item_day(item: object, e: Event) -> dt.date:
    performed = getattr(item, "performed_at", None)
    return performed.date() if performed is not None else e.date


def _stateless(e: Event, kb: _Knowledge) -> set[str]:
    assert e.visit and e.institution and e.patient and e.items is not None
    found: set[str] = set()
    day, patient, visit = e.date, e.patient, e.visit
    codes = {i.code for i in e.items}
    groups: dict[tuple[str, object], int] = defaultdict(int)
    for item in e.items:
        row = kb.items.get(item.code)
        if (row is None or not row.covered) and not item.self_paid:
            found.add("NON_COVERED_ITEM")
        if item.kind != "drug":
            groups[(item.code, item.performed_at)] += 1
        if row is None:
            continue
        if row.gender and row.gender != patient.gender:
            found.add("GENDER_MISMATCH")
        age = _age(patient.birth_date, day)
        if (row.age_min is not None and age < row.age_min) or (
            row.age_max is not None and age > row.age_max
        ):
            found.add("AGE_MISMATCH")
        if row.indications and not any(
            d.startswith(p) for d in visit.diagnoses for p in row.indications
        ):
            found.add("INDICATION_MISMATCH")
        if item.kind == "drug" and (
            (row.max_days_supply is not None and (item.days or 0) > row.max_days_supply)
            or (
                row.max_daily_quantity is not None
                and item.quantity / (item.days or 1) > row.max_daily_quantity
            )
        ):
            found.add("EXCESSIVE_QUANTITY")
        if row.max_unit_price is not None and item.unit_price > row.max_unit_price + 0.005:
            found.add("PRICE_OVER_CAP")
        if set(row.excludes) & codes:
            found.add("BUNDLED_CHARGE")
        if row.min_institution_level is not None and (
            e.institution.level < row.min_institution_level
        ):
            found.add("LEVEL_RESTRICTED")
    if any(n >= 2 for n in groups.values()):
        found.add("DUPLICATE_CHARGE")
    inst = kb.institutions.get(e.institution.code)
    if visit.visit_type != "pharmacy":
        doctor = kb.doctors.get(visit.doctor_code)
        if (
            doctor is None
            or doctor.status != "active"
            or visit.department not in doctor.departments
            or inst is None
            or visit.department not in inst.departments
        ):
            found.add("OUT_OF_SCOPE_PRACTICE")
    if inst is None or inst.suspended_on(day):
        found.add("SUSPENDED_INSTITUTION")
    died = kb.deceased.get(patient.person_id)
    if died is not None and day > died:
        found.add("DECEASED_PATIENT")
    if (
        visit.visit_type == "pharmacy"
        and visit.prescription_holder_id
        and visit.prescription_holder_id != patient.person_id
    ):
        found.add("IDENTITY_MISMATCH")
    return found


def _cross(e: Event, history: list[_Done], kb: _Knowledge) -> set[tuple[str, str]]:
    """Flags raised by settling `e`, given the patient's earlier live settlements."""
    assert e.visit and e.institution and e.items is not None
    live = [d for d in history if not d.reversed]
    sid, t, visit, inst = e.settlement_id, e.occurred_at, e.visit, e.institution.code
    found: set[tuple[str, str]] = set()
    for item in e.items:
        row = kb.items.get(item.code)
        if item.kind == "service" and row and row.max_per_day is not None:
            day = _item_day(item, e)
            total = sum(
                i.quantity
                for d in [*live, _Done(sid, e)]
                for i in d.event.items or ()
                if i.code == item.code and _item_day(i, d.event) == day
            )
            if total > row.max_per_day:
                found.add((sid, "OVER_FREQUENCY"))
        if item.kind == "drug":
            day = _item_day(item, e)
            for d in live:
                for other in d.event.items or ():
                    if other.code != item.code or other.kind != "drug":
                        continue
                    when = _item_day(other, d.event)
                    if when <= day and (when - day).days + (other.days or 1) > 7:
                        found.add((sid, "REPEAT_PRESCRIPTION"))
    same_day = {d.event.institution.code for d in live if d.event.date == e.date} | {inst}
    if len(same_day) >= 3:
        found.add((sid, "MULTI_INSTITUTION_SAME_DAY"))
    if visit.visit_type == "outpatient":
        window = [
            d
            for d in live
            if d.event.visit
            and d.event.visit.visit_type == "outpatient"
            and t - dt.timedelta(days=30) < d.event.occurred_at <= t
        ]
        if len(window) + 1 >= 8:
            found.add((sid, "FREQUENT_VISITS"))
    stays = [d for d in live if d.event.visit and d.event.visit.visit_type == "inpatient"]
    if visit.visit_type == "inpatient":
        assert visit.admitted_at and visit.discharged_at
        admitted, discharged = visit.admitted_at, visit.discharged_at
        for d in stays:
            assert d.event.visit and d.event.visit.discharged_at and d.event.institution
            gap = (admitted.date() - d.event.visit.discharged_at.date()).days
            if d.event.institution.code == inst and 0 <= gap <= 15:
                found.add((sid, "SPLIT_HOSPITALIZATION"))
        for d in live:
            assert d.event.visit and d.event.institution
            if (
                d.event.visit.visit_type != "inpatient"
                and d.event.institution.code != inst
                and admitted <= d.event.occurred_at < discharged
            ):
                found.add((d.sid, "OVERLAPPING_STAY"))
        nights = (discharged.date() - admitted.date()).days
        treated = {_item_day(i, e) for i in e.items}
        treated = {d for d in treated if admitted.date() <= d < discharged.date()}
        if nights >= 4 and len(treated) < nights / 2:
            found.add((sid, "BED_HOLDING"))
    else:
        for d in stays:
            v = d.event.visit
            assert v and v.admitted_at and v.discharged_at and d.event.institution
            if d.event.institution.code != inst and v.admitted_at <= t < v.discharged_at:
                found.add((sid, "OVERLAPPING_STAY"))
    return found


@dataclass
class _Oracle:
    kb: _Knowledge
    seen: set[str] = field(default_factory=set)
    history: dict[str, list[_Done]] = field(default_factory=lambda: defaultdict(list))
    owner: dict[str, str] = field(default_factory=dict)
    flags: set[tuple[str, str]] = field(default_factory=set)

    def run(self, events: list[Event]) -> set[tuple[str, str]]:
        for e in events:
            if e.event_id in self.seen:
                continue
            self.seen.add(e.event_id)
            if e.event_type == "reversal":
                for d in self.history[self.owner[e.settlement_id]]:
                    if d.sid == e.settlement_id:
                        d.reversed = True
                continue
            assert e.patient is not None
            self.flags |= {(e.settlement_id, code) for code in _stateless(e, self.kb)}
            if e.event_type == "settled":
                history = self.history[e.patient.person_id]
                self.flags |= _cross(e, history, self.kb)
                history.append(_Done(e.settlement_id, e))
                self.owner[e.settlement_id] = e.patient.person_id
        return self.flags


def _oracle(out: Path) -> set[tuple[str, str]]:
    k = out / "knowledge"
    kb = _Knowledge(
        items={r.code: r for r in _rows(k / "items.csv", ItemRow)},
        institutions={r.code: r for r in _rows(k / "institutions.csv", InstitutionRow)},
        doctors={r.code: r for r in _rows(k / "doctors.csv", DoctorRow)},
        deceased={
            r.person_id: r.deceased_on for r in _rows(k / "persons.csv", PersonRow) if r.deceased_on
        },
    )
    return _Oracle(kb).run(_events(out)[0])


def test_oracle_finds_exactly_what_was_injected(synth: tuple[Path, SynthSummary]) -> None:
    out, _ = synth
    expected = {(r["settlement_id"], r["violation"]) for r in _injected(out)}
    found = _oracle(out)
    assert sorted(expected - found) == [], "injected but not found"
    assert sorted(found - expected) == [], "found but not injected (background not clean)"


def test_oracle_on_another_seed_and_period(tmp_path: Path) -> None:
    generate(tmp_path, settlements=1200, seed=99, days=60)
    expected = {(r["settlement_id"], r["violation"]) for r in _injected(tmp_path)}
    assert _oracle(tmp_path) == expected
