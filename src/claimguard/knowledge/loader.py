"""Load the knowledge-base directory; refuse a malformed file naming file, line and column."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from claimguard.knowledge.catalog import KnowledgeBase
from claimguard.model import DoctorRow, InstitutionRow, ItemRow, PersonRow, RegionRow

Row = TypeVar("Row", bound=BaseModel)

REQUIRED_FILES = ("items.csv", "institutions.csv", "doctors.csv")
OPTIONAL_FILES = ("persons.csv", "regions.csv")


class KnowledgeError(ValueError):
    """A knowledge file that cannot be used; the message names file, line and column."""


def _rows(path: Path, model: type[Row], key: str) -> Iterator[Row]:
    required = [name for name, f in model.model_fields.items() if f.is_required()]
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
        missing = [name for name in required if name not in header]
        if missing:
            raise KnowledgeError(f"{path}:1: header lacks column(s) {', '.join(missing)}")
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
        for region in _rows(directory / "regions.csv", RegionRow, "code"):
            parents[region.code] = region.parent
            names[region.code] = region.name
    return KnowledgeBase(
        items=items,
        institutions=institutions,
        doctors=doctors,
        deceased_on=deceased,
        region_parents=parents,
        region_names=names,
    )


def _check_ranges(path: Path, items: dict[str, ItemRow]) -> Iterator[tuple[Path, ItemRow]]:
    for row in items.values():
        if row.age_min is not None and row.age_max is not None and row.age_min > row.age_max:
            yield path, row
