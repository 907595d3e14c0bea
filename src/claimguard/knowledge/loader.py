"""Load the knowledge-base directory; refuse a malformed file naming file, line and column."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from claimguard.knowledge.catalog import KnowledgeBase
from claimguard.library.points import PointError, load_points
from claimguard.model import DoctorRow, InstitutionRow, ItemRow, PersonRow, RegionRow

Row = TypeVar("Row", bound=BaseModel)

REQUIRED_FILES = ("items.csv", "institutions.csv", "doctors.csv")
NATIONAL = "000000"
OPTIONAL_FILES = ("persons.csv", "regions.csv")


class KnowledgeError(ValueError):
    """A knowledge file that cannot be used; the message names file, line and column."""


# Files whose rows the rules cannot do without: empty, every settlement would hit (unknown
# institution → SUSPENDED_INSTITUTION, unknown code → NON_COVERED_ITEM, unknown doctor →
# OUT_OF_SCOPE_PRACTICE), so an empty one is a mistake, not a policy.
NEEDS_ROWS = {
    "items.csv": "every item would be NON_COVERED_ITEM",
    "institutions.csv": "every settlement would be held as SUSPENDED_INSTITUTION",
    "doctors.csv": "every visit would be OUT_OF_SCOPE_PRACTICE",
}


def _rows(path: Path, model: type[Row], key: str) -> Iterator[Row]:
    """Rows of one file. Every column of contract §2 is expected, and no other: a misspelled
    optional column would otherwise switch its check off (or on) without a word."""
    expected = list(model.model_fields)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read: {exc.strerror}") from None
    seen: dict[str, int] = {}
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise KnowledgeError(f"{path}:1: unreadable header: {exc}") from None
        unknown = [name for name in header if name not in expected]
        missing = [name for name in expected if name not in header]
        if unknown or missing:
            parts = []
            if missing:
                parts.append(f"header lacks column(s) {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown column(s) {', '.join(repr(n) for n in unknown)}")
            raise KnowledgeError(
                f"{path}:1: {'; '.join(parts)} (contract §2 columns: {', '.join(expected)})"
            )
        if len(set(header)) != len(header):
            raise KnowledgeError(f"{path}:1: a column appears twice in the header")
        try:
            for record in reader:
                line = reader.line_num
                if None in record:
                    raise KnowledgeError(f"{path}:{line}: more fields than the header has")
                if any(v is None for v in record.values()):
                    raise KnowledgeError(f"{path}:{line}: fewer fields than the header has")
                try:
                    row = model.model_validate(record)
                except ValidationError as exc:
                    err = exc.errors(include_url=False)[0]
                    column = str(err["loc"][0]) if err["loc"] else "?"
                    col_no = header.index(column) + 1 if column in header else 0
                    value = record.get(column, "")
                    raise KnowledgeError(
                        f"{path}:{line}: column {col_no} ({column}={value!r}): {err['msg']}"
                    ) from None
                for problem in _row_problems(row):
                    raise KnowledgeError(f"{path}:{line}: {problem}")
                ident = getattr(row, key)
                if ident in seen:
                    raise KnowledgeError(
                        f"{path}:{line}: duplicate {key} {ident!r} (first on line {seen[ident]})"
                    )
                seen[ident] = line
                yield row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise KnowledgeError(f"{path}:{reader.line_num}: unreadable: {exc}") from None


def load_knowledge(directory: Path | str) -> KnowledgeBase:
    directory = Path(directory)
    if not directory.is_dir():
        raise KnowledgeError(f"{directory}: not a knowledge directory")
    for name in REQUIRED_FILES:
        if not (directory / name).is_file():
            raise KnowledgeError(f"{directory / name}: required knowledge file is missing")
    items = {r.code: r for r in _rows(directory / "items.csv", ItemRow, "code")}
    for path, row in _check_ranges(directory / "items.csv", items):
        raise KnowledgeError(f"{path}: item {row.code!r}: age_min is greater than age_max")
    institutions = {
        r.code: r for r in _rows(directory / "institutions.csv", InstitutionRow, "code")
    }
    doctors = {r.code: r for r in _rows(directory / "doctors.csv", DoctorRow, "code")}
    deceased: dict = {}
    if (directory / "persons.csv").is_file():
        for person in _rows(directory / "persons.csv", PersonRow, "person_id"):
            if person.deceased_on is not None:
                deceased[person.person_id] = person.deceased_on
    parents: dict[str, str] = {}
    names: dict[str, str] = {}
    if (directory / "regions.csv").is_file():
        lines: dict[str, int] = {}
        for region, line in _numbered(_rows(directory / "regions.csv", RegionRow, "code")):
            parents[region.code] = region.parent
            names[region.code] = region.name
            lines[region.code] = line
        check_region_tree(directory / "regions.csv", parents, lines)
    for name, tables in (
        ("items.csv", items),
        ("institutions.csv", institutions),
        ("doctors.csv", doctors),
    ):
        if not tables:
            raise KnowledgeError(f"{directory / name}:2: no rows; {NEEDS_ROWS[name]}")
    try:
        points = load_points(directory)
    except PointError as exc:
        raise KnowledgeError(str(exc)) from None
    return KnowledgeBase(
        points=points,
        items=items,
        institutions=institutions,
        doctors=doctors,
        deceased_on=deceased,
        region_parents=parents,
        region_names=names,
    )


def _row_problems(row: BaseModel) -> Iterator[str]:
    if isinstance(row, InstitutionRow):
        start, end = row.suspended_from, row.suspended_to
        if start is not None and end is not None and start > end:
            yield f"suspended_from {start} is after suspended_to {end}"
    if isinstance(row, RegionRow) and row.parent == row.code:
        yield f"region {row.code} is its own parent"


def _numbered(rows: Iterator[Row]) -> Iterator[tuple[Row, int]]:
    """Rows with their file line: the reader's line after the row (no quoted newlines in
    these files, so counting rows from line 2 is exact enough for a message)."""
    for number, row in enumerate(rows, start=2):
        yield row, number


def check_region_tree(path: Path, parents: dict[str, str], lines: dict[str, int]) -> None:
    """regions.csv must be a tree: every parent listed (or national), no cycles."""
    for code, parent in parents.items():
        if parent != NATIONAL and parent not in parents:
            raise KnowledgeError(
                f"{path}:{lines[code]}: region {code}: parent {parent} is not listed in "
                f"{path.name} (nor national {NATIONAL})"
            )
    for code in parents:
        chain = [code]
        parent = parents[code]
        while parent in parents and parent != NATIONAL:
            if parent in chain:
                cycle = " → ".join([*chain[chain.index(parent) :], parent])
                raise KnowledgeError(f"{path}:{lines[code]}: regions form a cycle: {cycle}")
            chain.append(parent)
            parent = parents[parent]


def _check_ranges(path: Path, items: dict[str, ItemRow]) -> Iterator[tuple[Path, ItemRow]]:
    for row in items.values():
        if row.age_min is not None and row.age_max is not None and row.age_min > row.age_max:
            yield path, row
