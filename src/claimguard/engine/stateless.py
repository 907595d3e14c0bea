"""Item and visit rules on one event, through an index so that rules that cannot apply cost
nothing: item rules are selected by item code (their `applies_if` is evaluated once per
catalog row), then by event type and region; visit rules by event type and region."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from claimguard.knowledge import KnowledgeBase
from claimguard.model import Event, Item, ItemRow
from claimguard.rules import CompiledRule, RuleSet
from claimguard.rules.expr import Env
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
    overridden = {r.spec.overrides for r in staged if r.spec.overrides}
    return tuple(r for r in staged if r.id not in overridden)


class StatelessEvaluator:
    def __init__(self, kb: KnowledgeBase, ruleset: RuleSet) -> None:
        self.kb = kb
        self._item_rules = ruleset.item_rules
        self._visit_rules = ruleset.visit_rules
        self._by_code: dict[str, tuple[CompiledRule, ...]] = {}
        self._selected: dict[tuple[Any, ...], tuple[CompiledRule, ...]] = {}

    def item_rules(
        self, code: str, ref: ItemRow | None, event_type: str, region: str
    ) -> tuple[CompiledRule, ...]:
        key = (code, event_type, region)
        found = self._selected.get(key)
        if found is None:
            applicable = self._by_code.get(code)
            if applicable is None:
                applicable = tuple(r for r in self._item_rules if r.applies_to(ref))
                self._by_code[code] = applicable
            found = select_rules(applicable, event_type, region)
            if len(self._selected) > MEMO_LIMIT:
                self._selected.clear()
            self._selected[key] = found
        return found

    def visit_rules(self, event_type: str, region: str) -> tuple[CompiledRule, ...]:
        key = (None, event_type, region)
        found = self._selected.get(key)
        if found is None:
            found = self._selected[key] = select_rules(self._visit_rules, event_type, region)
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
        hits: dict[CompiledRule, list[Item]] = {}
        for item in event.items:
            ref = items_kb.get(item.code)
            rules = self.item_rules(item.code, ref, event_type, region)
            if not rules:
                continue
            env["item"], env["ref"] = item, ref
            for rule in rules:
                env["params"] = rule.params
                if rule.when(env) and rule.in_force(day):
                    hits.setdefault(rule, []).append(item)
        for rule, items in hits.items():
            yield self._item_hit(rule, items, env)
        env["item"] = env["ref"] = None
        for rule in self.visit_rules(event_type, region):
            env["params"] = rule.params
            if rule.when(env) and rule.in_force(day):
                yield StatelessHit(rule, (), (), (rule.message_zh(env), rule.message_en(env)))

    def _item_hit(self, rule: CompiledRule, items: list[Item], env: Env) -> StatelessHit:
        zh: list[str] = []
        en: list[str] = []
        extra: list[str] = []
        env["params"] = rule.params
        for item in items:
            env["item"], env["ref"] = item, self.kb.items.get(item.code)
            for out, render in ((zh, rule.message_zh), (en, rule.message_en)):
                text = render(env)
                if text not in out:
                    out.append(text)
            if rule.involves is not None:
                extra.extend(str(i) for i in rule.involves(env) or ())
        return StatelessHit(rule, tuple(items), tuple(extra), ("；".join(zh), "; ".join(en)))
