"""Our stateless rules translated into durable_rules, the measured peer of `replay.py`.

Facts are built in Python beforehand, the way a durable_rules user must: one `item` fact per
line item with the patient, institution and settlement context it needs, and one `visit`
fact per event with the doctor and institution rows joined in. Catalog values are inlined
as constants, one rule per code (`m.code == X & m.unit_price > cap`), which is how that
engine is meant to discriminate. What its language cannot compute (age in whole years, a
stay's treated days) is computed into the fact, as our engine computes it into the env.

Each fact is asserted into ONE session and retracted right after a hit: a posted *event*
would be consumed by the first rule it matches, so an item that breaks two rules would count
once; a batch that holds one unmatched message raises and leaves the others' actions queued.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from durable.engine import MessageNotHandledException, MessageObservedException
from durable.lang import get_host, item, m, ruleset, when_all

from claimguard.knowledge import KnowledgeBase
from claimguard.model import Event, ItemRow
from claimguard.rules import RuleSet
from claimguard.rules.functions import age_on

Fact = dict[str, Any]
# Our violation codes whose rules are item/visit scope (the stateless ones).
TRANSLATED = (
    "GENDER_MISMATCH",
    "AGE_MISMATCH",
    "INDICATION_MISMATCH",
    "EXCESSIVE_QUANTITY",
    "NON_COVERED_ITEM",
    "PRICE_OVER_CAP",
    "DUPLICATE_CHARGE",
    "BUNDLED_CHARGE",
    "LEVEL_RESTRICTED",
    "OUT_OF_SCOPE_PRACTICE",
    "SUSPENDED_INSTITUTION",
    "DECEASED_PATIENT",
    "IDENTITY_MISMATCH",
    "BED_HOLDING",
)


def _charge_key(code: str, performed_at: dt.datetime | None) -> str:
    # same_charge_count compares datetimes as instants, so the key uses the epoch second
    return f"{code}@{performed_at.timestamp() if performed_at else '-'}"


def _not_starting_with(prefixes: Iterable[str]) -> Any:
    """`item` starts with none of `prefixes`: the strings starting with p are exactly those
    in [p, p') where p' is p with its last character incremented, so each prefix becomes a
    pair of comparisons (its regex dialect refuses the complement pattern)."""
    condition = None
    for p in prefixes:
        after = p[:-1] + chr(ord(p[-1]) + 1)
        part = (item < p) | (item >= after)
        condition = part if condition is None else condition & part
    return condition


def _ordinal(day: dt.date | None, default: int) -> int:
    return day.toordinal() if day is not None else default


def build_facts(event: Event, kb: KnowledgeBase) -> list[Fact]:
    """The facts of one precheck/settle/settled event: its items, then its visit."""
    assert event.visit and event.institution and event.patient and event.items is not None
    visit, patient, items = event.visit, event.patient, event.items
    day = event.date
    age = age_on(patient.birth_date, day)
    facts: list[Fact] = []
    for it in items:
        fact: Fact = {
            "t": "item",
            "eid": event.event_id,
            "iid": it.item_id,
            "code": it.code,
            "kind": it.kind,
            "quantity": it.quantity,
            "unit_price": it.unit_price,
            "self_paid": it.self_paid,
            "gender": patient.gender,
            "level": event.institution.level,
            "charge_key": _charge_key(it.code, it.performed_at),
        }
        if it.days is not None:
            fact["days"] = it.days
        if age is not None:
            fact["age"] = age
        if visit.diagnoses:
            fact["diagnoses"] = list(visit.diagnoses)
        others = [
            _charge_key(o.code, o.performed_at)
            for o in items
            if o is not it and o.kind in ("service", "consumable")
        ]
        if others:
            fact["others"] = others
        other_codes = [o.code for o in items if o is not it]
        if other_codes:
            fact["other_codes"] = other_codes
        facts.append(fact)

    inst = kb.institutions.get(event.institution.code)
    doctor = kb.doctors.get(visit.doctor_code)
    deceased = kb.deceased_on.get(patient.person_id)
    vfact: Fact = {
        "t": "visit",
        "eid": event.event_id,
        "event_type": event.event_type,
        "visit_type": visit.visit_type,
        "person_id": patient.person_id,
        "department": visit.department,
        "event_day": day.toordinal(),
    }
    if visit.prescription_holder_id:
        vfact["holder"] = visit.prescription_holder_id
    if deceased is not None:
        vfact["deceased"] = deceased.toordinal()
    if doctor is not None:
        vfact["doctor_status"] = doctor.status
        if doctor.departments:
            vfact["doctor_deps"] = list(doctor.departments)
    if inst is not None:
        vfact["inst_status"] = inst.agreement_status
        # the defaults of InstitutionRow.suspended_on: open ends; terminated with no date
        # is terminated on every day
        vfact["inst_from"] = _ordinal(inst.suspended_from, 0)
        vfact["inst_to"] = _ordinal(inst.suspended_to, dt.date.max.toordinal())
        if inst.departments:
            vfact["inst_deps"] = list(inst.departments)
    if visit.admitted_at is not None and visit.discharged_at is not None:
        start, end = visit.admitted_at.date(), visit.discharged_at.date()
        vfact["stay_days"] = (end - start).days
        vfact["treated_days"] = len(
            {
                i.performed_at.date()
                for i in items
                if i.performed_at is not None and start <= i.performed_at.date() < end
            }
        )
    facts.append(vfact)
    return facts


def _all(conditions: Iterable[Any]) -> Any:
    """durable_rules' `a & b & …` (its DSL overloads the operators; no sum/any builtins)."""
    result = None
    for c in conditions:
        result = c if result is None else result & c
    return result


def _any(conditions: Iterable[Any]) -> Any:
    result = None
    for c in conditions:
        result = c if result is None else result | c
    return result


def _item_conditions(row: ItemRow, params: dict[str, dict[str, Any]]) -> list[tuple[str, Any]]:
    """(violation, condition) for one catalog code, constants inlined."""
    code = m.code == row.code
    out: list[tuple[str, Any]] = []
    if row.gender is not None:
        out.append(("GENDER_MISMATCH", code & (m.gender != row.gender)))
    if row.age_min is not None or row.age_max is not None:
        bounds: list[Any] = []
        if row.age_min is not None:
            bounds.append(m.age < row.age_min)
        if row.age_max is not None:
            bounds.append(m.age > row.age_max)
        out.append(("AGE_MISMATCH", code & _any(bounds)))
    if row.indications:
        no_match = m.diagnoses.allItems(_not_starting_with(row.indications))
        out.append(("INDICATION_MISMATCH", code & (-m.diagnoses | no_match)))
    if row.kind == "drug" and (
        row.max_days_supply is not None or row.max_daily_quantity is not None
    ):
        parts: list[Any] = []
        if row.max_days_supply is not None:
            parts.append(m.days > row.max_days_supply)
        if row.max_daily_quantity is not None:
            q = row.max_daily_quantity
            parts.append((+m.days & (m.quantity > m.days * q)) | (-m.days & (m.quantity > q)))
        out.append(("EXCESSIVE_QUANTITY", code & _any(parts)))
    if not row.covered:
        out.append(("NON_COVERED_ITEM", code & (m.self_paid == False)))  # noqa: E712
    if row.max_unit_price is not None:
        tolerance = params["PRICE_OVER_CAP"].get("tolerance", 0.0)
        # our over() decides on the difference rounded to 1e-6; the same threshold as a
        # constant keeps a price of exactly cap + tolerance from firing in binary floats
        out.append(
            ("PRICE_OVER_CAP", code & (m.unit_price > round(row.max_unit_price + tolerance, 6)))
        )
    if row.excludes:
        billed = _any(item == other for other in row.excludes)
        out.append(("BUNDLED_CHARGE", code & m.other_codes.anyItem(billed)))
    if row.min_institution_level is not None:
        out.append(("LEVEL_RESTRICTED", code & (m.level < row.min_institution_level)))
    return out


def _generic_conditions(
    kb: KnowledgeBase, params: dict[str, dict[str, Any]]
) -> list[tuple[str, Any]]:
    """Rules not tied to one code: unknown codes, duplicates, and the visit rules."""
    known = _all(m.code != code for code in kb.items)
    not_drug_codes = _all(m.code != code for code, row in kb.items.items() if row.kind == "drug")
    bed = params["BED_HOLDING"]
    visit = m.t == "visit"
    return [
        ("NON_COVERED_ITEM", (m.t == "item") & known & (m.self_paid == False)),  # noqa: E712
        (
            "DUPLICATE_CHARGE",
            (m.t == "item")
            & not_drug_codes
            & (m.kind != "drug")
            & m.others.anyItem(item == m.charge_key),
        ),
        (
            "OUT_OF_SCOPE_PRACTICE",
            visit
            & (m.visit_type != "pharmacy")
            & (
                -m.doctor_status
                | (m.doctor_status != "active")
                | -m.doctor_deps
                | m.doctor_deps.allItems(item != m.department)
                | (+m.inst_status & (-m.inst_deps | m.inst_deps.allItems(item != m.department)))
            ),
        ),
        (
            "SUSPENDED_INSTITUTION",
            visit
            & (
                -m.inst_status
                | (
                    (m.inst_status == "suspended")
                    & (m.event_day >= m.inst_from)
                    & (m.event_day <= m.inst_to)
                )
                | ((m.inst_status == "terminated") & (m.event_day >= m.inst_from))
            ),
        ),
        ("DECEASED_PATIENT", visit & +m.deceased & (m.event_day > m.deceased)),
        (
            "IDENTITY_MISMATCH",
            visit & (m.visit_type == "pharmacy") & +m.holder & (m.holder != m.person_id),
        ),
        (
            "BED_HOLDING",
            visit
            & (m.event_type == "settled")
            & (m.visit_type == "inpatient")
            & (m.stay_days >= bed.get("min_stay_days", 4))
            & (m.treated_days < m.stay_days * bed.get("treated_share", 0.5)),
        ),
    ]


class DurablePeer:
    """One durable_rules ruleset holding the translation; counts hits per violation."""

    def __init__(self, kb: KnowledgeBase, rules: RuleSet, name: str = "claimguard_peer") -> None:
        self.kb = kb
        self.name = name
        self.hits: Counter[str] = Counter()  # distinct (fact, violation)
        self.activations = 0  # rule firings: an `a | b` condition fires once per true side
        self._fired: set[str] = set()
        self.not_handled = 0
        self.observed = 0
        params = {r.spec.violation: r.spec.params for r in rules.rules}
        for code in TRANSLATED:
            params.setdefault(code, {})
        conditions: list[tuple[str, Any]] = []
        for row in kb.items.values():
            conditions.extend((v, (m.t == "item") & c) for v, c in _item_conditions(row, params))
        conditions.extend(_generic_conditions(kb, params))
        self.rule_count = len(conditions)
        with ruleset(name):
            for violation, condition in conditions:
                when_all(condition)(self._action(violation))
        self.host = get_host()

    def _action(self, violation: str) -> Callable[[Any], None]:
        def act(c: Any) -> None:
            self.activations += 1
            self._fired.add(violation)

        return act

    def post(self, fact: Fact) -> None:
        """Assert one fact; retract it after a hit so the session holds nothing."""
        try:
            self.host.assert_fact(self.name, fact)
        except MessageNotHandledException:
            self.not_handled += 1  # no rule matched: nothing was kept
            return
        except MessageObservedException:
            self.observed += 1
            return
        self.hits.update(self._fired)
        self._fired.clear()
        self.host.retract_fact(self.name, fact)
