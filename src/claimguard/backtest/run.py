"""Replay a window of archived events through two rule sets side by side.

Both sides share the knowledge base, the engine and the event stream (each event decoded
once); each keeps its own patient histories, warmed from a lead-in before the window as
long as the longer of the two sets' windows needs (their `retention_days`). Findings are
counted for events inside the window only; the lead-in only builds history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from claimguard.decode import DecodeError, decode_with_digest
from claimguard.engine import Engine, MemoryHistories, PatientHistory
from claimguard.knowledge import KnowledgeBase
from claimguard.model import Event, Finding
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

    def feed(self, event: Event, digest: str, counting: bool) -> None:
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
            return
        for finding in outcome.findings:
            if finding.finding_id not in self.findings:
                self.findings[finding.finding_id] = finding
                self.by_settlement.setdefault(finding.settlement_id, []).append(finding.finding_id)
        decision = outcome.decision
        if decision is not None:
            self.verdicts[decision.event_id] = decision.verdict


@dataclass
class BacktestRun:
    baseline: Side
    candidate: Side
    start: dt.datetime
    end: dt.datetime
    lead_in_days: int
    events: int = 0  # in the window
    lead_in_events: int = 0
    unreadable: int = 0
    engine_errors: int = 0
    seconds: float = 0.0


def lead_in_days(baseline: RuleSet, candidate: RuleSet) -> int:
    return max(baseline.retention_days, candidate.retention_days)


def run_backtest(
    kb: KnowledgeBase,
    baseline: RuleSet,
    candidate: RuleSet,
    events: Iterable[tuple[dt.datetime, bytes]],
    start: dt.datetime,
    end: dt.datetime,
) -> BacktestRun:
    """`events`: (occurred_at, raw JSON) in event order from the lead-in start to `end`."""
    import time

    router = Router.from_knowledge(kb)
    run = BacktestRun(
        Side(Engine(kb, baseline, router)),
        Side(Engine(kb, candidate, router)),
        start,
        end,
        lead_in_days(baseline, candidate),
    )
    started = time.perf_counter()
    sides = (run.baseline, run.candidate)
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
        for side in sides:
            try:
                side.feed(event, digest, counting)
            except Exception:  # one event must not end the report; it is counted
                run.engine_errors += 1
    run.seconds = time.perf_counter() - started
    return run
