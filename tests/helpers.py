"""Small builders for tests: a valid event and a knowledge base, patched per test."""

from __future__ import annotations

from typing import Any

from claimguard.replay import ReplaySession
from claimguard.rules import RuleSet, load_packs
from claimguard.rules.casetest import replay_case
from claimguard.rules.spec import CaseSpec

_RULESET = None


def default_ruleset() -> RuleSet:
    global _RULESET
    if _RULESET is None:
        _RULESET = load_packs()
    return _RULESET


def run_events(
    events: list[dict[str, Any]], knowledge: dict[str, list[dict[str, Any]]] | None = None
) -> ReplaySession:
    """Expand event patches over the base event (as pack tests do) and replay them in order."""
    case = CaseSpec(name="t", events=events, knowledge=knowledge or {}, hits=[])
    session = replay_case(case, default_ruleset())
    assert not session.dead_letters, session.dead_letters
    return session


def hits(session: ReplaySession, violation: str) -> list[tuple[str, str]]:
    return sorted(
        (f.settlement_id, f.action)
        for f in session.findings.values()
        if f.violation == violation and not f.reversed
    )
