"""Findings and decisions (contract §4, §7)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Layer = Literal["norms", "policy", "authenticity"]
Stage = Literal["pre", "in", "post"]
Action = Literal["alert", "hold", "flag"]
Subject = Literal["institution", "insured"]
Verdict = Literal["pass", "alert", "hold"]
Level = Literal["county", "city", "province", "national"]

ACTIONS: tuple[Action, ...] = ("alert", "hold", "flag")
STAGE_OF_EVENT: dict[str, Stage] = {"precheck": "pre", "settle": "in", "settled": "post"}


class Finding(BaseModel):
    """One rule hit on one event. `finding_id` is deterministic, so redelivery adds nothing."""

    model_config = ConfigDict(extra="ignore")

    finding_id: str = Field(description="hash of event_id, rule_id and the flagged settlement")
    event_id: str
    settlement_id: str
    event_type: Literal["precheck", "settle", "settled"]
    occurred_at: dt.datetime = Field(description="event time of the flagged settlement")
    rule_id: str
    rule_version: int
    violation: str
    layer: Layer
    stage: Stage
    action: Action
    severity: Literal["low", "medium", "high"] = "medium"
    item_ids: list[str] = Field(default_factory=list)
    amount: float = Field(description="CNY at risk")
    subject: Subject
    institution_code: str
    institution_region: str
    person_id: str
    insured_region: str
    assigned_region: str
    assigned_level: Level
    notify_regions: list[str] = Field(default_factory=list)
    message: str
    message_en: str = ""
    reversed: bool = False
    # Rule lifecycle (issue 11): a shadow rule's finding never decides; which pack made it.
    shadow: bool = Field(default=False, description="from a rule in shadow mode: never decides")
    pack_digest: str = Field(default="", description="digest of the rule's pack file")


class Decision(BaseModel):
    """The answer to one precheck or settle event on `claims.decisions`."""

    event_id: str
    settlement_id: str
    event_type: Literal["precheck", "settle"]
    verdict: Verdict
    findings: list[Finding]
    decided_at: dt.datetime


def verdict_of(findings: list[Finding]) -> Verdict:
    """hold if any finding holds, else alert if any alerts, else pass (contract §7).
    Shadow findings never count."""
    actions = {f.action for f in findings if not f.shadow}
    if "hold" in actions:
        return "hold"
    if "alert" in actions:
        return "alert"
    return "pass"
