"""Replay benchmark, one core, one run; every figure measured side by side:

1. replay: the full path of `claimguard replay` (ReplaySession: orjson + pydantic decode,
   indexed stateless rules, cross-event windows, routing, findings and dead letters encoded
   as JSON lines) over lines already in memory: file reading is left out;
2. pass-through: decode the same lines and encode each event again, nothing else;
3. the stateless rules alone, ours against the same rules translated into durable_rules;
4. replay again with 100 and 1,000 extra rules that cannot apply (rule-index cost);
5. knowledge points at the 2025 edition's size: 250,000 rows loaded (time, extra memory),
   and replay with them beside replay with today's knowledge base. Every item code and
   diagnosis of the data has points that apply to it and do not fire (their checks run on
   every event), the rest name codes the data lacks (the index skips them).

    .venv/bin/python benchmarks/replay.py [--events 100000] [--seed 1] [--repeat 3]

Rates are events per second of wall time, best of --repeat runs (CPU time is printed too).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from claimguard.decode import DecodeError, decode
from claimguard.engine import Engine, PatientHistory
from claimguard.knowledge import load_knowledge
from claimguard.model import Event
from claimguard.replay import ReplaySession, fewer_old_collections, finding_lines
from claimguard.routing import Router
from claimguard.rules import RuleSet, load_packs
from claimguard.rules.loader import default_rules_dir

TARGET_REPLAY = 25_000  # events/s on one core
POINT_ROWS = 250_000
TARGET_POINT_LOAD_S = 5.0
TARGET_POINT_MB = 500.0
TARGET_POINT_RATIO = 0.8
TARGET_PASS_RATIO = 1 / 3
TARGET_PEER_RATIO = 50.0
EXTRA_RULE_COUNTS = (100, 1_000)
ABSENT_REGION = "990101"  # no 区划 starts with 99
EVENTS_PER_SETTLEMENT = 2.0  # synth writes ~2.1 lines per settlement; take the first N


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Timing:
    events: int
    wall: float  # seconds, best run
    cpu: float  # process CPU seconds of that run

    @property
    def rate(self) -> float:
        return self.events / self.wall

    @property
    def cpu_rate(self) -> float:
        return self.events / self.cpu if self.cpu else math.inf

    @property
    def micros(self) -> float:
        return 1e6 * self.wall / self.events


def timed(events: int, run: Callable[[], Any]) -> tuple[Timing, Any]:
    gc.collect()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    out = run()
    return Timing(events, time.perf_counter() - wall0, time.process_time() - cpu0), out


def interleaved(
    repeat: int, runs: dict[str, tuple[int, Callable[[], Any]]]
) -> dict[str, tuple[Timing, Any]]:
    """Run every measurement once per round, `repeat` rounds; keep each one's fastest run.
    Interleaving puts the figures that are compared with each other in the same stretch of
    time, so a noisy neighbour on the machine cannot favour one of them."""
    best: dict[str, tuple[Timing, Any]] = {}
    names = list(runs)
    for round_ in range(repeat):
        shift = round_ % len(names)  # rotate, so that no figure always runs first or last
        for name in names[shift:] + names[:shift]:
            events, run = runs[name]
            t, out = timed(events, run)
            if name not in best or t.wall < best[name][0].wall:
                best[name] = (t, out)
    return best


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
        return "pinned to CPU 0"
    return "not pinned (no sched_setaffinity here)"


# -- data ---------------------------------------------------------------------------------


def synthetic_lines(out: Path, events: int, seed: int) -> tuple[Path, list[bytes]]:
    """Generate with synth until the file has `events` lines; keep the first `events`."""
    from claimguard.synth import generate

    settlements = math.ceil(events / EVENTS_PER_SETTLEMENT)
    while True:
        generate(out, settlements=settlements, seed=seed)
        with (out / "events.jsonl").open("rb") as handle:
            lines = [line for line in handle if line.strip()]
        if len(lines) >= events:
            return out / "knowledge", lines[:events]
        settlements = math.ceil(settlements * 1.25)


def decoded(lines: Iterable[bytes]) -> list[Event]:
    out = []
    for raw in lines:
        try:
            out.append(decode(raw))
        except DecodeError:
            continue
    return out


# -- the measured paths -------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayResult:
    findings: int
    summary: str


def replay_once(engine: Engine, lines: list[bytes]) -> ReplayResult:
    """What `claimguard replay` does between reading the file and writing the bytes. Only a
    summary is returned: a session kept alive would slow every later measurement's GC."""
    session = ReplaySession(engine)
    session.run(lines)
    b"".join(finding_lines(session.findings.values()))
    b"".join(d.to_json() for d in session.dead_letters)
    return ReplayResult(len(session.findings), session.summary())


def pass_through(lines: list[bytes]) -> int:
    """Decode each line as replay does, then encode the event back to JSON with orjson."""
    written = 0
    with fewer_old_collections():  # the same GC settings replay runs under
        for raw in lines:
            try:
                event = decode(raw)
            except DecodeError:
                continue
            written += len(orjson.dumps(event.model_dump(mode="json")))
    return written


def decode_only(lines: list[bytes]) -> int:
    count = 0
    with fewer_old_collections():
        for raw in lines:
            try:
                decode(raw)
            except DecodeError:
                continue
            count += 1
    return count


def engine_only(engine: Engine, events: list[Event]) -> int:
    """Engine.process over decoded events with replay's history bookkeeping; no I/O."""
    histories: dict[str, PatientHistory] = {}
    owners: dict[str, str] = {}
    findings = 0
    with fewer_old_collections():
        for event in events:
            person = engine.person_of(event) or owners.get(event.settlement_id)
            if person is None:
                history = PatientHistory()
            else:
                owners.setdefault(event.settlement_id, person)
                history = histories.get(person)
                if history is None:
                    history = histories[person] = PatientHistory()
            findings += len(engine.process(event, history).findings)
    return findings


def stateless_hits(engine: Engine, events: list[Event]) -> Counter[str]:
    """Our item and visit rules alone: hits per violation, one per item (or per visit)."""
    hits: Counter[str] = Counter()
    evaluate = engine.stateless.evaluate
    with fewer_old_collections():
        for event in events:
            if event.event_type == "reversal":
                continue  # the engine evaluates no rule on a reversal either
            for hit in evaluate(event):
                hits[hit.rule.spec.violation] += len(hit.items) or 1
    return hits


# -- extra rules that cannot apply --------------------------------------------------------

EXTRA_ITEM_RULE = """\
  - id: bench.absent-code-{n:04d}
    version: 1
    violation: PRICE_OVER_CAP
    layer: policy
    subject: institution
    scope: item
    stages: {{precheck: alert, settle: hold, settled: flag}}
    applies_if: ref.code == "BENCH-ABSENT-{n:04d}"
    when: item.unit_price >= 0
    message: {{zh: "基准测试规则 {n}", en: "benchmark rule {n}"}}
    basis: benchmarks/replay.py
"""
EXTRA_VISIT_RULE = """\
  - id: bench.absent-region-{n:04d}
    version: 1
    violation: SUSPENDED_INSTITUTION
    layer: policy
    subject: institution
    scope: visit
    stages: {{precheck: alert, settle: hold, settled: flag}}
    regions: ["{region}"]
    when: event_date != null
    message: {{zh: "基准测试规则 {n}", en: "benchmark rule {n}"}}
    basis: benchmarks/replay.py
"""


def packs_with_extra_rules(root: Path, count: int) -> Path:
    """The default packs plus `count` valid rules, half item rules on codes absent from the
    catalog, half visit rules of a region absent from the data. Each would fire on every
    event if the index let it through, so equal findings prove it did not."""
    target = root / f"rules-plus-{count}"
    shutil.copytree(default_rules_dir(), target)
    body = ["pack: bench.extra", "layer: policy", "description: rules that never apply", "rules:"]
    for n in range(count):
        template = EXTRA_ITEM_RULE if n % 2 == 0 else EXTRA_VISIT_RULE
        body.append(template.format(n=n, region=ABSENT_REGION).rstrip("\n"))
    (target / "policy" / "bench-extra.yaml").write_text("\n".join(body) + "\n", encoding="utf-8")
    return target


# -- knowledge points at scale ------------------------------------------------------------

# Rule types whose points, with these parameters, apply to any item and never fire: the
# check runs (the cost that must stay flat), the answer is always "no".
APPLYING_ITEM_POINTS = (
    ("GZ10000102001000", "", "", "1000000000", ""),  # price cap far above any price
    ("GZ10000101007000", "", "0", "200", ""),  # age range everyone is in
    ("GZ10000101012000", "", "0", "", ""),  # any institution level
    ("GZ10000101009000", "", "", "3660", ""),  # days of supply within the model's bound
    ("GZ10000301011000", "BENCH-NEVER-BILLED", "", "", ""),  # interacts with a code never billed
)
APPLYING_DIAGNOSIS_POINTS = (("GZ10000204007000", "", "0", "200", ""),)  # age fits


def points_knowledge(root: Path, knowledge: Path, kb: Any, events: list[Event]) -> tuple[Path, int]:
    """A copy of `knowledge` with POINT_ROWS knowledge points; → (dir, rows that apply)."""
    from claimguard.library.points import COLUMNS

    target = root / "knowledge-points"
    shutil.copytree(knowledge, target)
    diagnoses = sorted({d[:3] for e in events if e.visit for d in e.visit.diagnoses})
    rows: list[str] = []

    def add(rule: str, code_type: str, code: str, related: str, low: str, high: str,
            value: str) -> None:  # fmt: skip
        values = {
            "point_id": f"B{len(rows):07d}", "rule": rule, "code_type": code_type,
            "codes": code, "related": related, "min": low, "max": high, "value": value,
            "basis": "《国家基本医疗保险、工伤保险和生育保险药品目录（2025年）》",
            "batch": f"BENCH-{len(rows) % 12 + 1:02d}", "effective_from": "2020-01-01",
            "effective_until": "", "regions": "",
        }  # fmt: skip
        rows.append(",".join(values[c] for c in COLUMNS))

    for code in sorted(kb.items):
        for rule, related, low, high, value in APPLYING_ITEM_POINTS:
            add(rule, "item", code, related, low, high, value)
    for prefix in diagnoses:
        for rule, related, low, high, value in APPLYING_DIAGNOSIS_POINTS:
            add(rule, "diagnosis", prefix, related, low, high, value)
    applying = len(rows)
    kinds = [*APPLYING_ITEM_POINTS]
    while len(rows) < POINT_ROWS:  # the bulk: codes the data never bills
        rule, related, low, high, value = kinds[len(rows) % len(kinds)]
        add(rule, "item", f"BENCH-ABSENT-{len(rows):07d}", related, low, high, value)
    # beside the points the data's own knowledge base already has (synth writes some)
    (target / "knowledge_points").mkdir(exist_ok=True)
    text = ",".join(COLUMNS) + "\n" + "\n".join(rows) + "\n"
    (target / "knowledge_points" / "bench.csv").write_text(text, encoding="utf-8")
    return target, applying


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def measure_point_load(knowledge: Path, with_points: Path) -> tuple[Timing, Timing, float, Any]:
    """Load both knowledge bases; the points' extra time and resident memory."""
    gc.collect()
    base, _ = timed(1, lambda: load_knowledge(knowledge))
    gc.collect()
    before = rss_mb()
    loaded, kb = timed(1, lambda: load_knowledge(with_points))
    gc.collect()
    return base, loaded, rss_mb() - before, kb


# -- report -------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def row(label: str, t: Timing, extra: str = "") -> str:
    return f"  {label:<46} {t.rate:>10,.0f} {t.cpu_rate:>10,.0f} {t.micros:>9.1f}  {extra}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="synthetic events")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; best counts")
    parser.add_argument(
        "--durable-events",
        type=int,
        default=None,
        help="events posted to durable_rules (default: all)",
    )
    parser.add_argument("--data", type=Path, help="an existing synth dir instead of generating")
    args = parser.parse_args(argv)

    pinning = pin_to_one_core()
    tmp = Path(tempfile.mkdtemp(prefix="claimguard-bench-"))
    try:
        if args.data:
            knowledge = args.data / "knowledge"
            with (args.data / "events.jsonl").open("rb") as handle:
                lines = [line for line in handle if line.strip()][: args.events]
        else:
            knowledge, lines = synthetic_lines(tmp / "synth", args.events, args.seed)
        return run(args, pinning, tmp, knowledge, lines)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(
    args: argparse.Namespace, pinning: str, tmp: Path, knowledge: Path, lines: list[bytes]
) -> int:
    n, repeat = len(lines), args.repeat
    kb = load_knowledge(knowledge)
    router = Router.from_knowledge(kb)
    ruleset = load_packs(None)
    engine = Engine(kb, ruleset, router)
    events = decoded(lines)
    print(
        f"claimguard replay benchmark: {n:,} synthetic events (seed {args.seed}), "
        f"{len(lines) - len(events)} undecodable; python {sys.version.split()[0]}, "
        f"{pinning}, best of {repeat}"
    )
    print(f"  {'':<46} {'events/s':>10} {'(cpu)':>10} {'µs/event':>9}")

    # the extra rules must name what the data lacks, or they would apply
    assert not any(code.startswith("BENCH-ABSENT-") for code in kb.items)
    assert not any(e.institution and e.institution.region[:2] == ABSENT_REGION[:2] for e in events)
    variants = {
        count: Engine(kb, load_packs(packs_with_extra_rules(tmp, count)), router)
        for count in EXTRA_RULE_COUNTS
    }
    runs: dict[str, tuple[int, Callable[[], Any]]] = {
        "replay": (n, lambda: replay_once(engine, lines)),
        "pass": (n, lambda: pass_through(lines)),
        "decode": (n, lambda: decode_only(lines)),
        "engine": (n, lambda: engine_only(engine, events)),
        "stateless": (n, lambda: stateless_hits(engine, events)),
    }
    for count, bigger in variants.items():
        runs[f"extra{count}"] = (n, lambda bigger=bigger: replay_once(bigger, lines))
    # The preloaded lines and decoded events (about a million objects) are the benchmark's,
    # not replay's: freeze them out of the collector's sight, as if they were not there.
    gc.collect()
    gc.freeze()
    best = interleaved(repeat, runs)

    # 1 and 2
    replay, result = best["replay"]
    passing = best["pass"][0]
    ratio = replay.rate / passing.rate
    findings = result.findings
    print(
        row("1 replay, full engine path", replay)
        + f"target ≥ {TARGET_REPLAY:,}: {verdict(replay.rate >= TARGET_REPLAY)}"
    )
    print(f"      {result.summary}")
    print(row("2 pass-through: decode + orjson re-encode", passing))
    print(
        f"      replay / pass-through = {ratio:.2f}  (target ≥ {TARGET_PASS_RATIO:.2f}: "
        f"{verdict(ratio >= TARGET_PASS_RATIO)})"
    )

    # where replay's time goes
    dec, eng, stl = best["decode"][0], best["engine"][0], best["stateless"][0]
    print("  where a replayed event's time goes (µs/event, each part measured on its own):")
    print(
        f"      decode {dec.micros:.1f} | engine {eng.micros:.1f} = stateless rules "
        f"{stl.micros:.1f} + windows, findings, routing, state {eng.micros - stl.micros:.1f}"
        f" | session + output encoding {replay.micros - dec.micros - eng.micros:.1f}"
    )

    # 4: rule-index cost
    for count, bigger in variants.items():
        t, r = best[f"extra{count}"]
        same = (
            "same findings"
            if r.findings == findings
            else f"FINDINGS DIFFER: {r.findings} vs {findings}"
        )
        print(
            row(f"4 replay, {len(bigger.ruleset.rules)} rules (+{count} never applying)", t)
            + f"{t.rate / replay.rate:.2f} of baseline; {same}"
        )

    # 5: knowledge points at the 2025 edition's size
    points(tmp, knowledge, kb, ruleset, router, engine, events, lines, repeat, findings)

    # 3, last: durable_rules leaves timer threads running in this process
    return peer(args, kb, ruleset, engine, events, repeat)


def points(
    tmp: Path,
    knowledge: Path,
    kb: Any,
    ruleset: RuleSet,
    router: Router,
    engine: Engine,
    events: list[Event],
    lines: list[bytes],
    repeat: int,
    findings: int,
) -> None:
    n = len(lines)
    with_points, applying = points_knowledge(tmp, knowledge, kb, events)
    base_load, point_load, extra_mb, big_kb = measure_point_load(knowledge, with_points)
    extra_s = point_load.wall - base_load.wall
    ok = extra_s < TARGET_POINT_LOAD_S and extra_mb < TARGET_POINT_MB
    print(
        f"  5 knowledge points: {big_kb.points.count:,} rows ({applying:,} apply to the data's "
        f"item codes and diagnoses and never fire, the rest name absent codes)"
    )
    print(
        f"      load: {point_load.wall:.2f} s wall ({point_load.cpu:.2f} s cpu) vs "
        f"{base_load.wall:.2f} s without points: +{extra_s:.2f} s, +{extra_mb:.0f} MB resident "
        f"(target < {TARGET_POINT_LOAD_S:.0f} s, < {TARGET_POINT_MB:.0f} MB: {verdict(ok)})"
    )
    big = Engine(big_kb, ruleset, router)
    today_engine = Engine(kb, ruleset, router)  # as cold as `big`: neither has run before
    best = interleaved(
        repeat,
        {
            "today": (n, lambda: replay_once(today_engine, lines)),
            "points": (n, lambda: replay_once(big, lines)),
        },
    )
    today, points_t = best["today"][0], best["points"][0]
    ratio = points_t.rate / today.rate
    cpu_ratio = points_t.cpu_rate / today.cpu_rate  # what to read on a shared machine
    same = best["points"][1].findings == best["today"][1].findings
    print(row("5 replay, today's knowledge base", today))
    print(
        row(f"5 replay, + {big_kb.points.count:,} knowledge points", points_t)
        + f"{ratio:.2f} of today's (target ≥ {TARGET_POINT_RATIO}: "
        f"{verdict(ratio >= TARGET_POINT_RATIO)}); "
        + ("same findings" if same else "FINDINGS DIFFER")
    )
    print(f"      in CPU time: {cpu_ratio:.2f} of today's")


def peer(
    args: argparse.Namespace,
    kb: Any,
    ruleset: RuleSet,
    engine: Engine,
    events: list[Event],
    repeat: int,
) -> int:
    from durable_peer import TRANSLATED, DurablePeer, build_facts

    subset = [e for e in events if e.event_type != "reversal"]
    if args.durable_events is not None:
        subset = subset[: args.durable_events]
    k = len(subset)
    ours, our_hits = interleaved(repeat, {"ours": (k, lambda: stateless_hits(engine, subset))})[
        "ours"
    ]
    facts = [build_facts(e, kb) for e in subset]  # outside the timing, in durable's favour
    durable = DurablePeer(kb, ruleset)
    gc.collect()
    gc.freeze()

    def post_all() -> None:
        with fewer_old_collections():
            for event_facts in facts:
                for fact in event_facts:
                    durable.post(fact)

    theirs, _ = timed(k, post_all)  # once: its hit counters accumulate
    if args.durable_events is not None and args.durable_events < len(events):
        print(f"  (section 3 on the first {k:,} non-reversal events only; rates are per event)")
    ratio = ours.rate / theirs.rate
    print(row(f"3 stateless rules, ours ({k:,} events)", ours))
    print(
        row(
            f"3 the same in durable_rules ({durable.rule_count} rules)",
            theirs,
            f"{sum(map(len, facts)):,} facts",
        )
    )
    print(
        f"      ours / durable_rules = {ratio:.1f}×  (target ≥ {TARGET_PEER_RATIO:.0f}×: "
        f"{verdict(ratio >= TARGET_PEER_RATIO)})"
    )
    print(
        f"      durable_rules: {durable.not_handled:,} facts matched no rule "
        f"(MessageNotHandledException, caught), {durable.activations:,} activations, "
        f"{len(durable.host.get_facts(durable.name))} facts left in the session"
    )
    print(
        f"      {'hits (item rules: per item; visit rules: per event)':<38} {'ours':>8} "
        f"{'durable':>8}"
    )
    differ = 0
    for code in sorted(set(our_hits) | set(durable.hits)):
        a, b = our_hits[code], durable.hits[code]
        note = "" if code in TRANSLATED else "  (not translated)"
        if a != b:
            differ += 1
            note += "  DIFFERS"
        print(f"        {code:<30} {a:>8,} {b:>8,}{note}")
    print(f"      {'hit counts agree' if not differ else f'{differ} codes differ'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
