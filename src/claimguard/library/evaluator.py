"""Points rules on one event: the event's item codes, diagnoses and operation codes are looked
up in the knowledge-point index (one dict access each), and only the points found, of rule
types selected for this event, are checked. A rule that raises is skipped for this event
only and counted (RuleErrors), like every other rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from pydantic import BaseModel

from claimguard.engine.rule_errors import RuleErrors
from claimguard.knowledge import KnowledgeBase
from claimguard.library.kinds import KINDS, VISIT_TYPES, Ctx, Detail, Kind
from claimguard.library.points import Point
from claimguard.model import Event, Item
from claimguard.rules.compiled import CompiledRule
from claimguard.rules.windows import SettledRec

MEMO_LIMIT = 100_000
SCENARIO_OF = {v: k for k, v in VISIT_TYPES.items()}  # outpatient → 门诊 …


class Bound(NamedTuple):
    rule: CompiledRule
    kind: Kind
    params: BaseModel
    interval: str
    always: bool  # no `effective` dates
    check: Any  # kind.check, fetched once
    periodic: bool
    key: str  # the rule's first NHSA code (what a visit kind is handed)


class Selected(NamedTuple):
    """The points rules that run on one kind of event, keyed by the rule key of the points
    they read, per code type; and the visit kinds (no points)."""

    item: dict[str, tuple[Bound, ...]]
    diagnosis: dict[str, tuple[Bound, ...]]
    operation: dict[str, tuple[Bound, ...]]
    visit: tuple[Bound, ...]
    # item code → its (point, bound) pairs for these rules, flattened on first sight
    pairs: dict[str, tuple[tuple[Point, Bound], ...]]

    @property
    def empty(self) -> bool:
        return not (self.item or self.diagnosis or self.operation or self.visit)


class LibraryHit(NamedTuple):
    rule: CompiledRule
    item_ids: list[str]  # hit items then involved ones; empty: the whole settlement
    messages: tuple[str, str]


def bind(rule: CompiledRule) -> Bound:
    kind = KINDS[rule.spec.check or ""]
    assert rule.kind_params is not None
    return Bound(
        rule,
        kind,
        rule.kind_params,
        rule.spec.interval or "当次",
        rule.spec.effective is None,
        kind.check,
        kind.periodic,
        rule.spec.nhsa_codes[0],
    )


def runs_on(rule: CompiledRule, event: Event) -> bool:
    """Event type, region (after overrides, see select), scenario and institution scope."""
    spec = rule.spec
    assert event.visit and event.institution
    if spec.scenarios and SCENARIO_OF[event.visit.visit_type] not in spec.scenarios:
        return False
    if spec.institution_levels and event.institution.level not in spec.institution_levels:
        return False
    return not (spec.institution_kinds and event.institution.kind not in spec.institution_kinds)


class LibraryEvaluator:
    def __init__(self, kb: KnowledgeBase, rules: list[CompiledRule], errors: RuleErrors) -> None:
        self.kb = kb
        self.rules = rules
        self.errors = errors
        self._selected: dict[tuple[str, str, str, int, str], Selected] = {}
        self._bound: dict[str, Bound] = {}  # rule id → bound once (the kinds are looked up then)
        self._interned: dict[tuple[Any, ...], Selected] = {}

    def select(self, event: Event) -> Selected:
        from claimguard.engine.stateless import select_rules  # engine imports this module

        assert event.visit and event.institution
        key = (
            event.event_type,
            event.institution.region,
            event.visit.visit_type,
            event.institution.level,
            event.institution.kind,
        )
        found = self._selected.get(key)
        if found is None:
            if len(self._selected) > MEMO_LIMIT:
                self._selected.clear()
                self._interned.clear()
            tables: dict[str, dict[str, list[Bound]]] = {
                "item": {},
                "diagnosis": {},
                "operation": {},
            }
            visit: list[Bound] = []
            for rule in select_rules(self.rules, event.event_type, event.institution.region):
                if not runs_on(rule, event):
                    continue
                bound = self._bound.get(rule.id)
                if bound is None:
                    bound = self._bound[rule.id] = bind(rule)
                if bound.kind.on == "visit":
                    visit.append(bound)
                    continue
                for code in rule.spec.nhsa_codes:
                    tables[bound.kind.on].setdefault(code, []).append(bound)
            # Many kinds of event select the same rules: they share one Selected, and so its
            # memo of each item code's pairs (built once, not once per region and level).
            signature = tuple(
                sorted(
                    (t, code, b.rule.id)
                    for t, table in tables.items()
                    for code, bounds in table.items()
                    for b in bounds
                )
            ) + tuple(b.rule.id for b in visit)
            found = self._interned.get(signature)
            if found is None:
                frozen = {t: {k: tuple(v) for k, v in table.items()} for t, table in tables.items()}
                found = self._interned[signature] = Selected(
                    frozen["item"], frozen["diagnosis"], frozen["operation"], tuple(visit), {}
                )
            self._selected[key] = found
        return found

    def evaluate(self, event: Event, history: list[SettledRec]) -> Iterator[LibraryHit]:
        selected = self.select(event)
        if selected.empty:
            return
        index = self.kb.points
        ctx = Ctx(event, index, history)
        day, region = ctx.day, ctx.region
        # rule → [(subject item or None, point or None, detail)]
        hits: dict[CompiledRule, list[tuple[Item | None, Point | None, Detail]]] = {}
        failed: set[CompiledRule] = set()

        def run(bound: Bound, subject: Any, point: Point | None) -> None:
            rule = bound.rule
            if rule in failed or not (bound.always or rule.in_force(day)):
                return
            try:
                if bound.periodic:
                    detail = bound.check(ctx, subject, point, bound.params, bound.interval)
                else:
                    detail = bound.check(ctx, subject, point, bound.params)
            except Exception as exc:  # contained: this rule only, this event only
                self.errors.report(rule.id, f"event {event.event_id}", exc)
                failed.add(rule)
                return
            if detail is not None:
                item = subject if isinstance(subject, Item) else None
                hits.setdefault(rule, []).append((item, point, detail))

        if selected.item:
            # The hot path: per item one dict access, giving the (point, rule type) pairs of
            # its code for the rules selected here (flattened once per code); per pair the
            # point's validity inline and the check called directly unless it raises or hits.
            by_item, keyed, memo = index.by_item, selected.item, selected.pairs
            for item in event.items:
                code = item.code
                pairs = memo.get(code)
                if pairs is None:
                    pairs = tuple(
                        (point, bound)
                        for point in by_item.get(code, ())
                        for bound in keyed.get(point.rule, ())
                    )
                    if len(memo) > MEMO_LIMIT:
                        memo.clear()
                    memo[code] = pairs
                for point, bound in pairs:
                    # Point.in_force, inlined: this runs for every pair of every item
                    start, end, regions = point[10], point[11], point[12]
                    if (
                        (start is not None and day < start)
                        or (end is not None and day > end)
                        or (regions and not region.startswith(regions))
                    ):
                        continue
                    if bound.periodic or not bound.always or bound.rule in failed:
                        run(bound, item, point)
                        continue
                    try:
                        detail = bound.check(ctx, item, point, bound.params)
                    except Exception:
                        run(bound, item, point)  # reports and switches the rule off
                        continue
                    if detail is not None:
                        hits.setdefault(bound.rule, []).append((item, point, detail))
        if selected.diagnosis:
            keyed = selected.diagnosis
            for diagnosis in dict.fromkeys(ctx.visit.diagnoses):
                for point in index.diagnosis_points(diagnosis):
                    bounds = keyed.get(point.rule)
                    if bounds and point.in_force(day, region):
                        for bound in bounds:
                            run(bound, diagnosis, point)
        if selected.operation and ctx.visit.operations:
            by_op, keyed = index.by_operation, selected.operation
            for operation in dict.fromkeys(ctx.visit.operations):
                for point in by_op.get(operation, ()):
                    bounds = keyed.get(point.rule)
                    if bounds and point.in_force(day, region):
                        for bound in bounds:
                            run(bound, operation, point)
        for bound in selected.visit:
            if bound.periodic or not bound.always:
                run(bound, bound.key, None)
                continue
            try:  # the usual case, called directly; a raise goes through run() to be reported
                detail = bound.check(ctx, bound.key, None, bound.params)
            except Exception:
                run(bound, bound.key, None)
                continue
            if detail is not None:
                hits.setdefault(bound.rule, []).append((None, None, detail))
        for rule, found in hits.items():
            if rule in failed:
                continue
            try:
                yield self._hit(rule, found, ctx)
            except Exception as exc:
                self.errors.report(rule.id, f"event {event.event_id}", exc)

    def _hit(
        self, rule: CompiledRule, found: list[tuple[Item | None, Point | None, Detail]], ctx: Ctx
    ) -> LibraryHit:
        ids: dict[str, None] = {}
        for item, _point, _detail in found:
            if item is not None:
                ids[item.item_id] = None
        zh: dict[str, None] = {}
        en: dict[str, None] = {}
        env: dict[str, Any] = {
            "event": ctx.event,
            "visit": ctx.visit,
            "patient": ctx.patient,
            "institution": ctx.institution,
            "age": ctx.age,
            "params": rule.params,
            "_memo": {},
        }
        for item, point, detail in found:
            for involved in detail.involved:
                ids[involved] = None
            env["item"], env["point"], env["detail"] = item, point, detail.value
            zh[rule.message_zh(env)] = None
            en[rule.message_en(env)] = None
        return LibraryHit(rule, list(ids), ("；".join(zh), "; ".join(en)))
