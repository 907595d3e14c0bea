"""Replay a window of archived events through two rule sets side by side.

Both sides share the knowledge base, the engine and the event stream (each event decoded
once); each keeps its own patient histories, warmed from a lead-in before the window as
long as the longer of the two sets' windows needs (their `retention_days`). Findings are
counted for events inside the window only; the lead-in only builds history.

A rule's findings depend only on the rule, the event and the patient's history (its
settled records, which no rule changes, and its own flags), so rules that are the same in
both sets (and whose overrides did not change) give the same findings on both sides: by
default only the rules that differ run, on both sides (see run_backtest)."""

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

CHECKS = ("precheck", "settle")  # the events that get a decision


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
    last_history: PatientHistory = field(default_factory=PatientHistory)
    last_own: list[Finding] | None = None  # a counted check's own live findings

    def feed(self, event: Event, digest: str, counting: bool) -> Outcome | None:
        engine = self.engine
        person = engine.person_of(event) or self.owners.get(event.settlement_id)
        if person is not None:
            self.owners.setdefault(event.settlement_id, person)
            history = self.histories.get(person)
        else:
            history = PatientHistory()
        self.last_history = history
        outcome = engine.process(event, history, digest)
        for sid in outcome.reversed_settlements:
            for fid in self.by_settlement.get(sid, ()):
                if self.findings[fid].action == "flag":
                    self.findings[fid].reversed = True
        self.last_own = None
        if not counting or outcome.duplicate or outcome.refused:
            return None
        for finding in outcome.findings:
            if finding.finding_id not in self.findings:
                self.findings[finding.finding_id] = finding
                self.by_settlement.setdefault(finding.settlement_id, []).append(finding.finding_id)
        if event.event_type in CHECKS:  # outcome.decision would validate a whole Decision
            eid = event.event_id
            own = [f for f in outcome.findings if f.event_id == eid and not f.shadow]
            self.verdicts[eid] = verdict_of(own)
            self.last_own = own
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
    """`events`: (occurred_at, raw JSON) in event order from the lead-in start to `end`.

    By default both sides run only the rules that differ: the others hit identically on
    both. A verdict can change only where the differing rules' verdicts differ; there
    (rarely) the unchanged rules' own findings on the event are evaluated once, without
    touching any history, to know the event's true verdict on each side. `full=True`
    runs both sets whole and also counts the unchanged rules' hits."""
    import time

    router = Router.from_knowledge(kb)
    differing = differing_rules(baseline, candidate)
    partial = not full

    def subset(rules: RuleSet, keep: bool) -> RuleSet:
        return RuleSet([r for r in rules.rules if (r.id in differing) == keep], rules.digest)

    run = BacktestRun(
        Side(Engine(kb, subset(baseline, True) if partial else baseline, router)),
        Side(Engine(kb, subset(candidate, True) if partial else candidate, router)),
        start,
        end,
        lead_in_days(baseline, candidate),
        baseline_set=baseline,
        candidate_set=candidate,
        differing=differing if partial else frozenset(r.id for r in (*baseline.rules,
                                                                     *candidate.rules)),
    )  # fmt: skip
    rest = Engine(kb, subset(baseline, False), router) if partial else None
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
        try:
            base_out = base_side.feed(event, digest, counting)
            cand_out = cand_side.feed(event, digest, counting)
        except Exception:  # one event must not end the report; it is counted
            run.engine_errors += 1
            continue
        if rest is None or base_out is None or cand_out is None:
            continue
        b, c = base_side.last_own, cand_side.last_own
        if b is None or c is None or verdict_of(b) == verdict_of(c):
            continue
        try:
            others = _own_findings(rest, event, base_side.last_history)
        except Exception:
            run.engine_errors += 1
            continue
        base_side.verdicts[event.event_id] = verdict_of([*b, *others])
        cand_side.verdicts[event.event_id] = verdict_of([*c, *others])
    run.seconds = time.perf_counter() - started
    return run


def _own_findings(engine: Engine, event: Event, history: PatientHistory) -> list[Finding]:
    """What `engine`'s rules find on a precheck/settle event itself, reading the patient's
    settled history but changing nothing (such events never enter the history)."""
    found = list(engine._stateless(event))
    found.extend(engine._pre_settlement_windows(event, history))
    return [f for f in found if f.event_id == event.event_id]
