"""`claimguard rules test`: run the example cases written beside each rule.

A case lists events as patches over a valid base event and extra knowledge rows over a small
base knowledge base; it passes when the rule's hits are exactly the expected ones.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from claimguard.engine import Engine
from claimguard.knowledge import KnowledgeBase
from claimguard.library.points import points_of_rows
from claimguard.model import DoctorRow, InstitutionRow, ItemRow, PersonRow
from claimguard.replay import ReplaySession
from claimguard.rules.loader import PackError, RuleSet, load_packs
from claimguard.rules.spec import CaseSpec

BASE_TIME = "2026-03-02T09:00:00+08:00"

BASE_EVENT: dict[str, Any] = {
    "event_type": "settle",
    "occurred_at": BASE_TIME,
    "visit": {
        "visit_id": "V",
        "visit_type": "outpatient",
        "department": "A01",
        "doctor_code": "D320602000001",
        "diagnoses": ["J06.900"],
    },
    "institution": {"code": "H32060200001", "level": 2, "kind": "hospital", "region": "320602"},
    "patient": {
        "person_id": "P1",
        "gender": "M",
        "birth_date": "1980-01-01",
        "insured_region": "320602",
        "scheme": "employee",
    },
}
BASE_ITEM: dict[str, Any] = {
    "item_id": "1",
    "code": "TBASE",
    "kind": "drug",
    "quantity": 1,
    "unit_price": 10.0,
    "days": 1,
}
BASE_KNOWLEDGE: dict[str, list[dict[str, Any]]] = {
    "items": [
        {
            "code": "TBASE",
            "kind": "drug",
            "covered": "true",
            "max_unit_price": "20",
            "max_daily_quantity": "3",
            "max_days_supply": "30",
        },
        {"code": "TSVC", "kind": "service", "covered": "true", "max_unit_price": "100"},
    ],
    "institutions": [
        {
            "code": f"H3206020000{n}",
            "kind": "hospital",
            "level": "2",
            "region": "320602",
            "agreement_status": "active",
            "departments": "A01|A02",
        }
        for n in (1, 2, 3)
    ],
    "doctors": [
        {
            "code": "D320602000001",
            "institution_code": "H32060200001",
            "departments": "A01|A02",
            "status": "active",
        }
    ],
    "persons": [],
    "points": [],
}
ROW_MODELS = {
    "items": ItemRow,
    "institutions": InstitutionRow,
    "doctors": DoctorRow,
    "persons": PersonRow,
}


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return copy.deepcopy(patch)


def build_events(case: CaseSpec) -> list[dict[str, Any]]:
    events = []
    for index, patch in enumerate(case.events):
        event = _merge(BASE_EVENT, dict(patch))
        event.setdefault("event_id", f"E{index}")
        event.setdefault("settlement_id", f"T{index}")
        items = []
        for number, item_patch in enumerate(patch.get("items", [{}]), start=1):
            item = _merge({**BASE_ITEM, "item_id": str(number)}, item_patch)
            item.setdefault("performed_at", event["occurred_at"])
            item.setdefault("amount", round(item["quantity"] * item["unit_price"], 2))
            items.append(item)
        event["items"] = items
        if event["visit"]["visit_type"] == "pharmacy":
            event["visit"].setdefault("prescription_holder_id", None)
        events.append(event)
    return events


def build_knowledge(case: CaseSpec) -> KnowledgeBase:
    tables: dict[str, dict[str, Any]] = {}
    for name, model in ROW_MODELS.items():
        key = "person_id" if name == "persons" else "code"
        rows = [*BASE_KNOWLEDGE[name], *case.knowledge.get(name, [])]
        tables[name] = {row[key]: model.model_validate(row) for row in rows}
    points = [{"basis": "test", **row} for row in case.knowledge.get("points", [])]
    return KnowledgeBase(
        points=points_of_rows(points),
        items=tables["items"],
        institutions=tables["institutions"],
        doctors=tables["doctors"],
        deceased_on={
            p.person_id: p.deceased_on for p in tables["persons"].values() if p.deceased_on
        },
    )


@dataclass(frozen=True)
class CaseResult:
    rule_id: str
    case: str
    passed: bool
    detail: str


def replay_case(case: CaseSpec, ruleset: RuleSet) -> ReplaySession:
    """The case's events, expanded over the base event, through a fresh engine in order."""
    session = ReplaySession(Engine(build_knowledge(case), ruleset))
    for event in build_events(case):
        session.feed(orjson.dumps(event))
    return session


def run_case(ruleset: RuleSet, rule_id: str, case: CaseSpec) -> CaseResult:
    """PASS or FAIL with the reason; a case that cannot even run is a FAIL, not a crash."""
    try:
        return _run_case(ruleset, rule_id, case)
    except Exception as exc:
        return CaseResult(rule_id, case.name, False, f"case cannot run: {_short(exc)}")


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300]


def _run_case(ruleset: RuleSet, rule_id: str, case: CaseSpec) -> CaseResult:
    session = replay_case(case, ruleset)
    errors = session.engine.errors
    if errors.counter:
        first = next(iter(errors.examples.items()))
        return CaseResult(rule_id, case.name, False, f"rule {first[0]} raised on {first[1]}")
    if session.dead_letters:
        return CaseResult(
            rule_id, case.name, False, f"test event refused: {session.dead_letters[0].reason}"
        )
    got = sorted(
        (f.settlement_id, f.action, tuple(f.item_ids))
        for f in session.findings.values()
        if f.rule_id == rule_id and not f.reversed
    )
    wanted = sorted((h.settlement, h.action) for h in case.hits)
    matched = sorted((sid, action) for sid, action, _ in got) == wanted and all(
        h.items is None
        or any(g[0] == h.settlement and g[1] == h.action and list(g[2]) == h.items for g in got)
        for h in case.hits
    )
    detail = "" if matched else f"expected {[h.model_dump() for h in case.hits]}, got {got}"
    return CaseResult(rule_id, case.name, matched, detail)


def run_all(ruleset: RuleSet) -> list[CaseResult]:
    return [run_case(ruleset, rule.id, case) for rule in ruleset.rules for case in rule.spec.tests]


def run_pack_tests(directory: Path | None) -> int:
    try:
        ruleset = load_packs(directory)
    except PackError as exc:
        print(f"claimguard rules test: refused:\n{exc}", file=sys.stderr)
        return 2
    results = run_all(ruleset)
    untested = [r.id for r in ruleset.rules if not r.spec.tests]
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        print(f"{mark}  {result.rule_id}  {result.case}")
        if result.detail:
            print(f"      {result.detail}")
    failed = sum(not r.passed for r in results)
    for rule_id in untested:
        print(f"NOTE  {rule_id}  has no test cases")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0
