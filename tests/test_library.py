"""The NHSA rule library: knowledge-point tables (load, validation, index), points rules in
the engine (scope, containment of a raising rule), lint of points rules, the coverage table."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from claimguard.knowledge import KnowledgeError, load_knowledge
from claimguard.library import kinds
from claimguard.library.catalog_doc import statuses
from claimguard.library.nhsa import GZ_RULES
from claimguard.library.points import COLUMNS, KnowledgePointRow, load_points
from claimguard.rules import PackError, default_rules_dir, load_packs
from claimguard.rules.casetest import build_events, replay_case
from claimguard.rules.spec import CaseSpec
from helpers import default_ruleset, hits, run_events

HEADER = ",".join(COLUMNS)
CHILD = "GZ10000101007000"


def _row(point_id: str = "K1", rule: str = CHILD, codes: str = "TX", **kw: str) -> str:
    values = {c: "" for c in COLUMNS}
    values.update(point_id=point_id, rule=rule, codes=codes, basis="《药品目录》限儿童", **kw)
    return ",".join(values[c] for c in COLUMNS)


@pytest.fixture
def kb_dir(sample_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(sample_dir / "knowledge", target)
    return target


def test_points_load_from_the_table_and_batch_files(kb_dir: Path):
    (kb_dir / "knowledge_points.csv").write_text(
        f"{HEADER}\n{_row(max='14', batch='NHSA-2023-01')}\n{_row('K2', codes='TY|TZ')}\n",
        encoding="utf-8",
    )
    (kb_dir / "knowledge_points").mkdir()
    (kb_dir / "knowledge_points" / "2025-01.csv").write_text(
        "point_id,rule,code_type,codes,value,basis,regions\n"
        "D1,GZ10000204006000,diagnosis,N40,M,男性疾病,32|4401\n",
        encoding="utf-8",
    )
    kb = load_knowledge(kb_dir)
    assert kb.points.count == 3
    assert [p.point_id for p in kb.points.by_item["TX"]] == ["K1"]
    assert kb.points.by_item["TX"][0].max == 14.0 and kb.points.by_item["TZ"][0].point_id == "K2"
    # a diagnosis is found by its prefix, and a point's regions limit where it applies
    (point,) = kb.points.diagnosis_points("N40.x00")
    day = dt.date(2026, 1, 1)
    assert point.regions == ("32", "4401") and point.in_force(day, "320602")
    assert not point.in_force(day, "110101")
    assert list(kb.points.diagnosis_points("N4")) == []


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        (_row(max="old"), "knowledge_points.csv:3: column 7 (max='old'): could not convert"),
        (_row(rule="GZ1"), "knowledge_points.csv:3: column 2 (rule='GZ1'): must be GZ"),
        (_row(codes=""), "knowledge_points.csv:3: column 4 (codes=''): at least one code"),
        (_row(min="5", max="3"), "column 6 (min='5'): min 5.0 is greater than max 3.0"),
        (_row(code_type="drug"), "column 3 (code_type='drug'): must be one of"),
        (_row(regions="3"), "column 13 (regions='3'): '3' is not a 2-6 digit"),
        (_row(effective_from="2026-02-30"), "column 11 (effective_from='2026-02-30')"),
        (_row(point_id="K0"), "knowledge_points.csv:3: duplicate point_id 'K0'"),
        (_row() + ",extra", "knowledge_points.csv:3: more fields than the header has"),
    ],
)
def test_a_bad_point_is_refused_naming_file_line_column(kb_dir: Path, row: str, fragment: str):
    (kb_dir / "knowledge_points.csv").write_text(
        f"{HEADER}\n{_row('K0')}\n{row}\n", encoding="utf-8"
    )
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(kb_dir)
    assert fragment in str(info.value)


def test_an_unknown_column_is_refused(tmp_path: Path):
    (tmp_path / "knowledge_points.csv").write_text("point_id,rule,codes,basis,colour\n")
    with pytest.raises(ValueError, match=r":1: unknown column\(s\) 'colour'"):
        load_points(tmp_path)


def test_the_schema_model_and_the_loader_agree():
    assert tuple(KnowledgePointRow.model_fields) == COLUMNS
    schema = (Path(__file__).parents[1] / "schemas/json/knowledge-point.schema.json").read_text()
    assert '"related"' in schema and '"basis"' in schema


def test_a_points_rule_runs_only_on_its_scenario():
    points = {"points": [{"point_id": "K", "rule": "GZ10000204005000", "code_type": "diagnosis",
                          "codes": "J06", "max": "2"}]}  # fmt: skip
    stay = {"visit_type": "inpatient", "admitted_at": "2026-03-01T09:00:00+08:00",
            "discharged_at": "2026-03-02T09:00:00+08:00"}  # fmt: skip
    session = run_events(
        [
            {"event_type": "settled", "settlement_id": "IN", "visit": stay},
            {"event_type": "settled", "settlement_id": "OUT", "patient": {"person_id": "P9"}},
        ],
        points,
    )
    assert hits(session, "LOW_STANDARD_ADMISSION") == [("IN", "flag")]


def test_a_v11_event_without_the_new_fields_means_what_it_meant():
    (event,) = build_events(CaseSpec(name="x", events=[{}], hits=[]))
    assert "operations" not in event["visit"] and "pregnancy" not in event["patient"]
    session = run_events([{}])
    assert [f.violation for f in session.findings.values()] == []


def test_a_raising_points_rule_is_contained(monkeypatch: pytest.MonkeyPatch):
    def boom(*args: object) -> None:
        raise RuntimeError("broken rule type")

    monkeypatch.setitem(kinds.KINDS, "gender", kinds.KINDS["gender"]._replace(check=boom))
    points = {"points": [{"point_id": "K", "rule": "GZ10000301004000", "codes": "TX",
                          "value": "F"}, {"point_id": "C", "rule": CHILD, "codes": "TX",
                                          "max": "14"}]}  # fmt: skip
    session = run_events([{"items": [{"code": "TX"}]}], points)
    errors = session.engine.rule_errors
    assert errors["norms.drug-gender-specific"] == 1
    # every other rule still decides the event: the adult gets the child-only hold
    assert hits(session, "DRUG_CHILD_ONLY") == [("T0", "hold")]


def test_points_cost_nothing_on_codes_they_do_not_name(monkeypatch: pytest.MonkeyPatch):
    calls: list[object] = []
    original = kinds.KINDS["age"].check

    def counted(*args: object) -> object:
        calls.append(args)
        return original(*args)

    monkeypatch.setitem(kinds.KINDS, "age", kinds.KINDS["age"]._replace(check=counted))
    points = {"points": [{"point_id": "K", "rule": CHILD, "codes": "TX", "max": "14"}]}
    session = run_events([{"items": [{"code": "TNOTHING"}]}], points)
    assert hits(session, "DRUG_CHILD_ONLY") == [] and calls == []
    session = run_events([{"items": [{"code": "TX"}]}], points)
    assert hits(session, "DRUG_CHILD_ONLY") == [("T0", "hold")] and len(calls) == 1


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("    check: age\n", "    check: ages\n", "check: 'ages' is not a rule type"),
        ("nhsa_code: GZ10000101007000", "nhsa_code: GZ10000101099000", "not in the NHSA rule"),
        ("    result: 明确违规\n", "", "result: a library rule type says"),
        ("    params: {unit: days}\n", "    params: {unit: weeks}\n", "params.unit"),
        ("    result: 明确违规\n", "    result: 可疑\n", "at settle is alert, not hold"),
    ],
)
def test_lint_refuses_a_bad_points_rule(tmp_path: Path, old: str, new: str, fragment: str):
    target = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), target)
    path = target / "policy" / "library-drugs.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PackError) as info:
        load_packs(target)
    assert fragment in str(info.value) and "library-drugs.yaml:" in str(info.value)


def test_interval_is_refused_on_a_kind_decided_on_one_settlement(tmp_path: Path):
    target = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), target)
    path = target / "policy" / "library-drugs.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    check: level\n", "    check: level\n    interval: 自然月\n"))
    with pytest.raises(PackError, match="interval: level is decided on one settlement"):
        load_packs(target)


def test_coverage_catalog_is_up_to_date_and_meets_the_target(claimguard_cli: list[str]):
    result = subprocess.run(
        [*claimguard_cli, "rules", "catalog", "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    status = statuses(default_ruleset())
    implemented = [r.code for r in GZ_RULES if status[r.code][0] == "implemented"]
    assert len(implemented) >= 55
    text = (default_rules_dir() / "CATALOG.md").read_text(encoding="utf-8")
    assert f"GZ rules implemented: **{len(implemented)} of 71**" in text
    assert "| GZ10000202001000 | 药品进销存异常 | — | 可疑 | needs data | 进销存 stock" in text
    for rule in default_ruleset().rules:
        if rule.spec.scope == "points":
            assert rule.spec.tests, rule.id


def test_catalog_check_fails_when_stale(tmp_path: Path, claimguard_cli: list[str]):
    stale = tmp_path / "CATALOG.md"
    stale.write_text("old\n")
    result = subprocess.run(
        [*claimguard_cli, "rules", "catalog", "--out", str(stale), "--check"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1 and "stale" in result.stderr


def test_a_point_applies_only_in_its_dates_and_regions():
    def run(**point: str) -> list[tuple[str, str]]:
        row = {"point_id": "K", "rule": CHILD, "codes": "TX", "max": "14", **point}
        return hits(run_events([{"items": [{"code": "TX"}]}], {"points": [row]}), "DRUG_CHILD_ONLY")

    # the case's event is on 2026-03-02 at an institution in 320602
    assert run() == [("T0", "hold")]
    assert run(effective_from="2026-03-02", effective_until="2026-03-02") == [("T0", "hold")]
    assert run(effective_from="2026-03-03") == []
    assert run(effective_until="2026-03-01") == []
    assert run(regions="3206") == [("T0", "hold")]
    assert run(regions="44|11") == []


SCOPED_PACK = """\
pack: policy.scoped
layer: policy
rules:
  - id: policy.scoped-level
    version: 1
    nhsa_code: GZ10000101012000
    violation: DRUG_LEVEL_LIMIT
    result: 可疑
    layer: policy
    subject: institution
    scope: points
    check: level
    institution_levels: [2]
    institution_kinds: [hospital]
    scenarios: [门诊]
    stages: {precheck: alert, settle: alert, settled: flag}
    message: {zh: "限级别 {item.code}", en: "level {item.code}"}
    basis: test
"""


def test_institution_level_kind_and_scenario_scope_a_points_rule(tmp_path: Path):
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "scoped.yaml").write_text(SCOPED_PACK, encoding="utf-8")
    ruleset = load_packs(tmp_path)
    points = {"points": [{"point_id": "K", "rule": "GZ10000101012000", "codes": "TX",
                          "min": "3"}]}  # fmt: skip
    case = CaseSpec(
        name="scope",
        knowledge=points,
        events=[
            {"settlement_id": "IN2", "items": [{"code": "TX"}]},  # level 2 hospital, 门诊
            {"settlement_id": "IN1", "institution": {"level": 1}, "items": [{"code": "TX"}]},
            {"settlement_id": "CLN", "institution": {"kind": "clinic"}, "items": [{"code": "TX"}]},
            {
                "settlement_id": "STAY",
                "items": [{"code": "TX"}],
                "visit": {"visit_type": "inpatient", "admitted_at": "2026-03-01T09:00:00+08:00"},
            },
        ],
        hits=[],
    )
    session = replay_case(case, ruleset)
    assert sorted(f.settlement_id for f in session.findings.values()) == ["IN2"]


def test_replay_refuses_a_bad_point_file_naming_it(
    kb_dir: Path, sample_dir: Path, tmp_path: Path, claimguard_cli: list[str]
):
    (kb_dir / "knowledge_points").mkdir()
    (kb_dir / "knowledge_points" / "2025-02.csv").write_text(
        f"{HEADER}\n{_row()}\n{_row('K2', max='十四')}\n", encoding="utf-8"
    )
    result = subprocess.run(
        [*claimguard_cli, "replay", "--knowledge", str(kb_dir),
         "--events", str(sample_dir / "events.jsonl"), "--out", str(tmp_path / "f.jsonl")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "knowledge_points/2025-02.csv:3: column 7 (max='十四')" in result.stderr
