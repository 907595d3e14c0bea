"""The engine facade: one event and its patient's history in, findings out. Pure: no I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from claimguard.engine.history import PatientHistory, record_of
from claimguard.engine.rule_errors import RuleErrors
from claimguard.engine.stateless import StatelessEvaluator, StatelessHit, select_rules
from claimguard.engine.watermark import Watermark
from claimguard.engine.windows import IMPLEMENTATIONS, Check, Hit, Targets, sequential_targets
from claimguard.knowledge import KnowledgeBase, load_knowledge
from claimguard.library.evaluator import LibraryEvaluator
from claimguard.model import STAGE_OF_EVENT, Decision, Event, Finding, verdict_of
from claimguard.routing import Router
from claimguard.rules import CompiledRule, RuleSet, load_packs
from claimguard.rules.windows import SettledRec


def finding_id(event_id: str, rule_id: str, settlement_id: str) -> str:
    """Deterministic, so a redelivered or re-processed event yields the same id."""
    key = f"{event_id}\x1f{rule_id}\x1f{settlement_id}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


class _BoundWindow(NamedTuple):
    """A window rule selected for a region, with what the per-event loop needs fetched once."""

    rule: CompiledRule
    targets: Targets
    check: Check
    params: Any
    key_suffix: str  # "|rule_id": flags are keyed "settlement_id|rule_id"
    always: bool  # no `effective` dates


@dataclass
class Outcome:
    event: Event
    findings: list[Finding] = field(default_factory=list)
    reversed_settlements: list[str] = field(default_factory=list)
    duplicate: bool = False
    # Why the event was not evaluated (it goes to the dead letters with this reason): too
    # far ahead of the stream's watermark, or an event_id seen before with other content.
    refused: str | None = None

    @property
    def decision(self) -> Decision | None:
        """The answer to a precheck or settle event (contract §7); None otherwise."""
        if self.duplicate or self.refused or self.event.event_type not in ("precheck", "settle"):
            return None
        own = [f for f in self.findings if f.event_id == self.event.event_id and not f.shadow]
        return Decision(
            event_id=self.event.event_id,
            settlement_id=self.event.settlement_id,
            event_type=self.event.event_type,  # type: ignore[arg-type]
            verdict=verdict_of(own),
            findings=own,
            decided_at=dt.datetime.now(dt.UTC),
        )


class Engine:
    def __init__(self, kb: KnowledgeBase, ruleset: RuleSet, router: Router | None = None) -> None:
        self.kb = kb
        self.ruleset = ruleset
        self.router = router or Router.from_knowledge(kb)
        # rule_id → events on which the rule raised (exported as claimguard_rule_errors_total)
        self.rule_errors: Counter[str] = Counter()
        self.errors = RuleErrors(self.rule_errors)
        self.stateless = StatelessEvaluator(kb, ruleset, self.errors)
        self.library = LibraryEvaluator(kb, ruleset.points_rules, self.errors)
        self.retention_days = ruleset.retention_days
        self._window_rules = ruleset.window_rules
        self._windows_by_region: dict[tuple[str, str], tuple[_BoundWindow, ...]] = {}
        self.watermark = Watermark()
        # event_ids redelivered with content other than the first delivery's
        self.conflicting_redeliveries = 0

    @classmethod
    def load(cls, knowledge_dir: Path | str, rules_dir: Path | str | None = None) -> Engine:
        kb = load_knowledge(knowledge_dir)
        return cls(kb, load_packs(rules_dir), Router.from_knowledge(kb))

    @staticmethod
    def person_of(event: Event) -> str | None:
        return event.patient.person_id if event.patient else None

    def process(self, event: Event, history: PatientHistory, digest: str = "") -> Outcome:
        """Evaluate `event`, updating `history` (the state of `person_of(event)`).

        `digest` identifies the event's content (see `decode_with_digest`): a redelivered
        event_id whose digest differs from the first delivery's is refused with a reason."""
        outcome = Outcome(event)
        if event.event_id in history.seen:
            first = history.digests.get(event.event_id)
            if digest and first and first != digest:
                self.conflicting_redeliveries += 1
                outcome.refused = (
                    f"event_id {event.event_id} was delivered before with other content; "
                    "the first delivery was evaluated and is kept"
                )
            else:
                outcome.duplicate = True
            return outcome
        day = event.date.toordinal()
        ahead = self.watermark.admit(day)
        if ahead is not None:
            outcome.refused = ahead
            return outcome
        if event.event_type == "reversal":
            history.remove(event.settlement_id)
            history.reversed[event.settlement_id] = day
            outcome.reversed_settlements.append(event.settlement_id)
        else:
            outcome.findings.extend(self._stateless(event))
            outcome.findings.extend(self._library(event, history))
            if event.event_type != "settled":
                outcome.findings.extend(self._pre_settlement_windows(event, history))
            elif event.settlement_id not in history.reversed:
                outcome.findings.extend(self._windows(event, history))
            # Retention follows settled events only: a precheck cannot age the history.
            if event.event_type == "settled" and day > history.latest_day:
                history.latest_day = day
        # Seen only once evaluated: an event that failed can be driven again after a fix.
        history.seen[event.event_id] = day
        if day > history.event_day:
            history.event_day = day
        if digest:
            history.digests[event.event_id] = digest
        history.prune(self.retention_days)
        return outcome

    # -- stateless -------------------------------------------------------------------------

    def _stateless(self, event: Event) -> Iterable[Finding]:
        assert event.institution and event.patient and event.items is not None
        stage = STAGE_OF_EVENT[event.event_type]
        by_id: dict[str, float] | None = None  # built on the first hit: most events have none
        for hit in self.stateless.evaluate(event):
            ids = [i.item_id for i in hit.items]
            if hit.extra_ids:
                named = set(ids)
                for x in hit.extra_ids:
                    if x not in named:
                        named.add(x)
                        ids.append(x)
            if ids:
                if by_id is None:
                    by_id = {i.item_id: i.amount for i in event.items}
                amount = round(sum(by_id.get(i, 0.0) for i in ids), 2)
            else:
                amount = round(sum(i.amount for i in event.items), 2)
            yield self._finding(
                hit.rule,
                event_id=event.event_id,
                settlement_id=event.settlement_id,
                event_type=event.event_type,
                stage=stage,
                occurred_at=event.occurred_at,
                item_ids=ids,
                amount=amount,
                institution=(
                    event.institution.code,
                    event.institution.region,
                    event.institution.level,
                ),
                patient=(event.patient.person_id, event.patient.insured_region),
                messages=hit.messages,
            )

    # -- library rule types over knowledge points -------------------------------------------

    def _library(self, event: Event, history: PatientHistory) -> Iterable[Finding]:
        assert event.institution and event.patient and event.items is not None
        by_id: dict[str, float] | None = None
        for hit in self.library.evaluate(event, history.records):
            if hit.item_ids:
                if by_id is None:
                    by_id = {i.item_id: i.amount for i in event.items}
                amount = round(sum(by_id.get(i, 0.0) for i in hit.item_ids), 2)
            else:
                amount = round(sum(i.amount for i in event.items), 2)
            yield self._finding(
                hit.rule,
                event_id=event.event_id,
                settlement_id=event.settlement_id,
                event_type=event.event_type,
                stage=STAGE_OF_EVENT[event.event_type],
                occurred_at=event.occurred_at,
                item_ids=hit.item_ids,
                amount=amount,
                institution=(
                    event.institution.code,
                    event.institution.region,
                    event.institution.level,
                ),
                patient=(event.patient.person_id, event.patient.insured_region),
                messages=hit.messages,
            )

    # -- cross-event windows ---------------------------------------------------------------

    def _window_rules_for(self, event_type: str, region: str) -> tuple[_BoundWindow, ...]:
        found = self._windows_by_region.get((event_type, region))
        if found is None:
            found = tuple(
                _BoundWindow(
                    rule,
                    *IMPLEMENTATIONS[rule.spec.check or ""],
                    rule.window,
                    f"|{rule.id}",
                    rule.spec.effective is None,
                )
                for rule in select_rules(self._window_rules, event_type, region)
            )
            self._windows_by_region[(event_type, region)] = found
        return found

    def _windows(self, event: Event, history: PatientHistory) -> Iterable[Finding]:
        assert event.patient is not None
        index = history.insert(record_of(event, history.next_seq()))
        records = history.records
        flagged = history.flagged
        person = event.patient.person_id
        kb = self.kb
        region = event.institution.region if event.institution else ""
        bound = self._window_rules_for("settled", region)
        for rule, targets, check, params, key_suffix, always in bound:
            # Most kinds only re-check the new record and those after it; skip their call.
            span = (
                range(index, len(records))
                if targets is sequential_targets
                else targets(records, index, params)
            )
            try:
                found = []
                for target in span:
                    record = records[target]
                    key = record.sid + key_suffix  # "sid|rule_id"
                    if key in flagged or not (
                        always or rule.in_force(dt.date.fromordinal(record.day))
                    ):
                        continue
                    hit = check(records, target, params, kb)
                    if hit is not None:
                        found.append((key, record, self._window_finding(rule, record, hit, person)))
            except Exception as exc:  # contained: this rule only, this event only
                self.errors.report(rule.id, f"event {event.event_id}", exc)
                continue
            for key, record, finding in found:
                flagged[key] = record.day
                yield finding

    def _pre_settlement_windows(self, event: Event, history: PatientHistory) -> Iterable[Finding]:
        """A precheck/settle event against the settled history processed before it (v1.1).

        The event is checked as if it were settled now, but nothing is recorded: only a
        `settled` event enters the history."""
        assert event.institution and event.patient
        if not history.records:
            return
        bound = self._window_rules_for(event.event_type, event.institution.region)
        if not bound:
            return
        candidate = record_of(event, history.seq + 1)
        # Other settlements only: a settlement's own settled event is not an earlier dispense.
        pool = [r for r in history.records if r.sid != event.settlement_id]
        pool.append(candidate)
        for rule, _targets, check, params, _suffix, always in bound:
            try:
                if not (always or rule.in_force(event.date)):
                    continue
                hit = check(pool, len(pool) - 1, params, self.kb)
                if hit is None:
                    continue
                finding = self._window_finding(
                    rule, candidate, hit, event.patient.person_id, event.event_type
                )
            except Exception as exc:  # contained: this rule only, this event only
                self.errors.report(rule.id, f"event {event.event_id}", exc)
                continue
            yield finding

    def _window_finding(
        self,
        rule: CompiledRule,
        record: SettledRec,
        hit: Hit,
        person: str,
        event_type: str = "settled",
    ) -> Finding:
        amounts = {i.item_id: i.amount for i in record.items}
        ids = list(hit.item_ids)
        amount = round(sum(amounts.get(i, 0.0) for i in ids), 2) if ids else record.total
        env = {"settlement": record, "params": rule.params, "detail": hit.detail}
        return self._finding(
            rule,
            event_id=record.eid,
            settlement_id=record.sid,
            event_type=event_type,
            stage=STAGE_OF_EVENT[event_type],
            occurred_at=dt.datetime.fromisoformat(record.occurred_at),
            item_ids=ids,
            amount=amount,
            institution=(record.inst, record.inst_region, record.inst_level),
            patient=(person, record.insured_region),
            messages=(rule.message_zh(env), rule.message_en(env)),
        )

    # -- one place builds a finding --------------------------------------------------------

    def _finding(
        self,
        rule: CompiledRule,
        *,
        event_id: str,
        settlement_id: str,
        event_type: str,
        stage: str,
        occurred_at: dt.datetime,
        item_ids: list[str],
        amount: float,
        institution: tuple[str, str, int],
        patient: tuple[str, str],
        messages: tuple[str, str],
    ) -> Finding:
        spec = rule.spec
        inst_code, inst_region, inst_level = institution
        person_id, insured_region = patient
        assigned = self.router.assign(spec.subject, inst_region, inst_level, insured_region)
        return Finding.model_construct(
            finding_id=finding_id(event_id, spec.id, settlement_id),
            event_id=event_id,
            settlement_id=settlement_id,
            event_type=event_type,
            occurred_at=occurred_at,
            rule_id=spec.id,
            rule_version=spec.version,
            violation=spec.violation,
            layer=spec.layer,
            stage=stage,
            action=spec.stages[event_type],  # type: ignore[index]
            severity=spec.severity,
            item_ids=item_ids,
            amount=amount,
            subject=spec.subject,
            institution_code=inst_code,
            institution_region=inst_region,
            person_id=person_id,
            insured_region=insured_region,
            assigned_region=assigned.region,
            assigned_level=assigned.level,
            notify_regions=list(assigned.notify),
            message=messages[0],
            message_en=messages[1],
            reversed=False,
            shadow=spec.mode == "shadow",
            pack_digest=rule.pack_digest,
        )


__all__ = ["Engine", "Outcome", "StatelessHit", "finding_id"]
