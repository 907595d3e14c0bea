"""The rule-pack file format, as pydantic models: unknown fields are refused."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from claimguard.rules.taxonomy import AnyViolation

EventTypeName = Literal["precheck", "settle", "settled"]
NhsaCode = Annotated[str, Field(pattern=r"^(GZ\d{14}|T2025-\d{2})$")]
Interval = Literal["当次", "自然日", "自然月", "自然年"]
Scenario = Literal["门诊", "住院", "购药"]
ActionName = Literal["alert", "hold", "flag"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Message(_Spec):
    zh: str = Field(min_length=1, description="the reviewer's sentence, Chinese")
    en: str = Field(min_length=1, description="the same sentence, English")


class Effective(_Spec):
    from_: dt.date | None = Field(default=None, alias="from")
    until: dt.date | None = None


class Expected(_Spec):
    settlement: str
    action: ActionName
    items: list[str] | None = None


class CaseSpec(_Spec):
    name: str
    events: list[dict[str, Any]] = Field(min_length=1)
    knowledge: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="extra knowledge rows per file stem, e.g. items"
    )
    hits: list[Expected]


class RuleSpec(_Spec):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: int = Field(ge=1)
    title: str = ""
    violation: AnyViolation
    layer: Literal["norms", "policy", "authenticity"]
    subject: Literal["institution", "insured"]
    scope: Literal["item", "visit", "window", "points"]
    nhsa_code: NhsaCode | list[NhsaCode] | None = Field(
        default=None, description="the NHSA rule(s) this rule implements (GZ… or T2025-NN)"
    )
    result: Literal["明确违规", "可疑"] | None = Field(
        default=None, description="明确违规 may hold at settle; 可疑 alerts and flags only"
    )
    interval: Interval | None = Field(
        default=None, description="points rules: the period totals are taken over"
    )
    scenarios: list[Scenario] = Field(
        default_factory=list, description="points rules: 门诊/住院/购药 the rule runs on (all)"
    )
    institution_levels: list[Annotated[int, Field(ge=0, le=3)]] = Field(
        default_factory=list, description="points rules: institution levels it runs at (all)"
    )
    institution_kinds: list[Literal["hospital", "clinic", "pharmacy"]] = Field(
        default_factory=list, description="points rules: institution kinds it runs at (all)"
    )
    stages: dict[EventTypeName, ActionName] = Field(min_length=1)
    severity: Literal["low", "medium", "high"] = "medium"
    message: Message
    basis: str = Field(min_length=1, description="the regulation and article it rests on")
    params: dict[str, Any] = Field(default_factory=dict)
    applies_if: str | None = Field(
        default=None, description="item scope: condition on the catalog row only (indexed)"
    )
    when: str | None = None
    involves: str | None = Field(
        default=None, description="item scope: item ids involved besides the hit item"
    )
    check: str | None = Field(
        default=None, description="window scope: the kind of check; points scope: the rule type"
    )
    regions: list[Annotated[str, Field(pattern=r"^\d{2,6}$")]] = Field(
        default_factory=list,
        description="区划 prefixes (就医地) the rule is limited to: 2-6 digits",
    )
    overrides: str | None = Field(default=None, description="id of a rule this one replaces")
    effective: Effective | None = None
    mode: Literal["live", "shadow"] = Field(
        default="live",
        description="shadow: runs and stores its findings marked shadow, never decides",
    )
    tests: list[CaseSpec] = Field(default_factory=list)

    @property
    def nhsa_codes(self) -> tuple[str, ...]:
        code = self.nhsa_code
        if code is None:
            return ()
        return (code,) if isinstance(code, str) else tuple(code)


class PackSpec(_Spec):
    pack: str = Field(min_length=1)
    layer: Literal["norms", "policy", "authenticity"]
    description: str = ""
    rules: list[RuleSpec] = Field(min_length=1)
