"""Every value the decoder accepts is storable (Decimal(18, 4), DateTime64(3)) and safe to
add up; anything else is refused with a reason, never passed on to wedge the store."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimguard.decode import DecodeError, decode
from claimguard.engine import Engine, MemoryHistories
from claimguard.model.events import MAX_ITEMS
from claimguard.rules import load_packs
from claimguard.rules.casetest import build_events
from claimguard.rules.spec import CaseSpec
from claimguard.store.rows import to_row

VALID = build_events(CaseSpec(name="v", events=[{"event_type": "settle"}], hits=[]))[0]
DECIMAL_18_4 = Decimal(10) ** 14


def _item(**patch: object) -> bytes:
    return orjson.dumps({**VALID, "items": [{**VALID["items"][0], **patch}]})


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"amount": 1e15}, "items.0.amount"),
        ({"unit_price": 1e15}, "items.0.unit_price"),
        ({"quantity": 1e300}, "items.0.quantity"),
        ({"amount": "Infinity"}, "items.0.amount"),
        ({"amount": "NaN"}, "items.0.amount"),
        ({"unit_price": "12.5"}, "items.0.unit_price"),
        ({"quantity": True}, "items.0.quantity"),
        ({"days": 10**12}, "items.0.days"),
        ({"performed_at": "9999-01-01T00:00:00+08:00"}, "items.0.performed_at"),
    ],
)
def test_unstorable_or_non_numeric_values_are_refused(patch: dict, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(_item(**patch))
    assert field in info.value.reason


def test_far_times_and_too_many_items_are_refused() -> None:
    with pytest.raises(DecodeError, match="occurred_at"):
        decode(orjson.dumps({**VALID, "occurred_at": "9999-12-31T23:59:59+08:00"}))
    with pytest.raises(DecodeError, match="items"):
        many = [{**VALID["items"][0], "item_id": str(i)} for i in range(MAX_ITEMS + 1)]
        decode(orjson.dumps({**VALID, "items": many}))


money = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.integers(), st.text(max_size=8)
)


@settings(max_examples=200, deadline=None)
@given(amount=money, price=money, quantity=money, count=st.integers(1, 5))
def test_whatever_decodes_yields_storable_findings(
    amount: object, price: object, quantity: object, count: int
) -> None:
    items = [
        {
            **VALID["items"][0],
            "item_id": str(i),
            "code": "UNKNOWN",
            "amount": amount,
            "unit_price": price,
            "quantity": quantity,
        }
        for i in range(count)
    ]
    try:
        # the stdlib encoder: it also writes integers beyond 64 bits, which must be refused
        event = decode(json.dumps({**VALID, "items": items}).encode())
    except DecodeError:
        return
    outcome = _ENGINE.process(event, MemoryHistories().get("P1"))
    assert outcome.findings  # NON_COVERED_ITEM on the unknown code
    now = dt.datetime.now(dt.UTC)
    for finding in outcome.findings:
        row = to_row(finding, False, now)
        assert abs(row[list(type(finding).model_fields).index("amount")]) < DECIMAL_18_4


def _engine() -> Engine:
    from claimguard.rules.casetest import build_knowledge

    return Engine(build_knowledge(CaseSpec(name="k", events=[{}], hits=[])), load_packs())


_ENGINE = _engine()
