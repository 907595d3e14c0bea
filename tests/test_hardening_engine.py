"""A rule that raises is contained; the dedupe table cannot drop a re-driven event or hide a
changed one; a future-dated outlier cannot age a patient's history."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

import orjson
import pytest

from claimguard.decode import decode_with_digest
from claimguard.engine import Engine, MemoryHistories
from claimguard.replay import ReplaySession
from claimguard.rules import RuleSet
from claimguard.rules.casetest import build_events, build_knowledge
from claimguard.rules.spec import CaseSpec
from helpers import default_ruleset

RAISING = "policy.price-over-cap"


def _raises(env: dict[str, Any]) -> Any:
    return env["event_date"] < "2026-01-01"  # date vs str: TypeError at run time


def engine_with(ruleset: RuleSet, case: CaseSpec) -> Engine:
    return Engine(build_knowledge(case), ruleset)


def session_for(events: list[dict[str, Any]], ruleset: RuleSet | None = None) -> ReplaySession:
    case = CaseSpec(name="t", events=events, hits=[])
    session = ReplaySession(engine_with(ruleset or default_ruleset(), case))
    for number, event in enumerate(build_events(case), start=1):
        session.feed(orjson.dumps(event), number)
    return session


def raising_ruleset(rule_id: str = RAISING) -> RuleSet:
    rules = [
        dataclasses.replace(r, when=_raises) if r.id == rule_id else r
        for r in default_ruleset().rules
    ]
    return RuleSet(rules)


# Over the price cap (TBASE caps at 20), unknown doctor (out of scope) and a non-covered code.
BAD_SETTLE = {
    "event_type": "settle",
    "visit": {"doctor_code": "D000000000000"},
    "items": [{"unit_price": 50.0}, {"code": "TNOPE"}],
}


def test_a_raising_rule_is_skipped_counted_and_logged_once(caplog) -> None:
    caplog.set_level(logging.ERROR, "claimguard.engine")
    events = [BAD_SETTLE, {**BAD_SETTLE, "event_id": "E9", "settlement_id": "T9"}]
    plain = session_for(events)
    contained = session_for(events, raising_ruleset())
    assert not contained.dead_letters
    rules_plain = sorted((f.event_id, f.rule_id) for f in plain.findings.values())
    rules_contained = sorted((f.event_id, f.rule_id) for f in contained.findings.values())
    # Every other rule still decides; only the raising one is missing.
    assert rules_contained == [x for x in rules_plain if x[1] != RAISING]
    assert any(rule == RAISING for _, rule in rules_plain)
    assert contained.engine.rule_errors == {RAISING: 2}
    logged = [r for r in caplog.records if RAISING in r.getMessage()]
    assert len(logged) == 1 and "TypeError" in logged[0].getMessage()
    assert "E0" in logged[0].getMessage()  # with an example


def test_a_raising_window_or_visit_rule_is_contained() -> None:
    ruleset = raising_ruleset("norms.out-of-scope-practice")
    broken_window = [
        dataclasses.replace(r, message_zh=lambda env: 1 / 0)
        if r.id == "authenticity.multi-institution-same-day"
        else r
        for r in ruleset.rules
    ]
    events = [
        {"event_type": "settled", "settlement_id": sid, "institution": {"code": code}}
        for sid, code in (("A", "H32060200001"), ("B", "H32060200002"), ("C", "H32060200003"))
    ]
    session = session_for(events, RuleSet(broken_window))
    assert not session.dead_letters
    assert session.engine.rule_errors["authenticity.multi-institution-same-day"] == 1
    assert "authenticity.multi-institution-same-day" in session.summary()


def test_an_event_is_seen_only_after_it_was_evaluated() -> None:
    case = CaseSpec(name="t", events=[BAD_SETTLE], hits=[])
    raw = build_events(case)[0]
    event, digest = decode_with_digest(orjson.dumps(raw))
    histories = MemoryHistories()
    broken = engine_with(default_ruleset(), case)
    broken.stateless = None  # type: ignore[assignment]  # an engine failure outside rules
    with pytest.raises(AttributeError):
        broken.process(event, histories.get("P1"), digest)
    fixed = engine_with(default_ruleset(), case)
    outcome = fixed.process(event, histories.get("P1"), digest)
    assert not outcome.duplicate and outcome.findings  # re-driven after the fix: evaluated
    assert fixed.process(event, histories.get("P1"), digest).duplicate


def test_replay_dead_letters_an_engine_failure_as_such() -> None:
    case = CaseSpec(name="t", events=[BAD_SETTLE], hits=[])
    session = ReplaySession(engine_with(default_ruleset(), case))
    session.engine.stateless = None  # type: ignore[assignment]
    session.feed(orjson.dumps(build_events(case)[0]), 1)
    (dead,) = session.dead_letters
    assert dead.reason.startswith("engine error on a valid event")
    assert "engine errors 1" in session.summary()


def test_a_redelivered_event_id_with_other_content_is_reported() -> None:
    first = {"event_type": "settled", "settlement_id": "A", "event_id": "X"}
    same = dict(first)
    changed = {**first, "items": [{"unit_price": 11.0}]}
    session = session_for([first, same, changed])
    assert session.counts["duplicates"] == 1
    (dead,) = session.dead_letters
    assert dead.line == 3 and "delivered before with other content" in dead.reason
    assert session.engine.conflicting_redeliveries == 1


def test_key_order_and_spacing_do_not_make_a_redelivery_different() -> None:
    raw = build_events(CaseSpec(name="t", events=[{}], hits=[]))[0]
    reordered = orjson.dumps(dict(reversed(list(raw.items())))) + b"  "
    assert decode_with_digest(orjson.dumps(raw))[1] == decode_with_digest(reordered)[1]


def frequent_visits(day_of_outlier: str | None) -> list[dict[str, Any]]:
    days = [f"2026-03-{d:02d}T09:00:00+08:00" for d in range(2, 10)]
    events: list[dict[str, Any]] = [
        {"event_type": "settled", "settlement_id": f"S{i}", "occurred_at": t}
        for i, t in enumerate(days[:7])
    ]
    if day_of_outlier:
        events.append(
            {"event_type": "settle", "settlement_id": "TYPO", "occurred_at": day_of_outlier}
        )
        events.append(
            {"event_type": "settled", "settlement_id": "TYPO2", "occurred_at": day_of_outlier}
        )
    events.append({"event_type": "settled", "settlement_id": "S7", "occurred_at": days[7]})
    return events


def test_an_event_a_year_ahead_cannot_prune_the_history() -> None:
    clean = session_for(frequent_visits(None))
    # a year ahead of the stream and of today, whenever the test runs
    import datetime as dt

    far = (dt.date.today() + dt.timedelta(days=365)).isoformat() + "T09:00:00+08:00"
    typo = session_for(frequent_visits(far))
    flagged = {"S7"}
    assert {
        f.settlement_id for f in clean.findings.values() if f.violation == "FREQUENT_VISITS"
    } == flagged
    assert {
        f.settlement_id for f in typo.findings.values() if f.violation == "FREQUENT_VISITS"
    } == flagged
    reasons = [d.reason for d in typo.dead_letters]
    assert len(reasons) == 2 and all("days ahead of the stream" in r for r in reasons)
    history = typo.histories.get("P1")
    assert history.latest_day < 740_000 and len(history.records) == 8


def test_a_precheck_does_not_age_the_history() -> None:
    # Within the watermark bound, a precheck dated ahead must not move retention either.
    events = frequent_visits(None)
    events.insert(
        7,
        {
            "event_type": "precheck",
            "settlement_id": "P",
            "occurred_at": "2026-03-30T09:00:00+08:00",
        },
    )
    session = session_for(events)
    assert session.histories.get("P1").latest_day == build_day("2026-03-09")


def build_day(text: str) -> int:
    import datetime as dt

    return dt.date.fromisoformat(text).toordinal()


def test_a_settlement_of_ten_thousand_items_cannot_stall_the_engine() -> None:
    """Liveness, not a speed target: every rule over a settlement is linear in its items
    (a quadratic one took 85 s on such an event, long enough to lose the consumer group
    and re-read the event forever). The bound is 100 times the measured time."""
    import time

    from claimguard.decode import decode
    from claimguard.model.events import MAX_ITEMS

    n = MAX_ITEMS
    rows = [
        {
            "code": f"C{i}",
            "kind": "drug",
            "covered": "true",
            "max_unit_price": "100",
            "excludes": f"C{(i + 1) % n}",
            "max_per_day": "5",
        }
        for i in range(n)
    ]
    case = CaseSpec(name="big", events=[{}], knowledge={"items": rows}, hits=[])
    engine = engine_with(default_ruleset(), case)
    history = MemoryHistories().get("P1")
    worst = 0.0
    for k in range(2):
        patch = {
            "event_type": "settled",
            "event_id": f"E{k}",
            "settlement_id": f"S{k}",
            "occurred_at": f"2026-03-0{k + 2}T09:00:00+08:00",
            "items": [{"code": f"C{i}", "days": 30} for i in range(n)],
        }
        event = decode(orjson.dumps(build_events(CaseSpec(name="b", events=[patch], hits=[]))[0]))
        started = time.process_time()
        outcome = engine.process(event, history)
        worst = max(worst, time.process_time() - started)
        assert outcome.findings  # bundled charges, repeat dispenses: decided, not skipped
    assert not engine.rule_errors
    assert worst < 50, f"{worst:.1f} s of CPU for one settlement"


def test_a_patient_sending_only_prechecks_keeps_a_bounded_dedupe_table() -> None:
    events = [
        {
            "event_type": "precheck",
            "settlement_id": f"P{d}",
            "occurred_at": (dt.date(2026, 1, 1) + dt.timedelta(days=d)).isoformat()
            + "T09:00:00+08:00",
        }
        for d in range(0, 400, 5)
    ]
    session = session_for(events)
    history = session.histories.get("P1")
    assert history.latest_day == 0  # no settled event: the windows never aged
    assert len(history.seen) <= session.engine.retention_days // 5 + 2
