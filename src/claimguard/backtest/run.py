"""Replay a window of archived events through two rule sets side by side.

Both sides share the knowledge base, the engine and the event stream (each event decoded
once); each keeps its own patient histories, warmed from a lead-in before the window as
long as the longer of the two sets' windows needs (their `retention_days`). Findings are
counted for events inside the window only; the lead-in only builds history.

A rule's findings depend only on the rule, the event and the patient's history, so rules
that are the same in both sets (and whose overrides did not change) give the same findings
on both sides: the candidate side runs only the rules that differ, and borrows the others'
findings and verdict contributions from the baseline. That halves the work of a typical
change (one rule moved); `full=True` runs both sets whole."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from claimguard.decode import DecodeError, decode_with_digest
from claimguard.engine import Engine, MemoryHistories, Outcome, PatientHistory
from claimguard.knowledge import KnowledgeBase
from claimguard.model import Event, Finding, verdict_of
from claimguard.routing import Router
from claimguard.rules import RuleSet


@dataclass
class Side:
    """One rule set's run: its engine, histories and the findings of the window."""

    engine: Engine
    histories: MemoryHistories = field(default_factory=MemoryHistories)
    owners: dict[str, str] = field(default_factory=dict)  # settlement_id → person_id
    findings: dict[str, Finding] = field(default_factory=dict)
    by_settlement: dict[str, list[str]] = field(default_factory=dict)
    # precheck/settle event_id → verdict, window only
    verdicts: dict[str, str] = field(default_factory=dict)

    def feed(self, event: Event, digest: str, counting: bool) -> Outcome | None:
        engine = self.engine
        person = engine.person_of(event) or self.owners.get(event.settlement_id)
        if person is not None:
            self.owners.setdefault(event.settlement_id, person)
            history = self.histories.get(person)
        else:
            history = PatientHistory()
        outcome = engine.process(event, history, digest)
        for sid in outcome.reversed_settlements:
            for fid in self.by_settlement.get(sid, ()):
                if self.findings[fid].action == "flag":
                    self.findings[fid].reversed = True
        if not counting or outcome.duplicate or outcome.refused:
            return None
        for finding in outcome.findings:
            if finding.finding_id not in self.findings:
                self.findings[finding.finding_id] = finding
                self.by_settlement.setdefault(finding.settlement_id, []).append(finding.finding_id)
        decision = outcome.decision
        if decision is not None:
            self.verdicts[decision.event_id] = decision.verdict
        return outcome


@dataclass
class BacktestRun:
    baseline: Side
    candidate: Side
    start: dt.datetime
    end: dt.datetime
    lead_in_days: int
    baseline_set: RuleSet = field(default_factory=RuleSet)
    candidate_set: RuleSet = field(default_factory=RuleSet)
    differing: frozenset[str] = frozenset()  # rule ids the candidate side ran
    events: int = 0  # in the window
    lead_in_events: int = 0
    unreadable: int = 0
    engine_errors: int = 0
    seconds: float = 0.0


def lead_in_days(baseline: RuleSet, candidate: RuleSet) -> int:
    return max(baseline.retention_days, candidate.retention_days)


def differing_rules(baseline: RuleSet, candidate: RuleSet) -> frozenset[str]:
    """Ids of rules that may hit differently: added, removed or changed, closed over
    `overrides` (a changed rule switches off, or is switched off by, its partners)."""
    base = {r.id: r for r in baseline.rules}
    cand = {r.id: r for r in candidate.rules}
    ids = {i for i in base.keys() | cand.keys() if i not in base or i not in cand
           or base[i].spec != cand[i].spec}  # fmt: skip
    rules = [*baseline.rules, *candidate.rules]
    grown = True
    while grown:
        grown = False
        for r in rules:
            target = r.spec.overrides
            if target and (r.id in ids) != (target in ids):
                ids.update((r.id, target))
                grown = True
    return frozenset(ids)


def run_backtest(
    kb: KnowledgeBase,
    baseline: RuleSet,
    candidate: RuleSet,
    events: Iterable[tuple[dt.datetime, bytes]],
    start: dt.datetime,
    end: dt.datetime,
    full: bool = False,
) -> BacktestRun:
    """`events`: (occurred_at, raw JSON) in event order from the lead-in start to `end`."""
    import time

    router = Router.from_knowledge(kb)
    differing = differing_rules(baseline, candidate)
    partial = not full and len(differing) < len(candidate.rules)
    cand_rules = (
        RuleSet([r for r in candidate.rules if r.id in differing], candidate.digest)
        if partial
        else candidate
    )
    run = BacktestRun(
        Side(Engine(kb, baseline, router)),
        Side(Engine(kb, cand_rules, router)),
        start,
        end,
        lead_in_days(baseline, candidate),
        baseline_set=baseline,
        candidate_set=candidate,
        differing=differing,
    )
    started = time.perf_counter()
    base_side, cand_side = run.baseline, run.candidate
    for occurred, raw in events:
        try:
            event, digest = decode_with_digest(raw)
        except DecodeError:  # archived events were valid; a later schema may disagree
            run.unreadable += 1
            continue
        counting = occurred >= start
        if counting:
            run.events += 1
        else:
            run.lead_in_events += 1
        outcomes = []
        for side in (base_side, cand_side):
            try:
                outcomes.append(side.feed(event, digest, counting))
            except Exception:  # one event must not end the report; it is counted
                run.engine_errors += 1
                outcomes.append(None)
        base_out, cand_out = outcomes
        if partial and base_out is not None:
            decision = base_out.decision
            if decision is not None:
                own = [f for f in decision.findings if f.rule_id not in differing]
                if cand_out is not None and cand_out.decision is not None:
                    own += cand_out.decision.findings
                cand_side.verdicts[decision.event_id] = verdict_of(own)
    if partial:  # the unchanged rules' findings are the baseline's
        for fid, finding in base_side.findings.items():
            if finding.rule_id not in differing:
                cand_side.findings.setdefault(fid, finding)
    run.seconds = time.perf_counter() - started
    return run
