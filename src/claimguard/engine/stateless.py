"""Item and visit rules on one event, through an index so that rules that cannot apply cost
nothing: item rules are selected by item code (their `applies_if` is evaluated once per
catalog row), then by event type and region; visit rules by event type and region."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from claimguard.engine.rule_errors import RuleErrors
from claimguard.knowledge import KnowledgeBase
from claimguard.model import Event, Item, ItemRow
from claimguard.rules import CompiledRule, RuleSet
from claimguard.rules.expr import Compiled, Env
from claimguard.rules.functions import age_on

MEMO_LIMIT = 1_000_000


class StatelessHit(NamedTuple):
    rule: CompiledRule
    items: tuple[Item, ...]  # empty for a visit rule
    extra_ids: tuple[str, ...]  # items named by `involves`
    messages: tuple[str, str]  # zh, en


def select_rules(
    rules: Iterable[CompiledRule], event_type: str, region: str
) -> tuple[CompiledRule, ...]:
    """The rules checked on `event_type` in `region`, after regional overrides."""
    staged = [r for r in rules if event_type in r.spec.stages and r.covers(region)]
    # A shadow variant runs beside the rule it would replace: it must not switch it off.
    overridden = {r.spec.overrides for r in staged if r.spec.overrides and not r.shadow}
    return tuple(r for r in staged if r.id not in overridden)


class _Bound(NamedTuple):
    """A selected rule with what the hot loop reads from it, fetched once."""

    rule: CompiledRule
    when: Compiled
    params: dict[str, Any]
    always: bool  # no `effective` dates: in force on every day


def _bind(rules: tuple[CompiledRule, ...]) -> tuple[_Bound, ...]:
    return tuple(
        _Bound(r, r.when, r.params, r.spec.effective is None) for r in rules if r.when is not None
    )


class StatelessEvaluator:
    def __init__(self, kb: KnowledgeBase, ruleset: RuleSet, errors: RuleErrors) -> None:
        self.kb = kb
        self.errors = errors
        self._item_rules = ruleset.item_rules
        self._visit_rules = ruleset.visit_rules
        self._by_code: dict[str, tuple[CompiledRule, ...]] = {}
        # (event type, region) → code → the item rules selected; one lookup per item
        self._selected: dict[tuple[str, str], dict[str, tuple[_Bound, ...]]] = {}
        self._selected_size = 0
        self._visit: dict[tuple[str, str], tuple[_Bound, ...]] = {}

    def item_rules(
        self, code: str, ref: ItemRow | None, event_type: str, region: str
    ) -> tuple[CompiledRule, ...]:
        by_code = self._selected.get((event_type, region))
        found = by_code.get(code) if by_code is not None else None
        if found is None:
            found = self._item_bound(code, ref, event_type, region)
        return tuple(b.rule for b in found)

    def _item_bound(
        self, code: str, ref: ItemRow | None, event_type: str, region: str
    ) -> tuple[_Bound, ...]:
        applicable = self._by_code.get(code)
        if applicable is None:
            applicable = tuple(r for r in self._item_rules if self._applies(r, code, ref))
            self._by_code[code] = applicable
        found = _bind(select_rules(applicable, event_type, region))
        if self._selected_size > MEMO_LIMIT:
            self._selected.clear()
            self._selected_size = 0
        self._selected.setdefault((event_type, region), {})[code] = found
        self._selected_size += 1
        return found

    def _applies(self, rule: CompiledRule, code: str, ref: ItemRow | None) -> bool:
        try:
            return rule.applies_to(ref)
        except Exception as exc:  # a raising applies_if: the rule is off for this code
            self.errors.report(rule.id, f"catalog code {code}", exc)
            return False

    def visit_rules(self, event_type: str, region: str) -> tuple[CompiledRule, ...]:
        return tuple(b.rule for b in self._visit_bound(event_type, region))

    def _visit_bound(self, event_type: str, region: str) -> tuple[_Bound, ...]:
        key = (event_type, region)
        found = self._visit.get(key)
        if found is None:
            if len(self._visit) > MEMO_LIMIT:
                self._visit.clear()
            found = self._visit[key] = _bind(select_rules(self._visit_rules, event_type, region))
        return found

    def env(self, event: Event) -> Env:
        assert event.visit and event.institution and event.patient and event.items is not None
        kb, day = self.kb, event.date
        return {
            "event": event,
            "visit": event.visit,
            "patient": event.patient,
            "institution": event.institution,
            "items": event.items,
            "inst": kb.institutions.get(event.institution.code),
            "doctor": kb.doctors.get(event.visit.doctor_code),
            "deceased_on": kb.deceased_on.get(event.patient.person_id),
            "event_date": day,
            "age": age_on(event.patient.birth_date, day),
            "params": None,
            "item": None,
            "ref": None,
            "_memo": {},
        }

    def evaluate(self, event: Event) -> Iterator[StatelessHit]:
        env = self.env(event)
        event_type, region, day = event.event_type, event.institution.region, env["event_date"]
        items_kb = self.kb.items
        selected = self._selected.get((event_type, region))
        if selected is None:
            selected = self._selected.setdefault((event_type, region), {})
        hits: dict[CompiledRule, list[Item]] = {}
        failed: set[CompiledRule] = set()  # raised on some item: skipped for the event
        for item in event.items:
            code = item.code
            ref = items_kb.get(code)
            bound = selected.get(code)
            if bound is None:
                bound = self._item_bound(code, ref, event_type, region)
            if not bound:
                continue
            env["item"], env["ref"] = item, ref
            for rule, when, params, always in bound:
                env["params"] = params
                try:
                    hit = when(env) and (always or rule.in_force(day))
                except Exception as exc:  # contained: this rule only, this event only
                    self.errors.report(rule.id, f"event {event.event_id}", exc)
                    failed.add(rule)
                    continue
                if hit:
                    found = hits.get(rule)
                    if found is None:
                        hits[rule] = [item]
                    else:
                        found.append(item)
        for rule, items in hits.items():
            if rule in failed:
                continue
            try:
                found_hit = self._item_hit(rule, items, env)
            except Exception as exc:
                self.errors.report(rule.id, f"event {event.event_id}", exc)
                continue
            yield found_hit
        env["item"] = env["ref"] = None
        for rule, when, params, always in self._visit_bound(event_type, region):
            env["params"] = params
            try:
                if not (when(env) and (always or rule.in_force(day))):
                    continue
                messages = (rule.message_zh(env), rule.message_en(env))
            except Exception as exc:
                self.errors.report(rule.id, f"event {event.event_id}", exc)
                continue
            yield StatelessHit(rule, (), (), messages)

    def _item_hit(self, rule: CompiledRule, items: list[Item], env: Env) -> StatelessHit:
        zh: list[str] = []
        en: list[str] = []
        extra: list[str] = []
        env["params"] = rule.params
        # sets beside the lists: thousands of hit items must not cost a quadratic search
        seen: tuple[set[str], set[str]] = (set(), set())
        for item in items:
            env["item"], env["ref"] = item, self.kb.items.get(item.code)
            for out, render, known in (
                (zh, rule.message_zh, seen[0]),
                (en, rule.message_en, seen[1]),
            ):
                text = render(env)
                if text not in known:
                    known.add(text)
                    out.append(text)
            if rule.involves is not None:
                extra.extend(str(i) for i in rule.involves(env) or ())
        return StatelessHit(rule, tuple(items), tuple(extra), ("；".join(zh), "; ".join(en)))
