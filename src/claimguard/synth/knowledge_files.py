"""Write the knowledge base: the CSV files of contract §2, with exactly its columns."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from claimguard.synth.catalog import Catalog
from claimguard.synth.clock import Clock
from claimguard.synth.geography import COUNTIES, Geography
from claimguard.synth.population import Person

ITEM_COLUMNS = (
    "code",
    "kind",
    "name",
    "covered",
    "gender",
    "age_min",
    "age_max",
    "indications",
    "max_unit_price",
    "max_daily_quantity",
    "max_days_supply",
    "max_per_day",
    "min_institution_level",
    "excludes",
)
INSTITUTION_COLUMNS = (
    "code",
    "name",
    "kind",
    "level",
    "region",
    "agreement_status",
    "suspended_from",
    "suspended_to",
    "departments",
)
DOCTOR_COLUMNS = ("code", "name", "institution_code", "departments", "status")
PERSON_COLUMNS = ("person_id", "deceased_on")
REGION_COLUMNS = ("code", "name", "parent")
NATIONAL = "000000"


def _blank(value: object) -> str:
    return "" if value is None else str(value)


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([_blank(v) for v in row] for row in rows)


def write_knowledge(
    directory: Path, clock: Clock, catalog: Catalog, geo: Geography, persons: list[Person]
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    _write(
        directory / "items.csv",
        ITEM_COLUMNS,
        (
            (
                i.code,
                i.kind,
                i.name,
                "true" if i.covered else "false",
                i.gender,
                i.age_min,
                i.age_max,
                "|".join(i.indications),
                f"{i.max_unit_price:.2f}",
                i.max_daily_quantity,
                i.max_days_supply,
                i.max_per_day,
                i.min_institution_level,
                "|".join(i.excludes),
            )
            for i in catalog.items
        ),
    )

    def day(d: int | None) -> str:
        return "" if d is None else clock.date(d).isoformat()

    _write(
        directory / "institutions.csv",
        INSTITUTION_COLUMNS,
        (
            (
                i.code,
                i.name,
                i.kind,
                i.level,
                i.region,
                i.status,
                day(i.suspended_from),
                day(i.suspended_to),
                "|".join(i.departments),
            )
            for i in geo.institutions
        ),
    )
    _write(
        directory / "doctors.csv",
        DOCTOR_COLUMNS,
        (
            (d.code, d.name, d.institution_code, "|".join(d.departments), d.status)
            for d in geo.doctors
        ),
    )
    _write(
        directory / "persons.csv",
        PERSON_COLUMNS,
        ((p.person_id, p.deceased_on.isoformat() if p.deceased_on else "") for p in persons),
    )
    # Parents here agree with the ones derived from the codes (contract §5); the file
    # gives names, and shows the 省直辖县级 and municipality cases explicitly.
    regions: dict[str, tuple[str, str]] = {}
    for c in COUNTIES:
        regions[c.code] = (c.name, c.parent)
        if c.parent != c.province:
            regions[c.parent] = (c.parent_name, c.province)
        regions[c.province] = (c.province_name, NATIONAL)
    _write(
        directory / "regions.csv",
        REGION_COLUMNS,
        ((code, name, parent) for code, (name, parent) in sorted(regions.items())),
    )
