"""Reversal, redelivery, event-time order and bounded state of the patient history."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from claimguard.engine import Engine, PatientHistory
from claimguard.knowledge import load_knowledge
from claimguard.replay import ReplaySession
from helpers import default_ruleset, hits, run_events

WINDOW_CODES = {
    "OVER_FREQUENCY",
    "MULTI_INSTITUTION_SAME_DAY",
    "FREQUENT_VISITS",
    "REPEAT_PRESCRIPTION",
    "SPLIT_HOSPITALIZATION",
    "OVERLAPPING_STAY",
}


def three_institutions(reversal_at: str | None) -> list[dict]:
    events = [
        {"event_type": "settled", "settlement_id": "A", "occurred_at": "2026-03-02T08:00:00+08:00"},
        {
            "event_type": "settled",
            "settlement_id": "B",
            "occurred_at": "2026-03-02T09:00:00+08:00",
            "institution": {"code": "H32060200002"},
        },
        {
            "event_type": "settled",
            "settlement_id": "C",
            "occurred_at": "2026-03-02T10:00:00+08:00",
            "institution": {"code": "H32060200003"},
        },
    ]
    if reversal_at:
        events.append({"event_type": "reversal", "settlement_id": "C", "occurred_at": reversal_at})
    return events


def test_reversal_marks_the_settlements_flags_reversed():
    session = run_events(three_institutions("2026-03-02T12:00:00+08:00"))
    flags = [f for f in session.findings.values() if f.violation == "MULTI_INSTITUTION_SAME_DAY"]
    assert [(f.settlement_id, f.reversed) for f in flags] == [("C", True)]


def test_reversal_removes_the_settlement_from_every_window():
    events = three_institutions(None)
    events.insert(
        2,
        {
            "event_type": "reversal",
            "settlement_id": "B",
            "occurred_at": "2026-03-02T09:30:00+08:00",
        },
    )
    assert hits(run_events(events), "MULTI_INSTITUTION_SAME_DAY") == []
    events.append(
        {
            "event_type": "settled",
            "settlement_id": "D",
            "occurred_at": "2026-03-02T11:00:00+08:00",
            "institution": {"code": "H32060200002"},
        }
    )
    assert hits(run_events(events), "MULTI_INSTITUTION_SAME_DAY") == [("D", "flag")]


def test_a_reversal_without_patient_finds_its_history():
    events = three_institutions(None)
    session = run_events(events)
    outcome = session.feed(
        orjson.dumps(
            {
                "event_id": "R1",
                "event_type": "reversal",
                "settlement_id": "C",
                "occurred_at": "2026-03-02T12:00:00+08:00",
            }
        )
    )
    assert outcome is not None and outcome.reversed_settlements == ["C"]
    assert all(f.reversed for f in session.findings.values() if f.settlement_id == "C")
    assert all(r.sid != "C" for r in session.histories["P1"].records)


def test_redelivered_event_changes_nothing():
    session = run_events(three_institutions(None))
    before = dict(session.findings)
    history = session.histories["P1"].to_bytes()
    raw = orjson.dumps({**_settled_event_c(session)})
    outcome = session.feed(raw)
    assert outcome is not None and outcome.duplicate and outcome.findings == []
    assert session.findings == before
    assert session.histories["P1"].to_bytes() == history


def _settled_event_c(session: ReplaySession) -> dict:
    from claimguard.rules.casetest import build_events
    from claimguard.rules.spec import CaseSpec

    events = build_events(CaseSpec(name="x", events=three_institutions(None), hits=[]))
    return events[2]


def test_redelivered_settle_gets_no_second_decision():
    session = run_events([{"event_type": "settle", "items": [{"code": "UNKNOWN"}]}])
    from claimguard.rules.casetest import build_events
    from claimguard.rules.spec import CaseSpec

    raw = orjson.dumps(
        build_events(
            CaseSpec(
                name="x", events=[{"event_type": "settle", "items": [{"code": "UNKNOWN"}]}], hits=[]
            )
        )[0]
    )
    outcome = session.feed(raw)
    assert outcome is not None and outcome.duplicate and outcome.decision is None


def test_decision_verdicts():
    session = run_events([{"event_type": "settle", "items": [{"code": "UNKNOWN"}]}])
    assert session.counts["events"] == 1
    from claimguard.rules.casetest import build_events
    from claimguard.rules.spec import CaseSpec

    events = build_events(
        CaseSpec(
            name="x",
            hits=[],
            events=[
                {"event_type": "settle", "settlement_id": "H", "items": [{"code": "UNKNOWN"}]},
                {"event_type": "precheck", "settlement_id": "A", "visit": {"department": "A03"}},
                {"event_type": "settle", "settlement_id": "P"},
                {"event_type": "settled", "settlement_id": "S", "items": [{"code": "UNKNOWN"}]},
            ],
        )
    )
    engine = session.engine
    verdicts = {}
    for raw in events:
        from claimguard.decode import decode

        outcome = engine.process(decode(orjson.dumps(raw)), PatientHistory())
        decision = outcome.decision
        verdicts[raw["settlement_id"]] = decision.verdict if decision else None
    assert verdicts == {"H": "hold", "A": "alert", "P": "pass", "S": None}


def _window_flags(session: ReplaySession) -> set[tuple[str, str]]:
    return {
        (f.settlement_id, f.violation)
        for f in session.findings.values()
        if f.violation in WINDOW_CODES and not f.reversed
    }


def test_late_events_yield_the_in_order_flags(sample_dir: Path):
    """Cross-event codes are defined on event time: any arrival order within a patient gives
    the flags of in-order processing."""
    engine = Engine(load_knowledge(sample_dir / "knowledge"), default_ruleset())
    lines = [line for line in (sample_dir / "events.jsonl").read_bytes().splitlines() if line]
    in_order = ReplaySession(engine)
    in_order.run(lines)
    expected = _window_flags(in_order)
    assert expected, "the sample has cross-event flags"
    rng = random.Random(7)
    for _ in range(3):
        by_patient: dict[str, list[bytes]] = {}
        other: list[bytes] = []
        for line in lines:
            try:
                event = orjson.loads(line)
                key = event["patient"]["person_id"] if event["event_type"] == "settled" else None
            except (orjson.JSONDecodeError, KeyError, TypeError):
                key = None
            (by_patient.setdefault(key, []) if key else other).append(line)
        shuffled = list(other)
        for patient_lines in by_patient.values():
            rng.shuffle(patient_lines)
            shuffled.extend(patient_lines)
        late = ReplaySession(engine)
        late.run(shuffled)
        assert _window_flags(late) == expected


def test_history_round_trips_through_bytes(sample_dir: Path):
    engine = Engine(load_knowledge(sample_dir / "knowledge"), default_ruleset())
    session = ReplaySession(engine)
    session.run((sample_dir / "events.jsonl").read_bytes().splitlines())
    for history in session.histories.values():
        again = PatientHistory.from_bytes(history.to_bytes())
        assert again == history


def test_history_is_bounded_by_the_longest_window():
    events = [
        {
            "event_type": "settled",
            "settlement_id": f"S{day}",
            "occurred_at": f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T09:00:00+08:00",
            "items": [{"code": "TSVC", "kind": "service", "unit_price": 5.0}],
        }
        for day in range(0, 28 * 6, 3)
    ]
    session = run_events(events)
    history = session.histories["P1"]
    span = history.latest_day - min(r.day for r in history.records)
    assert span <= session.engine.retention_days
    assert len(history.records) < len(events) / 3
    assert len(history.seen) <= len(history.records) + 12
