"""Knowledge files cannot switch rules off (or on) silently: every contract §2 column is
expected, tables rules need cannot be empty, periods and region trees must make sense."""

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


def _rename_column(path: Path, old: str, new: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    header[header.index(old)] = new
    path.write_text("\n".join([",".join(header), *lines[1:]]) + "\n", encoding="utf-8")


def _drop_column(path: Path, column: str) -> None:
    lines = [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()]
    index = lines[0].index(column)
    path.write_text("\n".join(",".join(c[:index] + c[index + 1 :]) for c in lines) + "\n")


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("items.csv", "max_unit_price", "max_price"),
        ("items.csv", "gender", "Gender"),
        ("persons.csv", "deceased_on", "died_on"),
        ("institutions.csv", "departments", "depts"),
    ],
)
def test_a_misspelled_optional_column_is_refused(kb_dir: Path, file: str, old: str, new: str):
    _rename_column(kb_dir / file, old, new)
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(kb_dir)
    message = str(info.value)
    assert f"{file}:1:" in message and repr(new) in message and old in message


@pytest.mark.parametrize(
    ("file", "column"), [("items.csv", "max_unit_price"), ("doctors.csv", "departments")]
)
def test_a_missing_optional_column_is_refused(kb_dir: Path, file: str, column: str):
    _drop_column(kb_dir / file, column)
    with pytest.raises(KnowledgeError, match=rf"{file}:1: header lacks column\(s\) {column}"):
        load_knowledge(kb_dir)


@pytest.mark.parametrize("file", ["institutions.csv", "items.csv", "doctors.csv"])
def test_a_table_rules_depend_on_cannot_be_empty(kb_dir: Path, file: str):
    path = kb_dir / file
    path.write_text(path.read_text().splitlines()[0] + "\n")
    with pytest.raises(KnowledgeError, match=rf"{file}:2: no rows"):
        load_knowledge(kb_dir)


def test_an_empty_persons_file_is_fine(kb_dir: Path):
    path = kb_dir / "persons.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    assert load_knowledge(kb_dir).deceased_on == {}


def test_an_inverted_suspension_is_refused_with_its_line(kb_dir: Path):
    path = kb_dir / "institutions.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[header.index("agreement_status")] = "suspended"
    cells[header.index("suspended_from")] = "2026-05-01"
    cells[header.index("suspended_to")] = "2026-04-01"
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        KnowledgeError, match=r"institutions.csv:4: suspended_from 2026-05-01 is after"
    ):
        load_knowledge(kb_dir)


@pytest.mark.parametrize(
    ("rows", "line", "fragment"),
    [
        (["320602,a,320602"], 2, "its own parent"),
        (["320602,a,320600", "320600,b,320602"], 2, "cycle: 320602 → 320600 → 320602"),
        (["320602,a,320699"], 2, "parent 320699 is not listed"),
        (["320000,p,000000", "320600,c,320000", "320602,a,320666"], 4, "parent 320666"),
    ],
)
def test_a_bad_region_tree_is_refused_with_file_line(
    kb_dir: Path, rows: list[str], line: int, fragment: str
):
    (kb_dir / "regions.csv").write_text("code,name,parent\n" + "\n".join(rows) + "\n")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(kb_dir)
    assert f"regions.csv:{line}:" in str(info.value) and fragment in str(info.value)


def test_a_proper_region_tree_loads(kb_dir: Path):
    (kb_dir / "regions.csv").write_text(
        "code,name,parent\n320000,p,000000\n320600,c,320000\n320602,a,320600\n"
    )
    assert load_knowledge(kb_dir).region_parents["320602"] == "320600"
