"""Knowledge files load into indexed catalogs; a malformed one is refused with file:line:column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from claimguard.knowledge import KnowledgeError, load_knowledge


@pytest.fixture
def kb_dir(sample_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(sample_dir / "knowledge", target)
    return target


def test_sample_loads(kb_dir: Path):
    kb = load_knowledge(kb_dir)
    assert len(kb.items) == 41 and len(kb.institutions) == 38 and len(kb.doctors) == 59
    item = kb.items["XGCA014831A436510607679"]
    assert item.gender == "F" and item.indications == ("N76", "O20")
    assert kb.items["287740194861480"].excludes == ("338002408591360",)
    assert str(kb.deceased_on["P0001282"]) == "2026-04-04"


def _corrupt(path: Path, line_no: int, column: str, value: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[line_no - 1].split(",")
    cells[header.index(column)] = value
    lines[line_no - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "line", "column", "value", "col_no"),
    [
        ("items.csv", 5, "max_unit_price", "cheap", 9),
        ("items.csv", 3, "covered", "maybe", 4),
        ("institutions.csv", 7, "level", "5", 4),
        ("institutions.csv", 2, "agreement_status", "paused", 6),
        ("doctors.csv", 4, "status", "retired", 5),
    ],
)
def test_bad_value_is_refused_naming_file_line_column(
    kb_dir: Path, file: str, line: int, column: str, value: str, col_no: int
):
    _corrupt(kb_dir / file, line, column, value)
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(kb_dir)
    message = str(info.value)
    assert f"{file}:{line}: column {col_no} ({column}=" in message


def test_missing_column_is_refused(kb_dir: Path):
    text = (kb_dir / "items.csv").read_text().replace(",covered,", ",cov,", 1)
    (kb_dir / "items.csv").write_text(text)
    with pytest.raises(KnowledgeError, match=r"items.csv:1: header lacks column\(s\) covered"):
        load_knowledge(kb_dir)


def test_duplicate_code_is_refused(kb_dir: Path):
    lines = (kb_dir / "doctors.csv").read_text().splitlines()
    (kb_dir / "doctors.csv").write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(KnowledgeError, match=rf"doctors.csv:{len(lines) + 1}: duplicate code"):
        load_knowledge(kb_dir)


def test_ragged_row_is_refused(kb_dir: Path):
    with (kb_dir / "items.csv").open("a") as handle:
        handle.write("X1,drug,x,true\n")
    with pytest.raises(KnowledgeError, match="fewer fields than the header"):
        load_knowledge(kb_dir)


def test_missing_required_file(kb_dir: Path):
    (kb_dir / "doctors.csv").unlink()
    with pytest.raises(KnowledgeError, match=r"doctors\.csv: required knowledge file is missing"):
        load_knowledge(kb_dir)


def test_regions_csv_is_optional_and_loaded(kb_dir: Path):
    (kb_dir / "regions.csv").write_text(
        "code,name,parent\n320602,x,320699\n320699,y,320000\n320000,z,000000\n"
    )
    assert load_knowledge(kb_dir).region_parents["320602"] == "320699"
