"""Packs that would blind or crash claimguard are refused with file:line; mistakes in
expressions fail lint (types, sizes); `rules test` reports a case that cannot run as FAIL."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimguard.decode import decode
from claimguard.engine.rule_errors import RuleErrors
from claimguard.engine.stateless import StatelessEvaluator
from claimguard.rules import PackError, RuleSet, default_rules_dir, load_packs
from claimguard.rules.casetest import build_events, build_knowledge
from claimguard.rules.compiled import ITEM_NAMES
from claimguard.rules.expr import ExprError, compile_expr
from claimguard.rules.functions import FUNCTIONS
from claimguard.rules.spec import CaseSpec
from test_rules_packs import _edit, _line_of

CATALOG = "policy/catalog.yaml"
WHEN = "when: over(item.unit_price, ref.max_unit_price, params.tolerance)"
APPLIES = "applies_if: ref.max_unit_price != null"


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), target)
    return target


def _refused(packs: Path, needle: str, fragment: str, file: str = CATALOG) -> None:
    path = packs / file
    with pytest.raises(PackError) as info:
        load_packs(packs)
    line = _line_of(path, needle) if needle else None
    found = [p for p in info.value.problems if fragment in p]
    assert found, info.value.problems
    if line is not None:
        assert found[0].startswith(f"{path}:{line}:"), found


@pytest.mark.parametrize(
    ("new", "fragment"),
    [
        ("when: event_date < '2026-01-01'", "cannot order date against str"),
        ("when: institution.code + 1 > 0", "cannot apply '+' to str and num"),
        ("when: item.code == 3", "str is never equal to num"),
        ("when: over(item.code, 1)", "over() argument 1 must be num, not str"),
        ("when: age_on(patient.gender, event_date) > 3", "age_on() argument 1 must be"),
        ("when: len('a' * 1000000000) > 0", "cannot apply '*' to str and num"),
        ("when: params.tolerance_typo > 0", "params has no field 'tolerance_typo'"),
        ("when: item.unit_price in 5", "'in' needs a list or text on the right"),
        ("when: patient.birth_date > visit.admitted_at", "cannot order date against datetime"),
        ("when: event.date == '2026-03-02'", "date is never equal to str"),
        ("when: " + " + ".join(["age"] * 200) + " > 0", "nested more than"),
        ("when: " + " or ".join(["age"] * 250), "more than 400 parts"),
    ],
)
def test_lint_refuses_ill_typed_or_oversized_expressions(
    packs: Path, new: str, fragment: str
) -> None:
    _edit(packs / CATALOG, WHEN, new)
    _refused(packs, new[:20], fragment)


def test_lint_type_checks_message_templates(packs: Path) -> None:
    old = 'en: "item {item.code} unit price'
    _edit(packs / CATALOG, old, 'en: "item {item.code + 1} unit price')
    _refused(packs, "{item.code + 1}", "message.en: cannot apply '+' to str and num")


@pytest.mark.parametrize(
    ("insert", "fragment"),
    [
        ("    effective: {from: 2026-02-30}\n", "invalid date '2026-02-30'"),
        ("    effective: {from: 2026-06-01, until: 2026-01-01}\n", "from 2026-06-01 is after"),
        ('    regions: ["32O6"]\n', "regions: String should match pattern"),
        ("    overrides: policy.price-over-cap\n", "overrides: itself"),
    ],
)
def test_bad_pack_fields_are_refused_with_file_line(
    packs: Path, insert: str, fragment: str
) -> None:
    _edit(packs / CATALOG, f"    {APPLIES}\n", f"{insert}    {APPLIES}\n")
    _refused(packs, insert.strip()[:14], fragment)


def test_overrides_in_a_cycle_are_refused(packs: Path) -> None:
    _edit(
        packs / CATALOG,
        f"    {APPLIES}\n",
        f"    overrides: policy.level-restricted\n    {APPLIES}\n",
    )
    _edit(
        packs / CATALOG,
        "    applies_if: ref.min_institution_level",
        "    overrides: policy.price-over-cap\n    applies_if: ref.min_institution_level",
    )
    _refused(packs, "", "overrides form a cycle")


def test_a_pack_that_is_not_utf8_is_refused_with_its_line(packs: Path) -> None:
    path = packs / CATALOG
    line = _line_of(path, "title: 超标准收费")
    data = path.read_bytes().replace("超标准收费".encode(), "超标准收费".encode("gbk"), 1)
    path.write_bytes(data)
    with pytest.raises(PackError) as info:
        load_packs(packs)
    assert any(p.startswith(f"{path}:{line}: not UTF-8") for p in info.value.problems)


def test_run_time_work_is_bounded() -> None:
    names = {**ITEM_NAMES, "params": dict}
    repeat = compile_expr("params.a * params.b", names, FUNCTIONS)
    with pytest.raises(TypeError):
        repeat({"params": {"a": "x", "b": 10**9}})
    fmt = compile_expr("params.a % params.b", names, FUNCTIONS)
    with pytest.raises(TypeError):
        fmt({"params": {"a": "%999999999d", "b": 1}})
    assert (
        compile_expr("params.a + params.b", names, FUNCTIONS)({"params": {"a": "x", "b": "y"}})
        == "xy"
    )
    with pytest.raises(ExprError, match="characters"):
        compile_expr("1 + " * 600 + "1", names, FUNCTIONS)


def test_rules_test_reports_a_case_that_cannot_run_as_fail(
    packs: Path, claimguard_cli: list[str]
) -> None:
    path = packs / CATALOG
    # A case whose extra knowledge row is invalid cannot even run.
    _edit(
        path,
        "      - name: within the 0.005 tolerance passes, a cent more is held\n",
        "      - name: within the 0.005 tolerance passes, a cent more is held\n"
        "        knowledge: {items: [{code: TX}]}\n",
    )
    # Another rule raises at run time on a value lint cannot know (a diagnosis string).
    _edit(
        path, "when: institution.level < ref.min_institution_level", "when: visit.diagnoses[0] > 5"
    )
    result = subprocess.run(
        [*claimguard_cli, "rules", "test", str(packs)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    fail = [i for i, line in enumerate(lines) if line.startswith("FAIL  policy.")]
    assert fail, result.stdout
    details = " ".join(lines[i + 1] for i in fail)
    assert "case cannot run: ValidationError" in details
    assert "rule policy.level-restricted raised on event" in details and "TypeError" in details


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_expression_text_compiles_or_is_refused_cleanly(source: str) -> None:
    with contextlib.suppress(ExprError):
        compile_expr(source, {**ITEM_NAMES, "params": dict}, FUNCTIONS)


_ATOMS = st.sampled_from(
    [
        "age",
        "item.quantity",
        "item.code",
        "event_date",
        "1",
        "'x'",
        "null",
        "ref.indications",
        "len(items)",
        "params.a",
        "patient.gender",
        "true",
    ]
)
_EXPRS = st.recursive(
    _ATOMS,
    lambda inner: (
        st.tuples(
            inner,
            st.sampled_from([" + ", " - ", " * ", " < ", " == ", " and ", " or ", " in "]),
            inner,
        ).map("".join)
        | inner.map(lambda e: f"({e})")
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_EXPRS)
def test_expressions_that_type_check_only_raise_contained_errors(source: str) -> None:
    """Whatever compiles runs without crashing the interpreter: at worst a TypeError or
    ValueError, which the engine contains as a rule error."""
    try:
        fn = compile_expr(source, {**ITEM_NAMES, "params": dict}, FUNCTIONS)
    except ExprError:
        return
    case = CaseSpec(name="h", events=[{}], hits=[])
    event = decode(orjson.dumps(build_events(case)[0]))
    env = StatelessEvaluator(build_knowledge(case), RuleSet([]), RuleErrors(Counter())).env(event)
    env["item"], env["params"] = event.items[0], {"a": 2}
    with contextlib.suppress(TypeError, ValueError):
        fn(env)


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = st.sampled_from(
    [
        "id",
        "version",
        "violation",
        "layer",
        "subject",
        "scope",
        "stages",
        "severity",
        "message",
        "params",
        "applies_if",
        "when",
        "involves",
        "check",
        "regions",
        "overrides",
        "effective",
        "tests",
        "basis",
        "colour",
    ]
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_FIELDS, _VALUES, max_size=3))
def test_any_rule_content_loads_or_is_refused_with_a_file_line(patch: dict) -> None:
    """Whatever a pack holds, loading it yields rules or a PackError naming the file."""
    import tempfile

    import yaml

    base = yaml.safe_load((default_rules_dir() / CATALOG).read_text(encoding="utf-8"))
    base["rules"] = [{**base["rules"][0], **patch}]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy" / "x.yaml"
        path.parent.mkdir()
        path.write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
        try:
            load_packs(Path(tmp))
        except PackError as exc:
            assert all(p.startswith(f"{path}:") for p in exc.problems), exc.problems
