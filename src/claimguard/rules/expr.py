"""A small, safe expression language for rule conditions, compiled once into Python closures.

The syntax is a subset of Python expressions: literals (also `true`, `false`, `null`), names
the scope provides, attribute access and constant subscripts on them, `and`/`or`/`not`,
comparisons (`in`, `not in`), arithmetic, `x if c else y`, list literals and calls of
whitelisted functions. Nothing else parses: no comprehensions, lambdas, method calls,
keyword arguments or names starting with `_`, so a pack can never run arbitrary code.

Null propagates: an attribute of null is null, arithmetic with null is null, and an ordering
comparison with null is false. That lets a rule say `ref.max_unit_price` without guarding.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Env = dict[str, Any]
Compiled = Callable[[Env], Any]


class ExprError(ValueError):
    """An expression that does not compile; `col` is 1-based within the expression."""

    def __init__(self, message: str, col: int = 0) -> None:
        super().__init__(message)
        self.col = col


@dataclass(frozen=True)
class Function:
    impl: Callable[..., Any]
    needs_env: bool = False  # receives the evaluation env first (e.g. to see the whole settlement)
    arity: tuple[int, int] = (0, 8)


CONSTANTS = {"true": True, "false": False, "null": None, "none": None}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def _order(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        return op(a, b)

    return compare


def _contains(a: Any, b: Any) -> bool:
    return b is not None and a in b


_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: _order(operator.lt),
    ast.LtE: _order(operator.le),
    ast.Gt: _order(operator.gt),
    ast.GtE: _order(operator.ge),
    ast.In: _contains,
    ast.NotIn: lambda a, b: not _contains(a, b),
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}


def _get_attr(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


class _Compiler:
    def __init__(
        self,
        names: Mapping[str, Any],
        functions: Mapping[str, Function],
    ) -> None:
        # names: name → a type used to check attribute chains (a pydantic model class, a
        # NamedTuple, dict for free-form mappings, or None when unchecked)
        self.names = names
        self.functions = functions

    def fail(self, node: ast.AST, message: str) -> ExprError:
        return ExprError(message, getattr(node, "col_offset", 0) + 1)

    def compile(self, node: ast.AST) -> tuple[Compiled, Any]:
        """Return the closure and the static type of the node's value (None = unknown)."""
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise self.fail(node, f"'{type(node).__name__}' is not allowed in a rule expression")
        return method(node)

    def _Expression(self, node: ast.Expression) -> tuple[Compiled, Any]:
        return self.compile(node.body)

    def _Constant(self, node: ast.Constant) -> tuple[Compiled, Any]:
        value = node.value
        if not isinstance(value, (str, int, float, bool, type(None))):
            raise self.fail(node, f"constant {value!r} is not allowed")
        return (lambda env: value), None

    def _Name(self, node: ast.Name) -> tuple[Compiled, Any]:
        name = node.id
        if name in CONSTANTS:
            value = CONSTANTS[name]
            return (lambda env: value), None
        if name.startswith("_") or name not in self.names:
            known = ", ".join(sorted(self.names))
            raise self.fail(node, f"unknown name {name!r} (known here: {known})")
        return (lambda env: env[name]), self.names[name]

    def _Attribute(self, node: ast.Attribute) -> tuple[Compiled, Any]:
        attr = node.attr
        if attr.startswith("_"):
            raise self.fail(node, f"attribute {attr!r} is not allowed")
        base, base_type = self.compile(node.value)
        value_type = _attribute_type(base_type, attr)
        if value_type is _UNKNOWN_ATTRIBUTE:
            raise self.fail(node, f"{_type_name(base_type)} has no field {attr!r}")
        return (lambda env: _get_attr(base(env), attr)), value_type

    def _Subscript(self, node: ast.Subscript) -> tuple[Compiled, Any]:
        base, _ = self.compile(node.value)
        if not isinstance(node.slice, ast.Constant) or not isinstance(node.slice.value, (int, str)):
            raise self.fail(node, "only constant subscripts are allowed, e.g. diagnoses[0]")
        key = node.slice.value

        def subscript(env: Env) -> Any:
            value = base(env)
            try:
                return value[key]
            except (IndexError, KeyError, TypeError):
                return None

        return subscript, None

    def _BoolOp(self, node: ast.BoolOp) -> tuple[Compiled, Any]:
        parts = [self.compile(v)[0] for v in node.values]
        if isinstance(node.op, ast.And):
            if len(parts) == 2:
                a, b = parts
                return (lambda env: a(env) and b(env)), None

            def all_of(env: Env) -> Any:
                result: Any = True
                for part in parts:
                    result = part(env)
                    if not result:
                        return result
                return result

            return all_of, None
        if len(parts) == 2:
            a, b = parts
            return (lambda env: a(env) or b(env)), None

        def any_of(env: Env) -> Any:
            result: Any = False
            for part in parts:
                result = part(env)
                if result:
                    return result
            return result

        return any_of, None

    def _UnaryOp(self, node: ast.UnaryOp) -> tuple[Compiled, Any]:
        operand, _ = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return (lambda env: not operand(env)), None
        if isinstance(node.op, ast.USub):
            return (lambda env: None if (v := operand(env)) is None else -v), None
        if isinstance(node.op, ast.UAdd):
            return operand, None
        raise self.fail(node, "only 'not', '-' and '+' are allowed as unary operators")

    def _BinOp(self, node: ast.BinOp) -> tuple[Compiled, Any]:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        left, _ = self.compile(node.left)
        right, _ = self.compile(node.right)

        def binop(env: Env) -> Any:
            a, b = left(env), right(env)
            if a is None or b is None:
                return None
            try:
                return op(a, b)
            except ZeroDivisionError:
                return None

        return binop, None

    def _Compare(self, node: ast.Compare) -> tuple[Compiled, Any]:
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.Is, ast.IsNot)) and not (
                (isinstance(comparator, ast.Name) and comparator.id in ("null", "none"))
                or (isinstance(comparator, ast.Constant) and comparator.value is None)
            ):
                raise self.fail(node, "'is' compares only with null; use '=='")
        first, _ = self.compile(node.left)
        rest = [
            (_CMPOPS[type(op)], self.compile(c)[0])
            for op, c in zip(node.ops, node.comparators, strict=True)
        ]
        if len(rest) == 1:
            ((op, right),) = rest
            return (lambda env: op(first(env), right(env))), None

        def chain(env: Env) -> bool:
            a = first(env)
            for op, right in rest:
                b = right(env)
                if not op(a, b):
                    return False
                a = b
            return True

        return chain, None

    def _IfExp(self, node: ast.IfExp) -> tuple[Compiled, Any]:
        test, _ = self.compile(node.test)
        body, _ = self.compile(node.body)
        orelse, _ = self.compile(node.orelse)
        return (lambda env: body(env) if test(env) else orelse(env)), None

    def _List(self, node: ast.List | ast.Tuple) -> tuple[Compiled, Any]:
        elements = [self.compile(e)[0] for e in node.elts]
        return (lambda env: [e(env) for e in elements]), None

    _Tuple = _List

    def _Call(self, node: ast.Call) -> tuple[Compiled, Any]:
        if not isinstance(node.func, ast.Name) or node.func.id not in self.functions:
            known = ", ".join(sorted(self.functions))
            raise self.fail(node, f"only these functions may be called: {known}")
        if node.keywords:
            raise self.fail(node, "keyword arguments are not allowed")
        name = node.func.id
        fn = self.functions[name]
        low, high = fn.arity
        if not low <= len(node.args) <= high:
            raise self.fail(node, f"{name}() takes {low}..{high} arguments, got {len(node.args)}")
        args = [self.compile(a)[0] for a in node.args]
        impl = fn.impl
        if fn.needs_env:
            return (lambda env: impl(env, *[a(env) for a in args])), None
        if len(args) == 1:
            (only,) = args
            return (lambda env: impl(only(env))), None
        return (lambda env: impl(*[a(env) for a in args])), None


_UNKNOWN_ATTRIBUTE = object()


def _type_name(t: Any) -> str:
    return getattr(t, "__name__", str(t))


def _attribute_type(base_type: Any, attr: str) -> Any:
    """Static check of `base.attr`: the field's type, None when unknown, or _UNKNOWN_ATTRIBUTE."""
    if base_type is None or base_type is dict:
        return None
    fields = getattr(base_type, "model_fields", None)
    if fields is not None:
        if attr in fields:
            return _model_of(fields[attr].annotation)
        if isinstance(getattr(base_type, attr, None), property):
            return None
        return _UNKNOWN_ATTRIBUTE
    named = getattr(base_type, "_fields", None)
    if named is not None:
        return None if attr in named else _UNKNOWN_ATTRIBUTE
    return None


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside an annotation like `Visit | None`, if any."""
    if hasattr(annotation, "model_fields"):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if hasattr(arg, "model_fields"):
            return arg
    return None


def compile_expr(
    source: str, names: Mapping[str, Any], functions: Mapping[str, Function]
) -> Compiled:
    """Compile `source` once; the closure takes the evaluation env (a dict of the names)."""
    if not isinstance(source, str) or not source.strip():
        raise ExprError("an expression must be a non-empty string")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"syntax error: {exc.msg}", exc.offset or 0) from None
    closure, _ = _Compiler(names, functions).compile(tree)
    return closure


def compile_template(
    template: str, names: Mapping[str, Any], functions: Mapping[str, Function]
) -> Callable[[Env], str]:
    """A message template: text with `{expression}` placeholders (`{{`/`}}` for braces)."""
    pieces: list[Callable[[Env], str] | str] = []
    text, i = [], 0
    while i < len(template):
        ch = template[i]
        if ch in "{}" and template[i : i + 2] in ("{{", "}}"):
            text.append(ch)
            i += 2
            continue
        if ch == "}":
            raise ExprError("unmatched '}' in template", i + 1)
        if ch == "{":
            end = template.find("}", i)
            if end < 0:
                raise ExprError("unclosed '{' in template", i + 1)
            if text:
                pieces.append("".join(text))
                text = []
            expr = compile_expr(template[i + 1 : end], names, functions)
            pieces.append(lambda env, expr=expr: _render(expr(env)))
            i = end + 1
            continue
        text.append(ch)
        i += 1
    if text:
        pieces.append("".join(text))

    def render(env: Env) -> str:
        return "".join(p if isinstance(p, str) else p(env) for p in pieces)

    return render


def _render(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    if isinstance(value, (list, tuple)):
        return "|".join(_render(v) for v in value)
    return str(value)
