"""Settlement events (contract §1)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

EventType = Literal["precheck", "settle", "settled", "reversal"]
EVENT_TYPES: tuple[EventType, ...] = ("precheck", "settle", "settled", "reversal")
VisitType = Literal["outpatient", "inpatient", "pharmacy"]
ItemKind = Literal["drug", "service", "consumable"]
RegionCode = Annotated[str, Field(pattern=r"^\d{6}$")]

# Bounds that keep every accepted value storable and its arithmetic exact enough: the store
# keeps amounts as Decimal(18, 4) (< 10^14), a finding sums up to MAX_ITEMS amounts, and
# DateTime64(3) holds 1900-01-01 .. 2299-12-31. A number must be a JSON number: strings such
# as "Infinity" or "1e3" are refused, and so are NaN and infinities.
MAX_MONEY = 1_000_000_000.0  # CNY per item amount or unit price
MAX_QUANTITY = 1_000_000_000.0
MAX_ITEMS = 10_000  # items per settlement: MAX_ITEMS * MAX_MONEY = 10^13 < 10^14
MAX_DAYS_SUPPLY = 3_660
MIN_YEAR, MAX_YEAR = 1901, 2298  # inside DateTime64's range whatever the offset


def _storable_time(value: dt.datetime) -> dt.datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year {value.year} is outside {MIN_YEAR}..{MAX_YEAR}")
    return value


def _storable_date(value: dt.date) -> dt.date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year {value.year} is outside {MIN_YEAR}..{MAX_YEAR}")
    return value


Time = Annotated[AwareDatetime, AfterValidator(_storable_time)]
Day = Annotated[dt.date, AfterValidator(_storable_date)]
Money = Annotated[float, Field(strict=True, ge=0, le=MAX_MONEY, allow_inf_nan=False)]
Quantity = Annotated[float, Field(strict=True, gt=0, le=MAX_QUANTITY, allow_inf_nan=False)]


class _Model(BaseModel):
    # Unknown extra fields are ignored (contract §1); models are read-only once decoded.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class Visit(_Model):
    visit_id: str
    visit_type: VisitType
    admitted_at: Time | None = None
    discharged_at: Time | None = None
    department: str
    doctor_code: str
    diagnoses: list[str] = Field(description="ICD-10 codes; the first is the primary diagnosis")
    prescription_holder_id: str | None = Field(
        default=None, description="pharmacy: the person named on the prescription (处方使用人)"
    )
    # Optional (library rule types); absent, a v1.1 event means what it meant before.
    insurance_type: Literal["basic", "work_injury", "maternity"] | None = Field(
        default=None, description="险种 detail: basic (基本医疗, the default), 工伤 or 生育"
    )
    operations: list[str] = Field(
        default_factory=list, description="手术操作 codes (ICD-9-CM-3), the main one first"
    )
    channel: Literal["onsite", "internet"] | None = Field(
        default=None, description="internet: settled through a 互联网医院"
    )
    antibiotic_authority: int | None = Field(
        default=None,
        ge=1,
        le=3,
        description="the prescriber's 抗菌药物处方权: 1 非限制, 2 限制, 3 特殊使用级",
    )

    @model_validator(mode="after")
    def _stay_times(self) -> Visit:
        if self.visit_type == "inpatient" and self.admitted_at is None:
            raise ValueError("visit.admitted_at is required for an inpatient visit")
        if (
            self.admitted_at is not None
            and self.discharged_at is not None
            and self.discharged_at < self.admitted_at
        ):
            raise ValueError("visit.discharged_at is before visit.admitted_at")
        return self


class Institution(_Model):
    code: str = Field(pattern=r"^[HP]\d{11}$", description="定点医药机构代码")
    level: int = Field(ge=0, le=3, description="0 unrated/pharmacy, 1/2/3 = 一级/二级/三级")
    kind: Literal["hospital", "clinic", "pharmacy"]
    region: RegionCode = Field(description="就医地 行政区划代码")


class Patient(_Model):
    person_id: str = Field(min_length=1, description="人员编号 (pseudonymous)")
    gender: Literal["M", "F"]
    birth_date: Day
    insured_region: RegionCode = Field(description="参保地")
    scheme: Literal["employee", "resident"]
    pregnancy: Literal["pregnant", "lactating"] | None = Field(
        default=None, description="妊娠期 / 哺乳期, when known"
    )
    chronic_diseases: list[str] = Field(
        default_factory=list, description="ICD-10 codes of the 门慢门特 diseases registered"
    )


class Item(_Model):
    item_id: str
    code: str = Field(min_length=1)
    kind: ItemKind
    quantity: Quantity
    unit_price: Money
    amount: Money
    days: int | None = Field(
        default=None, strict=True, ge=1, le=MAX_DAYS_SUPPLY, description="drugs: days of supply"
    )
    performed_at: Time | None = None
    self_paid: bool = False
    department: str | None = Field(default=None, description="the ordering department (开单科室)")
    uploaded_at: Time | None = Field(default=None, description="when the line was uploaded")
    group: str | None = Field(
        default=None, description="prescription / TCM decoction (中药饮片处方) the line belongs to"
    )


class Event(_Model):
    event_id: str = Field(min_length=1)
    event_type: EventType
    occurred_at: Time
    settlement_id: str = Field(min_length=1)
    visit: Visit | None = None
    institution: Institution | None = None
    patient: Patient | None = None
    items: list[Item] | None = Field(default=None, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _required_for_type(self) -> Event:
        if self.event_type == "reversal":
            return self
        missing = [
            name
            for name in ("visit", "institution", "patient", "items")
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"{self.event_type} event lacks {', '.join(missing)}")
        assert self.visit is not None and self.items is not None
        if (
            self.event_type == "settled"
            and self.visit.visit_type == "inpatient"
            and self.visit.discharged_at is None
        ):
            raise ValueError("a settled inpatient visit needs visit.discharged_at")
        seen: set[str] = set()
        for item in self.items:
            if item.item_id in seen:
                raise ValueError(f"item_id {item.item_id!r} is not unique within the settlement")
            seen.add(item.item_id)
        return self

    @property
    def date(self) -> dt.date:
        """The event date: the calendar date of `occurred_at` in its own offset."""
        return self.occurred_at.date()
