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
import gc
import math
import operator
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from claimguard.model.knowledge import OptDate, OptFloat, PipeList

RULE_KEY = re.compile(r"^(GZ\d{14}|T2025-\d{2})$")
REGION_PREFIX = re.compile(r"^\d{2,6}$")
CodeType = Literal["item", "diagnosis", "operation"]
CODE_TYPES: tuple[str, ...] = ("item", "diagnosis", "operation")
POINT_FILE = "knowledge_points.csv"
POINT_DIR = "knowledge_points"


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

    by_item: dict[str, Sequence[Point]] = field(default_factory=dict)
    by_diagnosis: dict[str, Sequence[Point]] = field(default_factory=dict)
    by_operation: dict[str, Sequence[Point]] = field(default_factory=dict)
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
        # the lists are kept as they are (read-only from here): freezing 250,000 of them into
        # tuples would cost a second pass for nothing the engine needs
        return cls(
            by_item=tables["item"],  # type: ignore[arg-type]
            by_diagnosis=tables["diagnosis"],  # type: ignore[arg-type]
            by_operation=tables["operation"],  # type: ignore[arg-type]
            diagnosis_lengths=tuple(sorted({len(k) for k in tables["diagnosis"]})),
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
    # Hundreds of thousands of small tuples that all live on: the cyclic collector would
    # scan them again and again while they are built, for nothing (none is garbage).
    enabled = gc.isenabled()
    gc.disable()
    try:
        seen: set[str] = set()
        points: list[Point] = []
        for path in point_files(directory):
            for point, line in read_point_file(path):
                if point.point_id in seen:
                    raise PointError(
                        f"{path}:{line}: duplicate point_id {point.point_id!r} "
                        f"(first at {_first_of(directory, point.point_id)})"
                    )
                seen.add(point.point_id)
                points.append(point)
        return PointIndex.build(points)
    finally:
        if enabled:
            gc.enable()


def _first_of(directory: Path, point_id: str) -> str:
    """Where a duplicated point_id first occurs (read again only to say so)."""
    for path in point_files(directory):
        for point, line in read_point_file(path):
            if point.point_id == point_id:
                return f"{path.name}:{line}"
    return "?"


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
        parse = _Parser(path, pos)
        try:
            for cells in reader:
                if not cells:
                    continue
                line = reader.line_num
                if len(cells) != width:
                    more = "more" if len(cells) > width else "fewer"
                    raise PointError(f"{path}:{line}: {more} fields than the header has")
                yield parse(line, cells), line
        except (csv.Error, UnicodeDecodeError) as exc:
            raise PointError(f"{path}:{reader.line_num}: unreadable: {exc}") from None


class _Parser:
    """One row's cells → a Point. Values that repeat across rows (rule keys, dates, region
    lists, the basis text) are validated once and shared: 250,000 rows load in seconds."""

    def __init__(self, path: Path, pos: dict[str, int]) -> None:
        self.path = path
        self.pos = pos
        self.strings: dict[str, str] = {}
        self.rules: set[str] = set()
        self.dates: dict[str, dt.date | None] = {"": None}
        self.regions: dict[str, tuple[str, ...]] = {"": ()}
        self.new = tuple.__new__
        # every column's cell in Point order; an absent column reads the "" appended last
        width = max(pos.values()) + 1
        self.fields = operator.itemgetter(*(i if i >= 0 else width for i in pos.values()))

    def fail(self, line: int, cells: list[str], name: str, reason: str) -> PointError:
        index = self.pos[name]
        value = cells[index].strip() if index >= 0 else ""
        return PointError(f"{self.path}:{line}: column {index + 1} ({name}={value!r}): {reason}")

    def __call__(self, line: int, cells: list[str]) -> Point:
        cells.append("")  # where absent optional columns point
        (point_id, rule, code_type, codes_text, related_text, low_text, high_text, value,
         basis, batch, from_text, until_text, regions_text) = [
            c.strip() for c in self.fields(cells)
        ]  # fmt: skip
        if not point_id:
            raise self.fail(line, cells, "point_id", "required")
        if rule not in self.rules:
            if not RULE_KEY.match(rule):
                raise self.fail(line, cells, "rule", "must be GZ + 14 digits or T2025-NN")
            self.rules.add(rule)
        strings = self.strings
        code_type = code_type or "item"
        if code_type not in CODE_TYPES:
            raise self.fail(line, cells, "code_type", f"must be one of {', '.join(CODE_TYPES)}")
        codes = (codes_text,) if codes_text and "|" not in codes_text else _pipe(codes_text)
        if not codes:
            raise self.fail(line, cells, "codes", "at least one code is required")
        low = self.number(line, cells, "min", low_text) if low_text else None
        high = self.number(line, cells, "max", high_text) if high_text else None
        if low is not None and high is not None and low > high:
            raise self.fail(line, cells, "min", f"min {low} is greater than max {high}")
        dates = self.dates
        start = (
            dates[from_text]
            if from_text in dates
            else self.date(line, cells, "effective_from", from_text)
        )
        end = (
            dates[until_text]
            if until_text in dates
            else self.date(line, cells, "effective_until", until_text)
        )
        if start is not None and end is not None and start > end:
            raise self.fail(
                line, cells, "effective_from",
                f"effective_from {start} is after effective_until {end}",
            )  # fmt: skip
        if not basis:
            raise self.fail(line, cells, "basis", "依据 is required")
        regions = self.regions.get(regions_text)
        if regions is None:
            regions = self.region_list(line, cells, regions_text)
        related = (
            (related_text,) if related_text and "|" not in related_text else _pipe(related_text)
        )
        get = strings.setdefault
        return self.new(
            Point,
            (
                point_id, get(rule, rule), get(code_type, code_type), codes, related, low,
                high, get(value, value), get(basis, basis), get(batch, batch), start, end,
                regions,
            ),
        )  # fmt: skip

    def number(self, line: int, cells: list[str], name: str, text: str) -> float:
        try:
            value = float(text)
        except ValueError as exc:
            raise self.fail(line, cells, name, str(exc)) from None
        if not math.isfinite(value):
            raise self.fail(line, cells, name, "must be a finite number")
        return value

    def date(self, line: int, cells: list[str], name: str, text: str) -> dt.date:
        try:
            day = self.dates[text] = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise self.fail(line, cells, name, str(exc)) from None
        return day

    def region_list(self, line: int, cells: list[str], text: str) -> tuple[str, ...]:
        regions = _pipe(text)
        for region in regions:
            if not REGION_PREFIX.match(region):
                raise self.fail(
                    line, cells, "regions", f"{region!r} is not a 2-6 digit 区划 prefix"
                )
        self.regions[text] = regions
        return regions


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
