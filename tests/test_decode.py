"""The decoder never crashes: arbitrary bytes or JSON become an Event or a DecodeError."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimguard.decode import DecodeError, decode
from claimguard.model import Event
from claimguard.rules.casetest import build_events
from claimguard.rules.spec import CaseSpec

VALID = build_events(CaseSpec(name="v", events=[{"event_type": "settle"}], hits=[]))[0]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


def _dumps(value: object) -> bytes:
    # the stdlib encoder: it also writes integers beyond 64 bits, which the decoder must refuse
    return json.dumps(value).encode()


def _decodes_or_refuses(raw: bytes) -> None:
    try:
        event = decode(raw)
    except DecodeError as exc:
        assert exc.reason, "every dead letter carries a reason"
    else:
        assert isinstance(event, Event)


@given(st.binary(max_size=2000))
def test_arbitrary_bytes(raw: bytes):
    _decodes_or_refuses(raw)


@given(json_values)
def test_arbitrary_json(value: object):
    _decodes_or_refuses(_dumps(value))


@settings(max_examples=300)
@given(st.sampled_from(sorted(VALID)), json_values)
def test_valid_event_with_one_field_replaced(field: str, value: object):
    _decodes_or_refuses(_dumps({**VALID, field: value}))


@settings(max_examples=300)
@given(
    st.sampled_from(["quantity", "unit_price", "amount", "days", "performed_at", "kind"]),
    json_values,
)
def test_valid_event_with_one_item_field_replaced(field: str, value: object):
    item = {**VALID["items"][0], field: value}
    _decodes_or_refuses(_dumps({**VALID, "items": [item]}))


def test_valid_event_decodes():
    event = decode(orjson.dumps(VALID))
    assert event.event_type == "settle" and event.items and event.items[0].code == "TBASE"


def test_unknown_fields_are_ignored():
    assert decode(orjson.dumps({**VALID, "vendor_extension": {"x": 1}})).event_id == "E0"


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"event_type": "refund"}, "event_type"),
        ({"occurred_at": "2026-03-02T09:00:00"}, "occurred_at"),  # no offset
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"patient": None}, "lacks patient"),
        ({"institution": {**VALID["institution"], "region": "32060"}}, "institution.region"),
        ({"institution": {**VALID["institution"], "level": 4}}, "institution.level"),
        ({"items": [{**VALID["items"][0], "quantity": 0}]}, "items.0.quantity"),
        ({"items": [VALID["items"][0], VALID["items"][0]]}, "not unique"),
        ({"visit": {**VALID["visit"], "visit_type": "inpatient"}}, "admitted_at"),
    ],
)
def test_each_contract_breach_names_the_field(patch: dict, reason: str):
    with pytest.raises(DecodeError) as info:
        decode(orjson.dumps({**VALID, **patch}))
    assert reason in info.value.reason


def test_reversal_needs_only_four_fields():
    event = decode(
        b'{"event_id":"R","event_type":"reversal","settlement_id":"S",'
        b'"occurred_at":"2026-03-02T09:00:00+08:00"}'
    )
    assert event.event_type == "reversal" and event.patient is None


@pytest.mark.parametrize("raw", [b"", b"null", b"[]", b"\xff\xfe", b'{"event_id": 1', b"1e999"])
def test_not_an_event(raw: bytes):
    with pytest.raises(DecodeError):
        decode(raw)
