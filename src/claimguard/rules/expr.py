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
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from claimguard.rules import types as T

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
    # Static types (see `claimguard.rules.types`) each argument may have, by position; the
    # last entry covers any further arguments. None: not checked.
    args: tuple[frozenset[Any] | None, ...] = ()
    returns: Any = None  # the static type of the result; "same" = that of the arguments


# Bounds on what a pack may ask of the engine: the size of an expression, the depth of its
# tree (a 200-term sum would nest the generated code past what Python compiles) and the work
# an operator may do at run time (no string repetition or formatting: arithmetic is numeric).
MAX_SOURCE = 2_000
MAX_NODES = 400
MAX_DEPTH = 40
MAX_TEXT = 10_000  # characters a string concatenation may produce


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


_IS_MAPPING: dict[type, bool] = {}


def _get_attr(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    # isinstance against the Mapping ABC is slow on the hot path; the answer per type is fixed.
    cls = type(obj)
    mapping = _IS_MAPPING.get(cls)
    if mapping is None:
        mapping = _IS_MAPPING[cls] = isinstance(obj, Mapping)
    if mapping:
        return obj.get(name)
    return getattr(obj, name, None)


def _subscript(value: Any, key: Any) -> Any:
    try:
        return value[key]
    except (IndexError, KeyError, TypeError):
        return None


_NUMBERS = (int, float)


def _binop(op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta not in _NUMBERS or tb not in _NUMBERS:
        return _other_binop(op, a, b)
    try:
        return op(a, b)
    except ZeroDivisionError:
        return None


def _other_binop(op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """Arithmetic is numeric; the one exception, text + text, is bounded in size."""
    if op is operator.add and isinstance(a, str) and isinstance(b, str):
        if len(a) + len(b) > MAX_TEXT:
            raise ValueError(f"text longer than {MAX_TEXT} characters")
        return a + b
    raise TypeError(
        f"unsupported operand types for {op.__name__}: {type(a).__name__} and {type(b).__name__}"
    )


def _negate(value: Any) -> Any:
    if value is None:
        return None
    if type(value) not in _NUMBERS:
        raise TypeError(f"bad operand type for unary -: {type(value).__name__}")
    return -value


def _chain(first: Any, ops: tuple[Any, ...], rights: tuple[Callable[[], Any], ...]) -> bool:
    """`a < b <= c`: each comparator is evaluated only while the chain still holds."""
    a = first
    for op, right in zip(ops, rights, strict=True):
        b = right()
        if not op(a, b):
            return False
        a = b
    return True


# Comparisons whose Python operator already has the language's meaning are emitted inline.
_INLINE_CMP: dict[type, str] = {ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not"}

# Helpers the generated code may call; nothing else is reachable from it (no builtins).
_HELPERS: dict[str, Any] = {
    "_attr": _get_attr,
    "_sub": _subscript,
    "_bin": _binop,
    "_neg": _negate,
    "_chain": _chain,
    "_in": _contains,
    "_type": type,
    "_getattr": getattr,
}


class _Compiler:
    """Checks the parsed expression against the whitelist and the names' types, and emits the
    source of one Python expression over `env`. The whole rule condition then runs as a single
    function instead of a tree of closures (several times fewer calls per evaluation).

    Only whitelisted node kinds are emitted; names and attributes appear as `repr` strings and
    every constant, function and operator is bound by a generated `_k…` name, so the emitted
    code can reach nothing but the env, those bindings and `_HELPERS`.
    """

    def __init__(
        self,
        names: Mapping[str, Any],
        functions: Mapping[str, Function],
    ) -> None:
        # names: name → a type used to check attribute chains (a pydantic model class, a
        # NamedTuple, dict for free-form mappings, or None when unchecked)
        self.names = names
        self.functions = functions
        self.bindings: dict[str, Any] = {}
        self.temps = 0

    def bind(self, value: Any) -> str:
        key = f"_k{len(self.bindings)}"
        self.bindings[key] = value
        return key

    def fail(self, node: ast.AST, message: str) -> ExprError:
        return ExprError(message, getattr(node, "col_offset", 0) + 1)

    def compile(self, node: ast.AST) -> tuple[str, Any]:
        """Return the Python source of the node and the static type of its value (None =
        unknown)."""
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise self.fail(node, f"'{type(node).__name__}' is not allowed in a rule expression")
        return method(node)

    def _Expression(self, node: ast.Expression) -> tuple[str, Any]:
        return self.compile(node.body)

    def _Constant(self, node: ast.Constant) -> tuple[str, Any]:
        value = node.value
        if not isinstance(value, (str, int, float, bool, type(None))):
            raise self.fail(node, f"constant {value!r} is not allowed")
        return self.bind(value), T.value_kind(value)

    def _Name(self, node: ast.Name) -> tuple[str, Any]:
        name = node.id
        if name in CONSTANTS:
            return self.bind(CONSTANTS[name]), T.value_kind(CONSTANTS[name])
        if name.startswith("_") or name not in self.names:
            known = ", ".join(sorted(self.names))
            raise self.fail(node, f"unknown name {name!r} (known here: {known})")
        return f"env[{name!r}]", self.names[name]

    def _Attribute(self, node: ast.Attribute) -> tuple[str, Any]:
        attr = node.attr
        if attr.startswith("_"):
            raise self.fail(node, f"attribute {attr!r} is not allowed")
        base, base_type = self.compile(node.value)
        value_type = _attribute_type(base_type, attr)
        if value_type is _UNKNOWN_ATTRIBUTE:
            raise self.fail(node, f"{_type_name(base_type)} has no field {attr!r}")
        if isinstance(base_type, ParamsType):
            base_type = dict  # a plain dict at run time
        if not isinstance(base_type, type) or (
            base_type is not dict and issubclass(base_type, Mapping)
        ):
            return f"_attr({base}, {attr!r})", value_type
        # Inline `_get_attr` for a value of exactly the declared type (a dict, a model or a
        # NamedTuple, none of them a Mapping but dict); anything else takes `_get_attr` itself.
        t = f"_t{self.temps}"
        self.temps += 1
        fast = f"{t}.get({attr!r})" if base_type is dict else f"_getattr({t}, {attr!r}, None)"
        return (
            f"(None if ({t} := {base}) is None else {fast} if _type({t}) is "
            f"{self.bind(base_type)} else _attr({t}, {attr!r}))",
            value_type,
        )

    def _Subscript(self, node: ast.Subscript) -> tuple[str, Any]:
        base, base_type = self.compile(node.value)
        if T.known(base_type) and base_type not in (T.LIST, T.STR, dict):
            raise self.fail(node, f"{T.name_of(base_type)} cannot be subscripted")
        if not isinstance(node.slice, ast.Constant) or not isinstance(node.slice.value, (int, str)):
            raise self.fail(node, "only constant subscripts are allowed, e.g. diagnoses[0]")
        return f"_sub({base}, {self.bind(node.slice.value)})", None

    def _BoolOp(self, node: ast.BoolOp) -> tuple[str, Any]:
        # Python's and/or already return the deciding operand, as the language specifies.
        compiled = [self.compile(v) for v in node.values]
        joiner = " and " if isinstance(node.op, ast.And) else " or "
        kinds = {kind for _, kind in compiled}
        return f"({joiner.join(p for p, _ in compiled)})", kinds.pop() if len(kinds) == 1 else None

    def _UnaryOp(self, node: ast.UnaryOp) -> tuple[str, Any]:
        operand, kind = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return f"(not {operand})", T.BOOL
        if T.known(kind) and kind != T.NUM:
            raise self.fail(node, f"a sign needs a number, not {T.name_of(kind)}")
        if isinstance(node.op, ast.USub):
            return f"_neg({operand})", kind
        if isinstance(node.op, ast.UAdd):
            return operand, kind
        raise self.fail(node, "only 'not', '-' and '+' are allowed as unary operators")

    def _BinOp(self, node: ast.BinOp) -> tuple[str, Any]:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        left, left_kind = self.compile(node.left)
        right, right_kind = self.compile(node.right)
        kind, problem = T.binop_result(_OP_SYMBOLS[type(node.op)], left_kind, right_kind)
        if problem:
            raise self.fail(node, problem)
        return f"_bin({self.bind(op)}, {left}, {right})", kind

    def _Compare(self, node: ast.Compare) -> tuple[str, Any]:
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.Is, ast.IsNot)) and not _is_null(comparator):
                raise self.fail(node, "'is' compares only with null; use '=='")
        first, first_kind = self.compile(node.left)
        compiled = [self.compile(c) for c in node.comparators]
        rest = [source for source, _ in compiled]
        left_kind = first_kind
        for op, (_, right_kind) in zip(node.ops, compiled, strict=True):
            problem = T.compare_problem(_CMP_SYMBOLS[type(op)], left_kind, right_kind)
            if problem:
                raise self.fail(node, problem)
            left_kind = right_kind
        if len(rest) == 1:
            op_type, right = type(node.ops[0]), rest[0]
            if op_type in (ast.Eq, ast.NotEq) and _is_null(node.comparators[0]):
                # `x == null` asks whether x is null: an identity test, with no call into a
                # model's __eq__ (every value an env holds compares equal to None only if None)
                return f"({first} {'is' if op_type is ast.Eq else 'is not'} None)", T.BOOL
            if op_type in _INLINE_CMP:
                return f"({first} {_INLINE_CMP[op_type]} {right})", T.BOOL
            if op_type is ast.In:
                return f"_in({first}, {right})", T.BOOL
            if op_type is ast.NotIn:
                return f"(not _in({first}, {right}))", T.BOOL
            return f"{self.bind(_CMPOPS[op_type])}({first}, {right})", T.BOOL
        ops = self.bind(tuple(_CMPOPS[type(op)] for op in node.ops))
        thunks = ", ".join(f"lambda: {r}" for r in rest)
        return f"_chain({first}, {ops}, ({thunks},))", T.BOOL

    def _IfExp(self, node: ast.IfExp) -> tuple[str, Any]:
        test, _ = self.compile(node.test)
        body, body_kind = self.compile(node.body)
        orelse, else_kind = self.compile(node.orelse)
        kind = body_kind if body_kind == else_kind else None
        return f"({body} if {test} else {orelse})", kind

    def _List(self, node: ast.List | ast.Tuple) -> tuple[str, Any]:
        elements = [self.compile(e)[0] for e in node.elts]
        return f"[{', '.join(elements)}]", T.LIST

    _Tuple = _List

    def _Call(self, node: ast.Call) -> tuple[str, Any]:
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
        compiled = [self.compile(a) for a in node.args]
        kinds = [kind for _, kind in compiled]
        for position, kind in enumerate(kinds, start=1):
            allowed = fn.args[min(position, len(fn.args)) - 1] if fn.args else None
            problem = T.argument_problem(name, position, allowed, kind)
            if problem:
                raise self.fail(node, problem)
        returns = fn.returns
        if returns == T.SAME:
            known = {k for k in kinds if T.known(k)}
            if len(known) > 1:
                names = ", ".join(sorted(T.name_of(k) for k in known))
                raise self.fail(node, f"{name}() arguments mix {names}")
            returns = known.pop() if known else None
        args = [source for source, _ in compiled]
        if fn.needs_env:
            args.insert(0, "env")
        return f"{self.bind(fn.impl)}({', '.join(args)})", returns

    def build(self, tree: ast.AST) -> Compiled:
        source, _ = self.compile(tree)
        try:
            code = compile(f"lambda env: {source}", "<rule expression>", "eval")
        except (SyntaxError, RecursionError, MemoryError) as exc:
            raise ExprError(f"expression too complex to compile: {exc}") from None
        scope = {"__builtins__": {}, **_HELPERS, **self.bindings}
        # Safe: the source was emitted above from whitelisted nodes only (see the class doc).
        closure: Compiled = eval(code, scope)
        return closure


def _is_null(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in ("null", "none")) or (
        isinstance(node, ast.Constant) and node.value is None
    )


_UNKNOWN_ATTRIBUTE = object()

_OP_SYMBOLS: dict[type, str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
}
_CMP_SYMBOLS: dict[type, str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}


class ParamsType:
    """The static type of a rule's `params`: a mapping whose keys and value types are known."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.fields = {key: T.value_kind(value) for key, value in values.items()}
        self.__name__ = "params"


def _type_name(t: Any) -> str:
    return getattr(t, "__name__", str(t))


def _attribute_type(base_type: Any, attr: str) -> Any:
    """Static check of `base.attr`: the field's type, None when unknown, or _UNKNOWN_ATTRIBUTE."""
    if base_type is None or base_type is dict:
        return None
    if isinstance(base_type, ParamsType):
        return base_type.fields.get(attr, _UNKNOWN_ATTRIBUTE)
    if base_type in T.KINDS:
        if base_type in (T.DATE, T.DATETIME):
            return None  # e.g. event_date.year
        return _UNKNOWN_ATTRIBUTE
    fields = getattr(base_type, "model_fields", None)
    if fields is not None:
        if attr in fields:
            return T.kind_of(fields[attr].annotation)
        prop = getattr(base_type, attr, None)
        if isinstance(prop, property):
            return T.kind_of(_hints(prop.fget).get("return")) if prop.fget else None
        return _UNKNOWN_ATTRIBUTE
    named = getattr(base_type, "_fields", None)
    if named is not None:
        if attr not in named:
            return _UNKNOWN_ATTRIBUTE
        return T.kind_of(_hints(base_type).get(attr))
    return None


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj)
    except Exception:  # an annotation that does not resolve: unchecked, not fatal
        return {}


def compile_expr(
    source: str, names: Mapping[str, Any], functions: Mapping[str, Function]
) -> Compiled:
    """Compile `source` once; the closure takes the evaluation env (a dict of the names)."""
    if not isinstance(source, str) or not source.strip():
        raise ExprError("an expression must be a non-empty string")
    if len(source) > MAX_SOURCE:
        raise ExprError(f"expression of {len(source)} characters; at most {MAX_SOURCE}")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"syntax error: {exc.msg}", exc.offset or 0) from None
    except (RecursionError, MemoryError):
        raise ExprError("expression nested too deeply") from None
    _check_size(tree)
    return _Compiler(names, functions).build(tree)


def _check_size(tree: ast.AST) -> None:
    nodes = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ExprError(f"expression of more than {MAX_NODES} parts; split the rule")
        if depth > MAX_DEPTH:
            raise ExprError(
                f"expression nested more than {MAX_DEPTH} deep (e.g. a long chain of + or and); "
                "split the rule",
                getattr(node, "col_offset", 0) + 1,
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


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
