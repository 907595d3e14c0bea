"""Decisions → the national 3101/3102 answer (contract §8.2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from claimguard.rules import RuleSet
from claimguard.rules.taxonomy import ALL_TAXONOMY

BEIJING = ZoneInfo("Asia/Shanghai")
REPORTED_ACTIONS = ("alert", "hold")


def national_time(moment: dt.datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` in Beijing time, as the national platform writes times."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def severity_degree(violation: str) -> str:
    """`1` 明确违规 for the codes that hold at settle (contract §3), `2` 可疑 for the rest."""
    known = ALL_TAXONOMY.get(violation)  # the contract's codes and the library's
    return "1" if known is not None and known.settle_action == "hold" else "2"


@dataclass(frozen=True)
class RuleTexts:
    """rule_id → (title, basis), read from the same rule packs the worker runs."""

    texts: Mapping[str, tuple[str, str]]

    @classmethod
    def of(cls, ruleset: RuleSet) -> RuleTexts:
        return cls({r.id: (r.spec.title, r.spec.basis) for r in ruleset.rules})

    def title(self, rule_id: str) -> str:
        return self.texts.get(rule_id, ("", ""))[0]

    def basis(self, rule_id: str) -> str:
        return self.texts.get(rule_id, ("", ""))[1]


@dataclass(frozen=True)
class Answered:
    """One event of the request and what became of it."""

    event_id: str
    patn_id: str
    mdtrt_id: str
    amounts: Mapping[str, float]  # item_id → amount, for the detail dtos
    decision: Mapping[str, Any] | None  # None: no decision within the deadline


def result_entries(answered: Answered, texts: RuleTexts) -> list[dict[str, Any]]:
    if answered.decision is None:
        return []
    entries = []
    for finding in answered.decision.get("findings", []):
        if finding.get("action") not in REPORTED_ACTIONS:
            continue
        finding_id = finding["finding_id"]
        rule_id = finding["rule_id"]
        entries.append(
            {
                "jr_id": finding_id,
                "rule_id": rule_id,
                "rule_name": texts.title(rule_id),
                "vola_bhvr_type": finding["violation"],
                "sev_deg": severity_degree(finding["violation"]),
                "vola_cont": finding.get("message", ""),
                "vola_evid": texts.basis(rule_id),
                "vola_amt": finding.get("amount", 0.0),
                "patn_id": answered.patn_id,
                "mdtrt_id": answered.mdtrt_id,
                "judge_result_detail_dtos": [
                    {
                        "jrd_id": f"{finding_id}:{item_id}",
                        "patn_id": answered.patn_id,
                        "mdtrt_id": answered.mdtrt_id,
                        "rx_id": item_id,
                        "vola_item_type": "1",
                        "vola_amt": answered.amounts.get(item_id, 0.0),
                    }
                    for item_id in finding.get("item_ids", [])
                ],
            }
        )
    return entries


def answer(
    msgid: str,
    received: dt.datetime,
    events: list[Answered],
    texts: RuleTexts,
) -> dict[str, Any]:
    result: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for answered in events:
        result.extend(result_entries(answered, texts))
        decision = answered.decision
        summary.append(
            {
                "event_id": answered.event_id,
                "verdict": decision["verdict"] if decision is not None else "pass",
                "unchecked": decision is None,
            }
        )
    return {
        "infcode": "0",
        "err_msg": "",
        "inf_refmsgid": msgid,
        "refmsg_time": national_time(received),
        "respond_time": national_time(dt.datetime.now(dt.UTC)),
        "output": {"result": result, "claimguard": summary},
    }


def refusal(msgid: str, received: dt.datetime, err_msg: str) -> dict[str, Any]:
    """`infcode -1`: the request was not understood (or not recorded); nothing happened."""
    return {
        "infcode": "-1",
        "err_msg": err_msg,
        "inf_refmsgid": msgid,
        "refmsg_time": national_time(received),
        "respond_time": national_time(dt.datetime.now(dt.UTC)),
        "output": {},
    }
