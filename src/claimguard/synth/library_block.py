"""The library block of `claimguard synth`: knowledge points and events exercising every
implemented points rule type — its hits, its boundaries (exactly at each threshold) and its
clean uses — taken from the boundary cases written beside each rule in the packs.

Each case becomes its own small world: its item, diagnosis and operation codes are renamed
per case (so one case's points never touch another's events), its patients are new people,
and it runs at a real institution with a real doctor and department of the synthetic
geography, every item listed as covered without limits: the block adds no contract §3
finding. The whole block lies years before the background (LIBRARY_YEARS_BEFORE, so non-leap
years stay non-leap and ages in days keep) and is written first in events.jsonl: a replay's
clock guard never sees it arrive after the background.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from claimguard.library.points import COLUMNS, POINT_FILE
from claimguard.rules.casetest import build_events
from claimguard.rules.loader import RuleSet, load_packs
from claimguard.rules.spec import CaseSpec
from claimguard.synth.geography import Geography

LIBRARY_YEARS_BEFORE = 3  # 2026 → 2023: both non-leap, so day counts across February keep
_CODE = re.compile(r"\bT[A-Z][A-Z0-9]*\b")
_OPERATION = re.compile(r"\b\d{2}\.\d{4}\b")
_DATE = re.compile(r"\b(\d{4})(-\d{2}-\d{2})")


@dataclass
class LibraryBlock:
    events: list[bytes] = field(default_factory=list)  # JSON lines, in time order
    points: list[dict[str, str]] = field(default_factory=list)
    items: dict[str, str] = field(default_factory=dict)  # code → kind, for items.csv
    expected: list[dict[str, Any]] = field(default_factory=list)  # per rule under test
    settled: set[str] = field(default_factory=set)
    by_type: dict[str, int] = field(default_factory=dict)


def _shift(text: str, years: int) -> str:
    return _DATE.sub(lambda m: f"{int(m.group(1)) - years:04d}{m.group(2)}", text)


def _sites(geo: Geography) -> list[tuple[Any, Any, str]]:
    """Regular level-2 hospitals, each with one of its active doctors and a department they
    share (three, so stays can be at different hospitals: no 分解住院 between them)."""
    sites = []
    for inst in sorted(geo.institutions, key=lambda i: i.code):
        if inst.kind != "hospital" or inst.level != 2 or inst.status != "active":
            continue
        for doctor, department in geo.practice.get(inst.code, []):
            if doctor.status == "active" and department in inst.departments:
                sites.append((inst, doctor, department))
                break
        if len(sites) == 3:
            return sites
    raise ValueError("the synthetic geography has too few regular level-2 hospitals")


def _pharmacy(geo: Geography) -> Any:
    for inst in sorted(geo.institutions, key=lambda i: i.code):
        if inst.kind == "pharmacy" and inst.status == "active":
            return inst
    raise ValueError("the synthetic geography has no regular pharmacy")


def _exercised(ruleset: RuleSet) -> list[Any]:
    """The points rules, and the window rules of library codes (频繁购药, 频繁住院)."""
    from claimguard.rules.taxonomy import LIBRARY_TAXONOMY

    windows = [
        r for r in ruleset.window_rules if r.spec.violation in LIBRARY_TAXONOMY and r.spec.tests
    ]
    return [*ruleset.points_rules, *windows]


def build_block(geo: Geography, ruleset: RuleSet | None = None) -> LibraryBlock:
    ruleset = ruleset or load_packs()
    sites = _sites(geo)
    pharmacy = _pharmacy(geo)
    department = sites[0][2]  # the department tokens of the cases become this one
    block = LibraryBlock()
    timed: list[tuple[str, int, bytes]] = []
    number = 0
    for rule in _exercised(ruleset):
        rotate = rule.spec.scope == "window"  # its stays at different hospitals
        for case in rule.spec.tests:
            number += 1
            tag = f"L{number:03d}"
            text = orjson.dumps(case.model_dump()).decode()
            text = _CODE.sub(lambda m, tag=tag: f"{tag}{m.group(0)}", text)
            text = _OPERATION.sub(lambda m, n=number: f"{n % 100:02d}.{m.group(0)}", text)
            text = text.replace('"A0101"', f'"{department}01"').replace('"B02"', '"Z99"')
            text = text.replace('"A01"', f'"{department}"')
            renamed = CaseSpec.model_validate(orjson.loads(text))
            for row in renamed.knowledge.get("points", []):
                point = {c: str(row.get(c, "")) for c in COLUMNS}
                point["point_id"] = f"{tag}-{row['point_id']}"
                point["basis"] = f"synthetic knowledge point for {rule.spec.title}"
                point["batch"] = "SYNTH"
                block.points.append({k: _shift(v, LIBRARY_YEARS_BEFORE) for k, v in point.items()})
            sids: dict[str, str] = {}
            for index, shared in enumerate(build_events(renamed)):
                # build_events shares the base event's nested dicts: copy each event alone
                event = copy.deepcopy(shared)
                site = sites[index % len(sites)] if rotate else sites[0]
                if event["visit"]["visit_type"] == "pharmacy":
                    _localise(event, pharmacy, "", "", tag, index)
                else:
                    _localise(event, site[0], site[1].code, site[2], tag, index)
                sids[event["settlement_id"].removeprefix(tag)] = event["settlement_id"]
                for item in event["items"]:
                    block.items.setdefault(item["code"], item["kind"])
                line = _shift(orjson.dumps(event).decode(), LIBRARY_YEARS_BEFORE)
                timed.append((orjson.loads(line)["occurred_at"], len(timed), line.encode()))
                kind = event["event_type"]
                block.by_type[kind] = block.by_type.get(kind, 0) + 1
                if kind == "settled":
                    block.settled.add(event["settlement_id"])
            for hit in renamed.hits:
                block.expected.append(
                    {
                        "settlement_id": sids[hit.settlement],
                        "rule_id": rule.id,
                        "nhsa_code": rule.spec.nhsa_codes[0],
                        "action": hit.action,
                        "case": f"{tag} {case.name}",
                    }
                )
            block.expected.append({"case_settlements": sorted(sids.values()), "rule_id": rule.id})
    timed.sort(key=lambda t: (dt.datetime.fromisoformat(t[0]), t[1]))
    block.events = [line for _, _, line in timed]
    return block


def _localise(event: dict[str, Any], inst: Any, doctor: str, department: str, tag: str,
              index: int) -> None:  # fmt: skip
    """The case's event at the real site, with its own ids and people."""
    event["event_id"] = f"{tag}-E{index}"
    event["settlement_id"] = f"{tag}{event['settlement_id']}"
    institution = event["institution"]
    institution.update(code=inst.code, region=inst.region, kind=inst.kind)
    if inst.kind == "pharmacy":
        institution["level"] = inst.level
    visit = event["visit"]
    visit.update(doctor_code=doctor, department=department, visit_id=f"{tag}V{index}")
    patient = event["patient"]
    patient["person_id"] = f"P{tag}{patient['person_id']}"
    patient["insured_region"] = inst.region
    occurred = dt.datetime.fromisoformat(event["occurred_at"])
    for position, item in enumerate(event["items"]):
        # distinct charge times: two lines of one code at one time are a duplicate charge
        if position and item.get("performed_at") == event["occurred_at"]:
            item["performed_at"] = (occurred - dt.timedelta(minutes=position)).isoformat()


def write_library(out: Path, block: LibraryBlock) -> None:
    """knowledge/knowledge_points.csv, the block's items appended to items.csv (covered, no
    limits), and library_expected.jsonl: per case, the hits of the rule under test."""
    knowledge = out / "knowledge"
    with (knowledge / POINT_FILE).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(block.points)
    with (knowledge / "items.csv").open("a", encoding="utf-8", newline="") as handle:
        rows = csv.writer(handle, lineterminator="\n")
        for code, kind in sorted(block.items.items()):
            rows.writerow([code, kind, f"规则库样例 {code}", "true", *[""] * 10])
    with (out / "library_expected.jsonl").open("wb") as handle:
        for row in block.expected:
            handle.write(orjson.dumps(row) + b"\n")


def prepend_block(path: Path, lines: list[bytes]) -> None:
    """Put the block before the events already written (streamed, not read whole)."""
    if not lines:
        return
    staged = path.with_suffix(".staged")
    with staged.open("wb") as target:
        target.write(b"\n".join(lines) + b"\n")
        with path.open("rb") as source:
            shutil.copyfileobj(source, target, 1 << 20)
    os.replace(staged, path)
