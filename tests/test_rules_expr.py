"""The rule expression language: what compiles, what is refused, and null semantics."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimguard.model import ItemRow
from claimguard.rules.compiled import ITEM_NAMES
from claimguard.rules.expr import ExprError, compile_expr, compile_template
from claimguard.rules.functions import FUNCTIONS, age_on, over


def ev(source: str, **env):
    return compile_expr(source, {k: None for k in env} | {"ref": ItemRow}, FUNCTIONS)(env)


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os')",
        "ref.__class__",
        "ref._private",
        "open('x')",
        "ref.model_dump()",
        "[x for x in y]",
        "lambda: 1",
        "f(x=1)",
        "a := 1",
        "x ** 2",
        "unknown_name",
        "ref.no_such_field",
        "len(1, 2)",
        "x is 3",
    ],
)
def test_refused(source: str):
    with pytest.raises(ExprError):
        compile_expr(source, {"x": None, "y": None, "ref": ItemRow}, FUNCTIONS)


def test_error_carries_a_column():
    with pytest.raises(ExprError) as info:
        compile_expr("x and nope", {"x": None}, FUNCTIONS)
    assert info.value.col == 7 and "nope" in str(info.value)


@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        ("a.b > 3", {"a": None}, False),  # attribute of null is null; ordering with null false
        ("a < 3", {"a": None}, False),
        ("a + 1", {"a": None}, None),
        ("a == null", {"a": None}, True),
        ("'x' in a", {"a": None}, False),
        ("'x' not in a", {"a": None}, True),
        ("1 < a <= 3", {"a": 3}, True),
        ("a / 0", {"a": 1}, None),
        ("a[0]", {"a": ["J06"]}, "J06"),
        ("a[5]", {"a": ["J06"]}, None),
        ("x if a else y", {"a": 0, "x": 1, "y": 2}, 2),
        ("a and b or c", {"a": 1, "b": 0, "c": "z"}, "z"),
        ("not a", {"a": []}, True),
        ("[a, 1]", {"a": 2}, [2, 1]),
        ("startswith_any(a, ['E11', 'E13'])", {"a": ["J06", "E13.1"]}, True),
    ],
)
def test_semantics(source: str, env: dict, expected: object):
    assert ev(source, **env) == expected


def test_attribute_chains_are_checked_against_the_models():
    compile_expr("item.code == ref.code and patient.birth_date", ITEM_NAMES, FUNCTIONS)
    with pytest.raises(ExprError, match="Patient has no field 'birthday'"):
        compile_expr("patient.birthday", ITEM_NAMES, FUNCTIONS)


def test_template_renders_expressions_and_escapes_braces():
    render = compile_template("{{code}} {a} costs {b}", {"a": None, "b": None}, FUNCTIONS)
    assert render({"a": "X", "b": 2.50}) == "{code} X costs 2.5"
    assert render({"a": None, "b": 3.0}) == "{code} - costs 3"


@given(st.dates(min_value=dt.date(1900, 1, 1)), st.dates(min_value=dt.date(1900, 1, 1)))
def test_age_matches_the_birthday_rule(birth: dt.date, day: dt.date):
    age = age_on(birth, day)
    assert age is not None
    try:
        birthday = birth.replace(year=day.year)
    except ValueError:  # 29 February in a common year: the birthday falls on 1 March
        birthday = dt.date(day.year, 3, 1)
    assert age == day.year - birth.year - (day < birthday)


@given(
    st.decimals(min_value=0, max_value=10_000, places=2),
    st.decimals(min_value=0, max_value=10_000, places=2),
)
def test_over_is_exact_on_cents(price, cap):
    """A price within cap + 0.005 never fires, whatever binary floating point does."""
    assert over(float(price), float(cap), 0.005) == (price > cap)
