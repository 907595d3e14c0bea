"""Knowledge points (知识点): the code-level facts a parametric rule type reads.

One long table: each row names the rule type it belongs to (`rule`, an NHSA code such as
GZ10000101007000), the codes it applies to, and the condition's parameters. The rows are
loaded from `knowledge_points.csv` and every `knowledge_points/*.csv` (one file per NHSA
batch, say) beside the catalog CSVs, validated with file:line:column errors, and indexed by
code so that an event costs one dict lookup per item code, diagnosis prefix or operation
code whatever the number of rows.

`KnowledgePointRow` (pydantic) documents the format and generates its JSON Schema; the loader
parses the same columns by hand into `Point` tuples, because 250,000 rows must load in a few
seconds and a few hundred bytes each (a test keeps the two in agreement).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

RULE_KEY = re.compile(r"^(GZ\d{14}|T2025-\d{2})$")
REGION_PREFIX = re.compile(r"^\d{2,6}$")
CodeType = Literal["item", "diagnosis", "operation"]
CODE_TYPES: tuple[str, ...] = ("item", "diagnosis", "operation")
POINT_FILE = "knowledge_points.csv"
POINT_DIR = "knowledge_points"


def _split(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split("|") if part.strip())
    return value


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


PipeList = Annotated[tuple[str, ...], BeforeValidator(_split)]
OptFloat = Annotated[float | None, BeforeValidator(_blank_is_none)]
OptDate = Annotated[dt.date | None, BeforeValidator(_blank_is_none)]


class KnowledgePointRow(BaseModel):
    """One row of a knowledge-point table (CSV, UTF-8, `|` separates list values)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    point_id: str = Field(min_length=1, description="unique across all point files")
    rule: str = Field(
        pattern=RULE_KEY.pattern,
        description="the rule type: an NHSA code (GZ + 14 digits) or a 2025 type key T2025-NN",
    )
    code_type: CodeType = Field(
        default="item",
        description="what `codes` are: item (drug/service/consumable) codes, ICD-10 diagnosis "
        "prefixes or 手术操作 operation codes",
    )
    codes: PipeList = Field(min_length=1, description="the codes the point applies to (index)")
    related: PipeList = Field(
        default=(),
        description="the other codes of the condition: ICD-10 prefixes of indications or "
        "contraindications, codes that may not be billed together, required services, "
        "department prefixes, first-line drugs …",
    )
    min: OptFloat = Field(default=None, description="lower threshold (age, level, count …)")
    max: OptFloat = Field(default=None, description="upper threshold (age, days, price …)")
    value: str = Field(
        default="", description="a text parameter: gender M/F, 险种, visit types, class"
    )
    basis: str = Field(min_length=1, description="依据: the policy text the point rests on")
    batch: str = Field(default="", description="source batch, e.g. NHSA-2025-01")
    effective_from: OptDate = None
    effective_until: OptDate = None
    regions: PipeList = Field(
        default=(), description="区划 prefixes (2-6 digits) the point is limited to; empty: all"
    )


COLUMNS: tuple[str, ...] = tuple(KnowledgePointRow.model_fields)
REQUIRED_COLUMNS = ("point_id", "rule", "codes", "basis")


class Point(NamedTuple):
    """A validated knowledge point, compact (a quarter of a million of them fit easily)."""

    point_id: str
    rule: str
    code_type: str
    codes: tuple[str, ...]
    related: tuple[str, ...]
    min: float | None
    max: float | None
    value: str
    basis: str
    batch: str
    effective_from: dt.date | None
    effective_until: dt.date | None
    regions: tuple[str, ...]

    def in_force(self, day: dt.date, region: str) -> bool:
        if self.effective_from is not None and day < self.effective_from:
            return False
        if self.effective_until is not None and day > self.effective_until:
            return False
        return not self.regions or region.startswith(self.regions)


class PointError(ValueError):
    """A point file that cannot be used: `file:line: column N (name='v'): reason`."""


@dataclass(slots=True)
class PointIndex:
    """Points by the code they apply to, one dict per code type. A diagnosis is looked up by
    its prefixes of the lengths that occur in the index (a handful of lookups)."""

    by_item: dict[str, tuple[Point, ...]] = field(default_factory=dict)
    by_diagnosis: dict[str, tuple[Point, ...]] = field(default_factory=dict)
    by_operation: dict[str, tuple[Point, ...]] = field(default_factory=dict)
    diagnosis_lengths: tuple[int, ...] = ()
    rules: frozenset[str] = frozenset()  # rule keys with at least one point
    count: int = 0

    @classmethod
    def build(cls, points: Iterable[Point]) -> PointIndex:
        tables: dict[str, dict[str, list[Point]]] = {t: {} for t in CODE_TYPES}
        rules: set[str] = set()
        count = 0
        for point in points:
            count += 1
            rules.add(point.rule)
            table = tables[point.code_type]
            for code in point.codes:
                found = table.get(code)
                if found is None:
                    table[code] = [point]
                else:
                    found.append(point)
        frozen = {t: {k: tuple(v) for k, v in table.items()} for t, table in tables.items()}
        return cls(
            by_item=frozen["item"],
            by_diagnosis=frozen["diagnosis"],
            by_operation=frozen["operation"],
            diagnosis_lengths=tuple(sorted({len(k) for k in frozen["diagnosis"]})),
            rules=frozenset(rules),
            count=count,
        )

    def diagnosis_points(self, diagnosis: str) -> Iterator[Point]:
        table = self.by_diagnosis
        if not table:
            return
        for length in self.diagnosis_lengths:
            if length > len(diagnosis):
                break
            found = table.get(diagnosis[:length])
            if found:
                yield from found

    def has(self, rule: str, code: str, code_type: str = "item") -> bool:
        table = {"item": self.by_item, "operation": self.by_operation}.get(code_type, {})
        return any(p.rule == rule for p in table.get(code, ()))


def point_files(directory: Path) -> list[Path]:
    files = []
    if (directory / POINT_FILE).is_file():
        files.append(directory / POINT_FILE)
    if (directory / POINT_DIR).is_dir():
        files.extend(sorted((directory / POINT_DIR).glob("*.csv")))
    return files


def load_points(directory: Path) -> PointIndex:
    """Every point file of a knowledge directory (none: an empty index)."""
    seen: dict[str, tuple[Path, int]] = {}
    points: list[Point] = []
    for path in point_files(directory):
        for point, line in read_point_file(path):
            first = seen.get(point.point_id)
            if first is not None:
                raise PointError(
                    f"{path}:{line}: duplicate point_id {point.point_id!r} "
                    f"(first at {first[0].name}:{first[1]})"
                )
            seen[point.point_id] = (path, line)
            points.append(point)
    return PointIndex.build(points)


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _number(text: str) -> float | None:
    if not text:
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _pipe(text: str) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(part.strip() for part in text.split("|") if part.strip())


def read_point_file(path: Path) -> Iterator[tuple[Point, int]]:
    """(point, line) for each row; raises PointError naming file:line: column N (name=...)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise PointError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader, [])]
        except (csv.Error, UnicodeDecodeError) as exc:
            raise PointError(f"{path}:1: unreadable header: {exc}") from None
        unknown = [h for h in header if h not in COLUMNS]
        missing = [h for h in REQUIRED_COLUMNS if h not in header]
        if unknown or missing or len(set(header)) != len(header):
            parts = []
            if missing:
                parts.append(f"header lacks column(s) {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown column(s) {', '.join(repr(n) for n in unknown)}")
            if len(set(header)) != len(header):
                parts.append("a column appears twice")
            raise PointError(f"{path}:1: {'; '.join(parts)} (columns: {', '.join(COLUMNS)})")
        pos = {name: header.index(name) if name in header else -1 for name in COLUMNS}
        width = len(header)
        intern: dict[str, str] = {}  # basis, batch, rule, value repeat across rows: share them
        get = intern.setdefault
        try:
            for cells in reader:
                line = reader.line_num
                if not cells:
                    continue
                if len(cells) != width:
                    more = "more" if len(cells) > width else "fewer"
                    raise PointError(f"{path}:{line}: {more} fields than the header has")
                yield _parse(path, line, cells, pos, get), line
        except (csv.Error, UnicodeDecodeError) as exc:
            raise PointError(f"{path}:{reader.line_num}: unreadable: {exc}") from None


def _parse(
    path: Path, line: int, cells: list[str], pos: dict[str, int], get: Callable[[str, str], str]
) -> Point:
    def cell(name: str) -> str:
        index = pos[name]
        return cells[index].strip() if index >= 0 else ""

    def fail(name: str, reason: str) -> PointError:
        return PointError(
            f"{path}:{line}: column {pos[name] + 1} ({name}={cell(name)!r}): {reason}"
        )

    point_id = cell("point_id")
    if not point_id:
        raise fail("point_id", "required")
    rule = cell("rule")
    if not RULE_KEY.match(rule):
        raise fail("rule", "must be GZ + 14 digits or T2025-NN")
    code_type = cell("code_type") or "item"
    if code_type not in CODE_TYPES:
        raise fail("code_type", f"must be one of {', '.join(CODE_TYPES)}")
    codes = _pipe(cell("codes"))
    if not codes:
        raise fail("codes", "at least one code is required")
    values: dict[str, object] = {}
    for name, convert in (
        ("min", _number),
        ("max", _number),
        ("effective_from", _date),
        ("effective_until", _date),
    ):
        try:
            values[name] = convert(cell(name))
        except ValueError as exc:
            raise fail(name, str(exc) or "invalid") from None
    low, high = values["min"], values["max"]
    if low is not None and high is not None and low > high:  # type: ignore[operator]
        raise fail("min", f"min {low} is greater than max {high}")
    start, end = values["effective_from"], values["effective_until"]
    if start is not None and end is not None and start > end:  # type: ignore[operator]
        raise fail("effective_from", f"effective_from {start} is after effective_until {end}")
    basis = cell("basis")
    if not basis:
        raise fail("basis", "依据 is required")
    regions = _pipe(cell("regions"))
    for region in regions:
        if not REGION_PREFIX.match(region):
            raise fail("regions", f"{region!r} is not a 2-6 digit 区划 prefix")
    return Point(
        point_id,
        get(rule, rule),
        get(code_type, code_type),
        codes,
        _pipe(cell("related")),
        low,  # type: ignore[arg-type]
        high,  # type: ignore[arg-type]
        get(cell("value"), cell("value")),
        get(basis, basis),
        get(cell("batch"), cell("batch")),
        start,  # type: ignore[arg-type]
        end,  # type: ignore[arg-type]
        regions,
    )


def points_of_rows(rows: Iterable[dict[str, object]]) -> PointIndex:
    """An index from dict rows (pack tests, synth): validated with the pydantic model."""
    points = []
    for row in rows:
        r = KnowledgePointRow.model_validate(row)
        points.append(
            Point(
                r.point_id,
                r.rule,
                r.code_type,
                r.codes,
                r.related,
                r.min,
                r.max,
                r.value,
                r.basis,
                r.batch,
                r.effective_from,
                r.effective_until,
                r.regions,
            )
        )
    return PointIndex.build(points)
