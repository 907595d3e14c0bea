"""Static types of rule expressions, so that `rules lint` refuses what can only fail or
mislead at run time (a date compared with a string, `institution.code + 1`, a function given
the wrong kind of argument) instead of a worker meeting it on every event.

A type is a kind name ("num", "str", "bool", "date", "datetime", "list", "null"), a model
class (a pydantic model, a NamedTuple, dict for a free-form mapping), or None: unknown, not
checked. Null is compatible with everything: it propagates (see expr.py)."""

from __future__ import annotations

import datetime as dt
import types
import typing
from typing import Any

import pydantic

NUM, STR, BOOL, DATE, DATETIME, LIST, NULL = (
    "num",
    "str",
    "bool",
    "date",
    "datetime",
    "list",
    "null",
)
KINDS = frozenset({NUM, STR, BOOL, DATE, DATETIME, LIST, NULL})
ORDERED = frozenset({NUM, STR, DATE, DATETIME})
SAME = "same"  # a function returning the type of its arguments (min, max)
_PYDANTIC_DATETIMES = (pydantic.AwareDatetime, pydantic.NaiveDatetime, pydantic.PastDatetime)


def kind_of(annotation: Any) -> Any:
    """The static type of a field annotation, None when not known."""
    if annotation is None:
        return None
    if hasattr(annotation, "model_fields") or hasattr(annotation, "_fields"):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return kind_of(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = {kind_of(a) for a in typing.get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if origin is typing.Literal:
        kinds = {value_kind(v) for v in typing.get_args(annotation)}
        return kinds.pop() if len(kinds) == 1 else None
    if origin in (list, tuple) or annotation in (list, tuple):
        return LIST
    if annotation is dict or origin is dict:
        return dict
    if annotation in _PYDANTIC_DATETIMES:
        return DATETIME
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return BOOL
        if issubclass(annotation, (int, float)):
            return NUM
        if issubclass(annotation, str):
            return STR
        if issubclass(annotation, dt.datetime):
            return DATETIME
        if issubclass(annotation, dt.date):
            return DATE
    return None


def value_kind(value: Any) -> Any:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUM
    if isinstance(value, str):
        return STR
    if isinstance(value, dt.datetime):
        return DATETIME
    if isinstance(value, dt.date):
        return DATE
    if isinstance(value, (list, tuple)):
        return LIST
    if isinstance(value, dict):
        return dict
    return None


def name_of(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def known(kind: Any) -> bool:
    """A type worth checking: known and not null (null fits everywhere)."""
    return kind is not None and kind != NULL


def binop_result(op: str, left: Any, right: Any) -> tuple[Any, str | None]:
    """(result type, problem) of `left op right`; op is '+', '-', '*', '/', '//' or '%'."""
    if not (known(left) and known(right)):
        for side in (left, right):
            if known(side) and side != NUM and (op != "+" or side != STR):
                return None, f"'{op}' needs numbers, not {name_of(side)}"
        return (NUM if NUM in (left, right) and op != "+" else None), None
    if left == right == NUM:
        return NUM, None
    if op == "+" and left == right == STR:
        return STR, None
    return None, f"cannot apply '{op}' to {name_of(left)} and {name_of(right)}"


def compare_problem(op: str, left: Any, right: Any) -> str | None:
    """Why `left op right` can only fail or be constant, if it can."""
    if op in ("in", "not in"):
        if known(right) and right not in (LIST, STR, dict):
            return f"'{op}' needs a list or text on the right, not {name_of(right)}"
        if right == STR and known(left) and left != STR:
            return f"'{op}' text needs text on the left, not {name_of(left)}"
        return None
    if op in ("<", "<=", ">", ">=") and known(left) and left == right and left not in ORDERED:
        return f"{name_of(left)} values have no order"
    if op in ("is", "is not") or not (known(left) and known(right)) or left == right:
        return None
    if op in ("==", "!="):
        return f"{name_of(left)} is never equal to {name_of(right)}"
    return f"cannot order {name_of(left)} against {name_of(right)}"


def argument_problem(
    name: str, position: int, allowed: frozenset[Any] | None, got: Any
) -> str | None:
    if allowed is None or not known(got) or got in allowed:
        return None
    if isinstance(got, type) and any(isinstance(a, type) and issubclass(got, a) for a in allowed):
        return None
    wanted = " or ".join(sorted(name_of(a) for a in allowed))
    return f"{name}() argument {position} must be {wanted}, not {name_of(got)}"
