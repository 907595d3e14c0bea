"""The parametric rule types (`scope: points`, `check: <kind>`): logic in Python, facts in
knowledge points, thresholds in the points (`min`/`max`) or the rule's `params`.

A kind is keyed `on` what the event offers for the index lookup: `item` (each item code),
`diagnosis` (each diagnosis, by prefix), `operation` (each 手术操作 code) or `visit` (no
points: a check of the settlement's own data). Its `check` answers for one (subject, point):
None (no hit) or a `Detail` with the figure for the message and the other items involved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from claimguard.library.points import Point, PointIndex
from claimguard.model import Event, Item
from claimguard.rules.functions import age_on
from claimguard.rules.windows import SettledRec

VISIT_TYPES = {"门诊": "outpatient", "住院": "inpatient", "购药": "pharmacy"}


class Detail(NamedTuple):
    value: Any  # the figure the message shows (a total, an age, a code …)
    involved: tuple[str, ...] = ()  # item ids involved besides the hit item


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgeParams(Params):
    unit: Literal["years", "days"] = "years"
    # outside: the point's [min, max] is where the code may be used; inside: where it may not
    mode: Literal["outside", "inside"] = "outside"


class ToleranceParams(Params):
    tolerance: float = Field(default=0.005, ge=0)


class DiscountParams(Params):
    ratio: float = Field(default=0.5, gt=0, le=1)
    tolerance: float = Field(default=0.005, ge=0)


class SupplyParams(Params):
    measure: Literal["days", "quantity"] = "days"


class LowAdmissionParams(Params):
    primary_only: bool = True


class UploadParams(Params):
    max_hours: float = Field(default=24, gt=0)


class VarietyParams(Params):
    max_drugs: int = Field(default=5, ge=1)


class HerbParams(Params):
    max_herbs: int = Field(default=30, ge=1)


class Ctx:
    """One event as the kinds see it; the settlement's code index is built once, lazily."""

    __slots__ = (
        "_age",
        "_by_code",
        "_rule_items",
        "day",
        "event",
        "history",
        "index",
        "institution",
        "items",
        "patient",
        "region",
        "visit",
    )

    def __init__(self, event: Event, index: PointIndex, history: list[SettledRec]) -> None:
        assert event.visit and event.patient and event.institution and event.items is not None
        self.event = event
        self.visit = event.visit
        self.patient = event.patient
        self.institution = event.institution
        self.items = event.items
        self.day = event.date
        self.region = event.institution.region
        self._age: int | None = None  # computed when a rule type asks
        self.history = history  # the patient's other settled settlements
        self.index = index
        self._by_code: dict[str, list[Item]] | None = None
        self._rule_items: dict[str, list[Item]] = {}

    @property
    def age(self) -> int | None:
        if self._age is None:
            self._age = age_on(self.patient.birth_date, self.day)
        return self._age

    @property
    def age_days(self) -> int:
        return (self.day - self.patient.birth_date).days

    def by_code(self) -> dict[str, list[Item]]:
        found = self._by_code
        if found is None:
            found = self._by_code = {}
            for item in self.items:
                found.setdefault(item.code, []).append(item)
        return found

    def billed(self, codes: tuple[str, ...], current: Item | None = None) -> list[Item]:
        """Items of the settlement billing any of `codes`, `current` excepted."""
        index = self.by_code()
        return [i for code in codes for i in index.get(code, ()) if i is not current]

    def rule_items(self, rule: str) -> list[Item]:
        """Items of the settlement whose code has a point of `rule`."""
        found = self._rule_items.get(rule)
        if found is None:
            table = self.index.by_item
            found = self._rule_items[rule] = [
                i for i in self.items if any(p.rule == rule for p in table.get(i.code, ()))
            ]
        return found

    def diagnosed(self, prefixes: tuple[str, ...]) -> str | None:
        """The first diagnosis starting with one of `prefixes`."""
        if not prefixes:
            return None
        for diagnosis in self.visit.diagnoses:
            if diagnosis.startswith(prefixes):
                return diagnosis
        return None

    def period_total(self, code: str, interval: str, measure: str) -> float:
        """The code's quantity, days or amount over the interval containing the event date:
        this settlement's items plus the patient's other settled settlements."""
        own_day = self.day.toordinal()

        def value(qty: float, days: int | None, amount: float) -> float:
            if measure == "quantity":
                return qty
            if measure == "amount":
                return amount
            return float(days or 1)

        total = sum(value(i.quantity, i.days, i.amount) for i in self.by_code().get(code, ()))
        if interval == "当次":
            return total
        same = _period(interval, own_day)
        sid = self.event.settlement_id
        for record in self.history:
            if record.sid == sid:
                continue
            for rec in record.items:
                if rec.code == code and same(rec.day):
                    total += value(rec.qty, rec.days, rec.amount)
        return total


def _period(interval: str, day: int) -> Callable[[int], bool]:
    if interval == "自然日":
        return lambda other: other == day
    ref = dt.date.fromordinal(day)
    if interval == "自然月":
        first = ref.replace(day=1).toordinal()
        nxt = (ref.replace(day=28) + dt.timedelta(days=4)).replace(day=1).toordinal()
        return lambda other: first <= other < nxt
    first = ref.replace(month=1, day=1).toordinal()
    nxt = ref.replace(year=ref.year + 1, month=1, day=1).toordinal()
    return lambda other: first <= other < nxt


INTERVAL_DAYS = {"当次": 0, "自然日": 1, "自然月": 31, "自然年": 366}


# -- item kinds ---------------------------------------------------------------------------


def _insurance_type(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    # An event without the detail is basic medical insurance (what contract v1.1 settles).
    actual = ctx.visit.insurance_type or "basic"
    wanted = point.value.split("|")
    return None if actual in wanted else Detail(actual)


def _not_payable(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    return None if item.self_paid else Detail(item.amount)


def _single_herb(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    if item.self_paid:
        return None
    group = item.group
    herbs = [i for i in ctx.items if i.kind == "drug" and i.group == group]
    return Detail(len(herbs)) if len(herbs) == 1 else None


def _second_line(ctx: Ctx, item: Item, point: Point, p: Params, interval: str) -> Detail | None:
    first_line = point.related
    if ctx.billed(first_line, item):
        return None
    if interval != "当次":
        same = _period(interval, ctx.day.toordinal())
        wanted = set(first_line)
        for record in ctx.history:
            if record.sid != ctx.event.settlement_id and any(
                r.code in wanted and same(r.day) for r in record.items
            ):
                return None
    return Detail("|".join(first_line))


def _age(ctx: Ctx, item: Item | str, point: Point, p: AgeParams) -> Detail | None:
    age = ctx.age_days if p.unit == "days" else ctx.age
    if age is None:
        return None
    low = -1 if point.min is None else point.min
    high = float("inf") if point.max is None else point.max
    inside = low <= age <= high
    return Detail(age) if inside == (p.mode == "inside") else None


def _indication(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    if not point.related or ctx.diagnosed(point.related):
        return None
    return Detail("|".join(ctx.visit.diagnoses))


def _contraindication(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    found = ctx.diagnosed(point.related)
    return Detail(found) if found else None


def _supply(ctx: Ctx, item: Item, point: Point, p: SupplyParams) -> Detail | None:
    value = item.days if p.measure == "days" else item.quantity
    return (
        Detail(value) if value is not None and point.max is not None and value > point.max else None
    )


def _period_kind(measure: str) -> Callable[..., Detail | None]:
    def check(ctx: Ctx, item: Item, point: Point, p: Params, interval: str) -> Detail | None:
        if point.max is None:
            return None
        total = ctx.period_total(item.code, interval, measure)
        return Detail(round(total, 4)) if round(total - point.max, 6) > 0 else None

    return check


def _chronic_scope(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    registered = ctx.patient.chronic_diseases
    prefixes = point.related
    if any(d.startswith(prefixes) for d in registered):
        return None
    return Detail("|".join(registered) or "-")


def _level(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    if point.min is None or ctx.institution.level >= point.min:
        return None
    return Detail(ctx.institution.level)


def _price(ctx: Ctx, item: Item, point: Point, p: ToleranceParams) -> Detail | None:
    if point.max is None or item.unit_price <= point.max:
        return None
    return Detail(point.max) if round(item.unit_price - point.max, 6) > p.tolerance else None


def _day_of(item: Item, ctx: Ctx) -> dt.date:
    return item.performed_at.date() if item.performed_at else ctx.day


def _secondary_discount(ctx: Ctx, item: Item, point: Point, p: DiscountParams) -> Detail | None:
    """Several operations through one incision: the main one (the dearest) at full price, each
    further one at `ratio` of its standard price (the point's max) at most."""
    if point.max is None:
        return None
    day = _day_of(item, ctx)
    ops = [i for i in ctx.rule_items(point.rule) if _day_of(i, ctx) == day]
    if len(ops) < 2:
        return None
    main = max(ops, key=lambda i: i.unit_price)  # first of the dearest
    if main is item:
        return None
    allowed = point.max * p.ratio
    if round(item.unit_price - allowed, 6) > p.tolerance:
        return Detail(round(allowed, 2), (main.item_id,))
    return None


def _department(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    department = item.department or ctx.visit.department
    if not point.related or department.startswith(point.related):
        return None
    return Detail(department)


def _visit_type(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    allowed = {VISIT_TYPES.get(v, v) for v in point.value.split("|") if v}
    return None if ctx.visit.visit_type in allowed else Detail(ctx.visit.visit_type)


def _pair(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    others = ctx.billed(point.related, item)
    if not others:
        return None
    return Detail(others[0].code, tuple(i.item_id for i in others))


def _components(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    """Components of one package billed separately: `min` or more distinct component codes of
    the point in the settlement. Hit on the first component billed."""
    billed = ctx.billed(point.codes)
    codes = {i.code for i in billed}
    if point.min is None or len(codes) < point.min or billed[0] is not item:
        return None
    return Detail(len(codes), tuple(i.item_id for i in billed[1:]))


def _requires(ctx: Ctx, item: Item | str, point: Point, p: Params) -> Detail | None:
    if ctx.billed(point.related, item if isinstance(item, Item) else None):
        return None
    return Detail("|".join(point.related))


def _same_class(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    """Two or more drugs of one pharmacological class (the point's value) in one settlement."""
    cls = point.value
    others = [
        i
        for i in ctx.rule_items(point.rule)
        if i.code != item.code
        and any(q.rule == point.rule and q.value == cls for q in ctx.index.by_item.get(i.code, ()))
    ]
    return Detail(cls, tuple(i.item_id for i in others)) if others else None


def _gender(ctx: Ctx, item: Item | str, point: Point, p: Params) -> Detail | None:
    wanted = point.value
    return Detail(ctx.patient.gender) if wanted and ctx.patient.gender != wanted else None


def _pregnancy(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    status = ctx.patient.pregnancy
    if status is None:
        return None
    return Detail(status) if status in point.value.split("|") else None


def _daily_dose(ctx: Ctx, item: Item, point: Point, p: ToleranceParams) -> Detail | None:
    if point.max is None or not item.days:
        return None
    dose = item.quantity / item.days
    return Detail(round(dose, 4)) if round(dose - point.max, 6) > p.tolerance else None


def _quantity(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    if point.max is None:
        return None
    return Detail(item.quantity) if round(item.quantity - point.max, 6) > 0 else None


def _antibiotic_grade(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    grade = ctx.visit.antibiotic_authority
    if grade is None or point.min is None or grade >= point.min:
        return None
    return Detail(grade)


def _perioperative(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    if not ctx.visit.operations or point.max is None or item.days is None:
        return None
    return Detail(item.days) if item.days > point.max else None


def _channel(ctx: Ctx, item: Item, point: Point, p: Params) -> Detail | None:
    return Detail(ctx.visit.channel) if ctx.visit.channel == "internet" else None


# -- diagnosis / operation kinds -----------------------------------------------------------


def _diagnosis_without_item(ctx: Ctx, code: str, point: Point, p: Params) -> Detail | None:
    return None if ctx.billed(point.related) else Detail(code)


def _low_admission(ctx: Ctx, code: str, point: Point, p: LowAdmissionParams) -> Detail | None:
    visit = ctx.visit
    if visit.visit_type != "inpatient" or visit.discharged_at is None or point.max is None:
        return None
    if p.primary_only and (not visit.diagnoses or visit.diagnoses[0] != code):
        return None
    assert visit.admitted_at is not None
    days = (visit.discharged_at.date() - visit.admitted_at.date()).days
    return Detail(days) if days <= point.max else None


def _operation_diagnosis(ctx: Ctx, code: str, point: Point, p: Params) -> Detail | None:
    if not point.related or ctx.diagnosed(point.related):
        return None
    return Detail(code)


# -- visit kinds (no points) ---------------------------------------------------------------


def _listing(ctx: Ctx, rule: str, point: Point | None, p: Params) -> Detail | None:
    """A settlement list without the data it must carry: items always; diagnoses, department
    and doctor for a visit to a doctor (a pharmacy purchase may have none of them)."""
    visit = ctx.visit
    needed = [("items", bool(ctx.items))]
    if visit.visit_type != "pharmacy":
        needed += [
            ("diagnoses", bool(visit.diagnoses)),
            ("department", bool(visit.department.strip())),
            ("doctor_code", bool(visit.doctor_code.strip())),
        ]
    missing = [name for name, present in needed if not present]
    return Detail("|".join(missing)) if missing else None


def _amount_mismatch(ctx: Ctx, rule: str, point: Point | None, p: ToleranceParams) -> Detail | None:
    tolerance = p.tolerance
    bad = [
        i.item_id
        for i in ctx.items
        # the cheap test first; rounding (1e-6) only decides the near-boundary cases
        if abs(i.quantity * i.unit_price - i.amount) > tolerance
        and abs(round(i.quantity * i.unit_price - i.amount, 6)) > tolerance
    ]
    return Detail(len(bad), tuple(bad)) if bad else None


def _late_upload(ctx: Ctx, rule: str, point: Point | None, p: UploadParams) -> Detail | None:
    limit = p.max_hours * 3600
    late = []
    worst = 0.0
    for item in ctx.items:
        if item.uploaded_at is None:
            continue
        charged = item.performed_at or ctx.event.occurred_at
        delay = (item.uploaded_at - charged).total_seconds()
        if delay > limit:
            late.append(item.item_id)
            worst = max(worst, delay)
    return Detail(round(worst / 3600, 1), tuple(late)) if late else None


def _charge_outside_stay(ctx: Ctx, rule: str, point: Point | None, p: Params) -> Detail | None:
    visit = ctx.visit
    if visit.visit_type != "inpatient" or visit.admitted_at is None:
        return None
    start = visit.admitted_at.date()
    end = visit.discharged_at.date() if visit.discharged_at else None
    outside = [
        i.item_id
        for i in ctx.items
        if i.performed_at is not None
        and (i.performed_at.date() < start or (end is not None and i.performed_at.date() > end))
    ]
    return Detail(len(outside), tuple(outside)) if outside else None


def _drug_variety(ctx: Ctx, rule: str, point: Point | None, p: VarietyParams) -> Detail | None:
    drugs = {i.code for i in ctx.items if i.kind == "drug"}
    if len(drugs) <= p.max_drugs:
        return None
    ids = tuple(i.item_id for i in ctx.items if i.kind == "drug")
    return Detail(len(drugs), ids)


def _herb_prescription(ctx: Ctx, rule: str, point: Point | None, p: HerbParams) -> Detail | None:
    groups: dict[str, list[str]] = {}
    for item in ctx.items:
        if item.kind == "drug" and item.group:
            groups.setdefault(item.group, []).append(item.item_id)
    for ids in groups.values():
        if len(ids) > p.max_herbs:
            return Detail(len(ids), tuple(ids))
    return None


def _operation_unknown(ctx: Ctx, rule: str, point: Point | None, p: Params) -> Detail | None:
    """An operation code the rule's points (the valid 手术操作 codes) do not list. With no
    point of the rule loaded nothing is known to be valid, so nothing is flagged."""
    if rule not in ctx.index.rules:
        return None
    table = ctx.index.by_operation
    unknown = [
        code
        for code in ctx.visit.operations
        if not any(pt.rule == rule for pt in table.get(code, ()))
    ]
    return Detail("|".join(unknown)) if unknown else None


class Kind(NamedTuple):
    on: Literal["item", "diagnosis", "operation", "visit"]
    params: type[Params]
    check: Callable[..., Detail | None]
    periodic: bool = False  # reads the rule's `interval` (the check takes it last)
    description: str = ""


KINDS: dict[str, Kind] = {
    "insurance_type": Kind(
        "item", Params, _insurance_type, description="限险种 (point value: work_injury|maternity)"
    ),
    "not_payable": Kind("item", Params, _not_payable, description="不予支付 unless self-paid"),
    "single_herb": Kind("item", Params, _single_herb, description="单味使用不予支付 (item.group)"),
    "second_line": Kind(
        "item",
        Params,
        _second_line,
        True,
        "a first-line drug (related) billed before in the interval",
    ),
    "age": Kind(
        "item", AgeParams, _age, description="age (years or days) outside/inside [min, max]"
    ),
    "indication": Kind(
        "item", Params, _indication, description="no diagnosis starts with a related prefix"
    ),
    "contraindication": Kind(
        "item", Params, _contraindication, description="a diagnosis starts with a related prefix"
    ),
    "supply": Kind(
        "item", SupplyParams, _supply, description="days (or quantity) of one line over max"
    ),
    "course": Kind(
        "item", SupplyParams, _period_kind("days"), True, "days supplied in the interval over max"
    ),
    "frequency": Kind(
        "item", Params, _period_kind("quantity"), True, "quantity in the interval over max"
    ),
    "period_amount": Kind(
        "item", Params, _period_kind("amount"), True, "amount in the interval over max"
    ),
    "chronic_scope": Kind(
        "item", Params, _chronic_scope, description="no 门慢门特 registration among related"
    ),
    "level": Kind("item", Params, _level, description="institution level below min"),
    "price": Kind("item", ToleranceParams, _price, description="unit price over max"),
    "secondary_discount": Kind(
        "item",
        DiscountParams,
        _secondary_discount,
        description="further operation over ratio × max",
    ),
    "department": Kind(
        "item", Params, _department, description="ordering department not among related prefixes"
    ),
    "visit_type": Kind("item", Params, _visit_type, description="visit type not among value"),
    "pair": Kind("item", Params, _pair, description="a related code billed in the same settlement"),
    "components": Kind(
        "item", Params, _components, description="min or more of the codes billed separately"
    ),
    "requires": Kind("item", Params, _requires, description="none of the related codes billed"),
    "same_class": Kind(
        "item", Params, _same_class, description="another drug of the class (value)"
    ),
    "gender": Kind("item", Params, _gender, description="patient gender other than value"),
    "pregnancy": Kind(
        "item", Params, _pregnancy, description="patient pregnancy status among value"
    ),
    "daily_dose": Kind(
        "item", ToleranceParams, _daily_dose, description="quantity / days over max"
    ),
    "quantity": Kind("item", Params, _quantity, description="quantity of one line over max"),
    "antibiotic_grade": Kind(
        "item", Params, _antibiotic_grade, description="prescriber's antibiotic authority below min"
    ),
    "perioperative": Kind(
        "item", Params, _perioperative, description="antibiotic days over max around an operation"
    ),
    "channel": Kind("item", Params, _channel, description="billed through 互联网医院"),
    "diagnosis_gender": Kind(
        "diagnosis", Params, _gender, description="diagnosis for the other gender"
    ),
    "diagnosis_age": Kind(
        "diagnosis", AgeParams, _age, description="diagnosis outside its age range"
    ),
    "diagnosis_without_item": Kind(
        "diagnosis", Params, _requires, description="diagnosis with none of the related items"
    ),
    "low_admission": Kind(
        "diagnosis",
        LowAdmissionParams,
        _low_admission,
        description="inpatient stay of max days or fewer",
    ),
    "operation_gender": Kind(
        "operation", Params, _gender, description="operation for the other gender"
    ),
    "operation_diagnosis": Kind(
        "operation", Params, _operation_diagnosis, description="no diagnosis fits the operation"
    ),
    "listing": Kind("visit", Params, _listing, description="settlement list lacks required data"),
    "amount_mismatch": Kind(
        "visit", ToleranceParams, _amount_mismatch, description="amount ≠ quantity × unit price"
    ),
    "late_upload": Kind(
        "visit",
        UploadParams,
        _late_upload,
        description="uploaded more than max_hours after the charge",
    ),
    "charge_outside_stay": Kind(
        "visit", Params, _charge_outside_stay, description="charged outside [admission, discharge]"
    ),
    "drug_variety": Kind(
        "visit", VarietyParams, _drug_variety, description="more than max_drugs drug codes"
    ),
    "herb_prescription": Kind(
        "visit",
        HerbParams,
        _herb_prescription,
        description="a decoction of more than max_herbs herbs",
    ),
    "operation_unknown": Kind(
        "visit",
        Params,
        _operation_unknown,
        description="operation code not among the rule's points",
    ),
}
