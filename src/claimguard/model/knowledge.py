"""Knowledge-base rows (contract §2). Lists arrive `|`-separated; empty means no restriction."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _split(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split("|") if part.strip())
    return value


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


PipeList = Annotated[tuple[str, ...], BeforeValidator(_split)]
OptInt = Annotated[int | None, BeforeValidator(_blank_is_none)]
OptFloat = Annotated[float | None, BeforeValidator(_blank_is_none)]
OptDate = Annotated[dt.date | None, BeforeValidator(_blank_is_none)]
OptGender = Annotated[Literal["M", "F"] | None, BeforeValidator(_blank_is_none)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)


class ItemRow(_Row):
    code: str = Field(min_length=1)
    kind: Literal["drug", "service", "consumable"]
    name: str = ""
    covered: bool = Field(description="in the 医保目录")
    gender: OptGender = None
    age_min: OptInt = Field(default=None, ge=0)
    age_max: OptInt = Field(default=None, ge=0)
    indications: PipeList = Field(default=(), description="ICD-10 prefixes")
    max_unit_price: OptFloat = Field(default=None, ge=0)
    max_daily_quantity: OptFloat = Field(default=None, gt=0)
    max_days_supply: OptInt = Field(default=None, ge=1)
    max_per_day: OptFloat = Field(default=None, gt=0)
    min_institution_level: OptInt = Field(default=None, ge=0, le=3)
    excludes: PipeList = Field(default=(), description="codes not billable together with this one")


class InstitutionRow(_Row):
    code: str = Field(min_length=1)
    name: str = ""
    kind: Literal["hospital", "clinic", "pharmacy"]
    level: int = Field(ge=0, le=3)
    region: str = Field(pattern=r"^\d{6}$")
    agreement_status: Literal["active", "suspended", "terminated"]
    suspended_from: OptDate = None
    suspended_to: OptDate = None
    departments: PipeList = ()

    def suspended_on(self, day: dt.date) -> bool:
        """Whether the service agreement is not in force on `day` (contract §2)."""
        if self.agreement_status == "suspended":
            start = self.suspended_from or dt.date.min
            end = self.suspended_to or dt.date.max
            return start <= day <= end
        if self.agreement_status == "terminated":
            return self.suspended_from is None or day >= self.suspended_from
        return False


class DoctorRow(_Row):
    code: str = Field(min_length=1)
    name: str = ""
    institution_code: str = ""
    departments: PipeList = ()
    status: Literal["active", "suspended"]


class PersonRow(_Row):
    person_id: str = Field(min_length=1)
    deceased_on: OptDate = None


class RegionRow(_Row):
    code: str = Field(pattern=r"^\d{6}$")
    name: str = ""
    parent: str = Field(pattern=r"^\d{6}$")
