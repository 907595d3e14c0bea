"""`generate`: knowledge CSVs, an ordered event file with injected violations, and the
list of what was injected, all from one seed."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from claimguard.synth.background import PRECHECK_SHARE, background_patient
from claimguard.synth.catalog import build_catalog
from claimguard.synth.clock import Clock
from claimguard.synth.edge_cases import EdgeCases
from claimguard.synth.events_file import EventsWriter
from claimguard.synth.geography import Geography
from claimguard.synth.injections import Injector
from claimguard.synth.knowledge_files import write_knowledge
from claimguard.synth.library_block import build_block, prepend_block, write_library
from claimguard.synth.population import People
from claimguard.synth.settlement import Settlement
from claimguard.synth.violations import VIOLATIONS
from claimguard.synth.visits import Visits
from claimguard.synth.world import World

MIN_DAYS = 42  # several weeks, so the 15- and 30-day windows have room to matter
SETTLEMENTS_PER_DAY = 5000
INJECTION_RATE = 0.004  # scenarios per settlement, per code
MIN_INJECTIONS = 3
SETTLEMENTS_PER_EXTRA = 10_000  # one more edge-case round, reversal and redelivery per this
LIVING_PERSONS_LISTED = 5


@dataclass(slots=True)
class SynthSummary:
    out: Path
    days: int
    events: int  # lines of events.jsonl, broken and redelivered ones included
    settlements: int
    patients: int
    broken_lines: int
    reversals: int
    redelivered: int
    events_by_type: dict[str, int] = field(default_factory=dict)
    injected: dict[str, int] = field(default_factory=dict)  # flagged settlements per code
    library_events: int = 0  # events of the library block (written first)
    library_hits: int = 0  # findings the library block expects (library_expected.jsonl)

    def __str__(self) -> str:
        types = ", ".join(f"{k} {v}" for k, v in sorted(self.events_by_type.items()))
        width = max(len(code) for code in self.injected) if self.injected else 0
        rows = "\n".join(f"  {code:<{width}}  {n:>5}" for code, n in self.injected.items())
        return (
            f"synthetic data in {self.out} ({self.days} days)\n"
            f"events        {self.events:>8}  ({types}; {self.redelivered} redelivered)\n"
            f"settlements   {self.settlements:>8}\n"
            f"patients      {self.patients:>8}\n"
            f"reversals     {self.reversals:>8}\n"
            f"broken lines  {self.broken_lines:>8}\n"
            f"injected      {sum(self.injected.values()):>8}\n{rows}\n"
            f"library block {self.library_events:>8} events, {self.library_hits} expected "
            "rule-type hits (library_expected.jsonl)"
        )


def default_days(settlements: int) -> int:
    return max(MIN_DAYS, math.ceil(settlements / SETTLEMENTS_PER_DAY))


def generate(
    out: Path,
    settlements: int,
    seed: int,
    *,
    days: int | None = None,
    injection_rate: float = INJECTION_RATE,
) -> SynthSummary:
    """Write `out/knowledge/*.csv`, `out/events.jsonl` and `out/injected.jsonl`.

    `settlements` counts every settlement, injected and edge cases included; when it is
    too small for the minimum injections, those still all happen. `days` defaults to
    several weeks; with fewer than 31, scenarios that need a longer window (frequent
    visits, readmissions) run past the last day rather than being dropped.
    """
    out = Path(out)
    rng = random.Random(seed)
    days = days or default_days(settlements)
    clock = Clock()
    rounds = 1 + settlements // SETTLEMENTS_PER_EXTRA
    catalog = build_catalog(rng)
    geo = Geography(rng, days, scale=1 + settlements // 50_000)
    world = World(rng, clock, days, catalog, geo, People(rng, clock.start))
    visits = Visits(world)
    # NHSA rule types over knowledge points: a block of its own, years before the rest
    library = build_block(geo)

    plan: list[Settlement] = []
    injected: list[tuple[Settlement, str, str]] = []
    injector = Injector(world, visits)
    per_code = max(MIN_INJECTIONS, round(settlements * injection_rate))
    for _ in range(per_code):
        for code in VIOLATIONS:
            injection = injector.inject(code)
            plan.extend(injection.settlements)
            injected.extend((s, code, injection.variant) for s in injection.flagged)

    edges = EdgeCases(world, visits)
    edge_plan: list[Settlement] = []
    for _ in range(rounds):
        for case in edges.cases.values():
            edge_plan.extend(case())
    for s in edge_plan:
        s.precheck = rng.random() < PRECHECK_SHARE
    plan.extend(edge_plan)

    background: list[Settlement] = []
    wanted = settlements - len(library.settled)
    while len(plan) + len(background) < wanted:
        background.extend(background_patient(world, visits, wanted - len(plan) - len(background)))
    plan.extend(background)

    # Reversals and redeliveries of plain background settlements; the edge cases add the
    # ones that would change a cross-event count if mishandled.
    walk_ins = [s for s in background if s.visit_type != "inpatient"]
    for s in rng.sample(walk_ins, min(len(walk_ins), rounds)):
        s.reversal_at = s.at + rng.randint(30, 600)
        s.reversal_full = rng.random() < 0.5
    for s in rng.sample(background, min(len(background), rounds)):
        s.redeliver = s.redeliver or "settled"
    single = [
        s
        for s, code, _ in injected
        if s.visit_type == "outpatient"
        and code in ("GENDER_MISMATCH", "NON_COVERED_ITEM", "PRICE_OVER_CAP")
    ]
    rng.shuffle(single)
    if single:
        single.pop().redeliver = "settle"  # a held settle, delivered twice
    for s in single[:rounds]:  # flagged, then cancelled: its findings become reversed
        s.reversal_at = s.at + rng.randint(60, 1440)
        s.reversal_full = rng.random() < 0.5

    out.mkdir(parents=True, exist_ok=True)
    patients = {s.person.person_id: s.person for s in plan}
    listed = [p for p in patients.values() if p.deceased_on is not None]
    living = [p for p in patients.values() if p.deceased_on is None]
    listed += rng.sample(living, min(len(living), LIVING_PERSONS_LISTED))
    write_knowledge(
        out / "knowledge", clock, catalog, geo, sorted(listed, key=lambda p: p.person_id)
    )

    stats = EventsWriter(clock, plan, rng).write(out / "events.jsonl")
    write_library(out, library)
    prepend_block(out / "events.jsonl", library.events)
    for kind, n in library.by_type.items():
        stats.by_type[kind] += n
    with (out / "injected.jsonl").open("wb") as handle:
        for s, code, variant in injected:
            row: dict[str, object] = {
                "settlement_id": s.settlement_id,
                "violation": code,
                "variant": variant,
            }
            if s.reversal_at is not None:
                row["reversed"] = True
            handle.write(orjson.dumps(row) + b"\n")

    counts = Counter(code for _, code, _ in injected)
    return SynthSummary(
        out=out,
        days=days,
        events=stats.lines + len(library.events),
        settlements=len(plan) + len(library.settled),
        patients=len(patients),
        broken_lines=stats.broken,
        reversals=stats.by_type["reversal"],
        redelivered=stats.redelivered,
        events_by_type=dict(stats.by_type),
        injected={code: counts[code] for code in VIOLATIONS},
        library_events=len(library.events),
        library_hits=sum("action" in row for row in library.expected),
    )
