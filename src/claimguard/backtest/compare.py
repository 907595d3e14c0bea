"""Baseline versus candidate, rule by rule: hits, new and lost findings, amounts, verdicts.

Findings are matched by finding_id, which is deterministic (event, rule, settlement): the
same hit under both sets has the same id, so new = candidate − baseline and lost =
baseline − candidate; a hit in both whose action or amount differs is `changed`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from claimguard.backtest.run import BacktestRun
from claimguard.model import Finding


@dataclass
class RuleDelta:
    rule_id: str
    baseline_hits: int = 0
    candidate_hits: int = 0
    new: int = 0
    lost: int = 0
    changed: int = 0
    baseline_amount: float = 0.0  # CNY at risk flagged by the rule
    candidate_amount: float = 0.0
    new_amount: float = 0.0
    lost_amount: float = 0.0
    baseline_holds: int = 0
    candidate_holds: int = 0
    status: str = "same"  # same, changed, added, removed (the rule itself)
    mode: str = "live"  # the candidate's mode (shadow rules never decide)
    baseline_precision: float | None = None  # confirmed / worked, of its worked cases
    candidate_precision: float | None = None
    worked_cases: int = 0
    new_examples: list[dict[str, Any]] = field(default_factory=list)
    lost_examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.new or self.lost or self.changed or self.status != "same")

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("baseline_amount", "candidate_amount", "new_amount", "lost_amount"):
            out[key] = round(out[key], 2)
        return out


@dataclass
class Summary:
    events: int
    lead_in_events: int
    lead_in_days: int
    seconds: float
    verdict_changes: dict[str, int]  # "pass→hold": n
    baseline_findings: int
    candidate_findings: int
    baseline_digest: str
    candidate_digest: str
    start: str
    end: str
    region: str | None = None
    unreadable: int = 0
    engine_errors: int = 0
    precision_source: str | None = None  # where worked cases came from, if any
    rules_run: int = 0  # rules evaluated (those that differ, or all with --full)
    rules_unchanged: int = 0  # identical in both sets: same hits on both sides

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _example(f: Finding) -> dict[str, Any]:
    return {
        "finding_id": f.finding_id,
        "event_id": f.event_id,
        "settlement_id": f.settlement_id,
        "occurred_at": f.occurred_at.isoformat(),
        "action": f.action,
        "amount": f.amount,
        "institution_code": f.institution_code,
        "message": f.message,
    }


def _precision(ids: set[str], verdicts: dict[str, bool]) -> tuple[float | None, int]:
    worked = [verdicts[i] for i in ids if i in verdicts]
    return (round(sum(worked) / len(worked), 4) if worked else None), len(worked)


def compare(
    run: BacktestRun,
    examples: int = 5,
    worked: dict[str, bool] | None = None,  # finding_id → confirmed (True) / dismissed
) -> list[RuleDelta]:
    base, cand = run.baseline.findings, run.candidate.findings
    base_rules = {r.id: r for r in run.baseline_set.rules}
    cand_rules = {r.id: r for r in run.candidate_set.rules}
    by_rule: dict[str, tuple[set[str], set[str]]] = {
        rid: (set(), set()) for rid in sorted(set(base_rules) | set(cand_rules))
        if rid in run.differing  # the others did not run: identical on both sides
    }  # fmt: skip
    for fid, f in base.items():
        by_rule.setdefault(f.rule_id, (set(), set()))[0].add(fid)
    for fid, f in cand.items():
        by_rule.setdefault(f.rule_id, (set(), set()))[1].add(fid)
    deltas = []
    for rid, (b, c) in sorted(by_rule.items()):
        d = RuleDelta(rid, baseline_hits=len(b), candidate_hits=len(c))
        new, lost = sorted(c - b), sorted(b - c)
        d.new, d.lost = len(new), len(lost)
        d.changed = sum(
            1
            for i in b & c
            if (base[i].action, base[i].amount, base[i].shadow)
            != (cand[i].action, cand[i].amount, cand[i].shadow)
        )
        d.baseline_amount = sum(base[i].amount for i in b)
        d.candidate_amount = sum(cand[i].amount for i in c)
        d.new_amount = sum(cand[i].amount for i in new)
        d.lost_amount = sum(base[i].amount for i in lost)
        d.baseline_holds = sum(1 for i in b if base[i].action == "hold" and not base[i].shadow)
        d.candidate_holds = sum(1 for i in c if cand[i].action == "hold" and not cand[i].shadow)
        d.new_examples = [_example(cand[i]) for i in new[:examples]]
        d.lost_examples = [_example(base[i]) for i in lost[:examples]]
        old, now = base_rules.get(rid), cand_rules.get(rid)
        if old is None and now is not None:
            d.status = "added"
        elif now is None and old is not None:
            d.status = "removed"
        elif old is not None and now is not None and old.spec != now.spec:
            d.status = "changed"
        d.mode = now.spec.mode if now is not None else (old.spec.mode if old else "live")
        if worked:
            d.baseline_precision, _ = _precision(b, worked)
            d.candidate_precision, d.worked_cases = _precision(c, worked)
        deltas.append(d)
    return deltas


def summarize(run: BacktestRun, region: str | None, source: str | None) -> Summary:
    changes: Counter[str] = Counter()
    cand = run.candidate.verdicts
    for eid, verdict in run.baseline.verdicts.items():
        other = cand.get(eid, verdict)
        if other != verdict:
            changes[f"{verdict}→{other}"] += 1
    return Summary(
        events=run.events,
        lead_in_events=run.lead_in_events,
        lead_in_days=run.lead_in_days,
        seconds=round(run.seconds, 3),
        verdict_changes=dict(sorted(changes.items())),
        baseline_findings=len(run.baseline.findings),
        candidate_findings=len(run.candidate.findings),
        baseline_digest=run.baseline_set.digest,
        candidate_digest=run.candidate_set.digest,
        start=run.start.isoformat(),
        end=run.end.isoformat(),
        region=region,
        unreadable=run.unreadable,
        engine_errors=run.engine_errors,
        precision_source=source,
        rules_run=len(run.differing),
        rules_unchanged=len(
            {r.id for r in (*run.baseline_set.rules, *run.candidate_set.rules)} - run.differing
        ),
    )
