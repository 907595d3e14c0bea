"""Backtest benchmark, one run: a synthetic window archived in a real chdb store, then
`claimguard backtest`'s work measured in its parts and whole.

1. archive: every event into `claimguard.events` through the exactly-once writer;
2. read: the window read back in event order (blocks keyed on the sorting key);
3. backtest: read + decode once + both sides (only the rules that differ run; candidate:
   a window threshold moved) + the per-rule comparison; then the same split by patient
   over --jobs processes (the report must be identical).

    .venv/bin/python benchmarks/backtest.py [--settlements 200000] [--seed 3]

Rates are events per second of wall time. A month of a city's events is millions: the
figure to read is (3), and the store size per million events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

from claimguard.archive.events import event_row, read_window, read_window_rows
from claimguard.backtest.compare import compare
from claimguard.backtest.parallel import run_parallel
from claimguard.backtest.run import run_backtest
from claimguard.decode import DecodeError, decode
from claimguard.knowledge import load_knowledge
from claimguard.rules import load_packs
from claimguard.rules.loader import default_rules_dir
from claimguard.store import FindingStore
from claimguard.synth import generate

CHUNK = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settlements", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="processes for the split run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cg-backtest-bench-"))
    try:
        run(work, args.settlements, args.seed, args.jobs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, settlements: int, seed: int, jobs: int) -> None:
    started = time.perf_counter()
    generate(work / "synth", settlements=settlements, seed=seed)
    print(f"synth: {settlements} settlements in {time.perf_counter() - started:.1f} s")
    lines = (work / "synth" / "events.jsonl").read_bytes().splitlines()
    now = dt.datetime.now(dt.UTC)
    rows, times = [], []
    for number, raw in enumerate(lines, start=1):
        try:
            event = decode(raw)
        except DecodeError:
            continue
        rows.append(event_row(event, raw, number, now))
        times.append(event.occurred_at)
    n = len(rows)
    store = FindingStore.connect(f"chdb://{work / 'store'}")
    try:
        store.migrate()
        t0 = time.perf_counter()
        for i in range(0, n, CHUNK):
            store.archive_events(rows[i : i + CHUNK])
        archive_s = time.perf_counter() - t0
        print(f"archive: {n} events in {archive_s:.1f} s = {n / archive_s:,.0f} events/s")
        size = store.client.command(
            "SELECT sum(bytes_on_disk) FROM system.parts "
            "WHERE database = 'claimguard' AND table = 'events' AND active"
        )
        raw_bytes = sum(len(r[9]) for r in rows)
        print(
            f"archive size: {int(size) / 1e6:.1f} MB on disk for {raw_bytes / 1e6:.1f} MB of "
            f"raw JSON ({int(size) / n * 1e6 / 1e9:.2f} GB per million events)"
        )
        start, end = min(times), max(times) + dt.timedelta(seconds=1)
        t0 = time.perf_counter()
        read = sum(1 for _ in read_window(store.client, start, end))
        read_s = time.perf_counter() - t0
        print(f"read: {read} events in {read_s:.1f} s = {read / read_s:,.0f} events/s")

        kb = load_knowledge(work / "synth" / "knowledge")
        baseline = load_packs(default_rules_dir())
        cand_dir = work / "candidate"
        shutil.copytree(default_rules_dir(), cand_dir)
        visits = cand_dir / "authenticity" / "visits.yaml"
        visits.write_text(visits.read_text().replace("min_institutions: 3", "min_institutions: 2"))
        candidate = load_packs(cand_dir)
        t0 = time.perf_counter()
        result = run_backtest(
            kb, baseline, candidate, read_window(store.client, start, end), start, end
        )
        deltas = compare(result)
        total_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        split = run_parallel(work / "synth" / "knowledge", default_rules_dir(), cand_dir,
                             baseline, candidate, read_window_rows(store.client, start, end),
                             start, end, jobs)  # fmt: skip
        split_deltas = compare(split)
        split_s = time.perf_counter() - t0
        assert [d.as_dict() for d in split_deltas] == [d.as_dict() for d in deltas]
    finally:
        store.close()
    changed = [d for d in deltas if d.differs]
    print(
        f"backtest: {result.events} events, two rule sets, in {total_s:.1f} s = "
        f"{result.events / total_s:,.0f} events/s (engines {result.seconds:.1f} s); "
        f"{len(changed)} rules differ: "
        + ", ".join(f"{d.rule_id} {d.baseline_hits}→{d.candidate_hits}" for d in changed)
    )
    print(
        f"backtest --jobs {jobs}: {split.events} events in {split_s:.1f} s = "
        f"{split.events / split_s:,.0f} events/s (same report)"
    )
    for label, seconds in (("one process", total_s), (f"--jobs {jobs}", split_s)):
        minutes = 3e6 / (result.events / seconds) / 60
        print(f"→ a month of 3 million events, {label}: ~{minutes:.0f} min on this machine")


if __name__ == "__main__":
    main()
