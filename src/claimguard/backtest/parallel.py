"""`claimguard backtest --jobs N`: the window split by patient over N processes.

Histories are per patient, so the events of one patient must meet in one process, in
order; patients are independent. The parent reads the archive (one process per chdb
directory) and deals each event to the process of hash(person_id); an event that names no
patient (a reversal) goes to every process, and only the one that saw the settlement
applies it (the others reverse nothing of theirs). Children are spawned, not forked: the
parent holds an embedded ClickHouse with threads. Each child loads the knowledge and the
packs itself, runs `run_backtest` on its share and sends back findings and verdicts."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import zlib
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from claimguard.backtest.run import BacktestRun, Side, differing_rules, lead_in_days, run_backtest
from claimguard.engine import Engine
from claimguard.knowledge import load_knowledge
from claimguard.rules import RuleSet, load_packs

BATCH = 2_000  # events per message to a child


def _events(conn: Connection) -> Iterator[tuple[dt.datetime, bytes]]:
    while True:
        batch = conn.recv()
        if batch is None:
            return
        yield from batch


def _child(
    conn: Connection,
    knowledge: str,
    baseline: str,
    candidate: str,
    start: dt.datetime,
    end: dt.datetime,
    full: bool,
) -> None:
    kb = load_knowledge(knowledge)
    run = run_backtest(
        kb, load_packs(baseline), load_packs(candidate), _events(conn), start, end, full
    )
    conn.send(
        {
            "baseline": (run.baseline.findings, run.baseline.verdicts),
            "candidate": (run.candidate.findings, run.candidate.verdicts),
            "unreadable": run.unreadable,
            "engine_errors": run.engine_errors,
            "seconds": run.seconds,
        }
    )
    conn.close()


def run_parallel(
    knowledge: Path,
    baseline_dir: Path,
    candidate_dir: Path,
    baseline: RuleSet,
    candidate: RuleSet,
    rows: Iterable[tuple[dt.datetime, str, bytes]],
    start: dt.datetime,
    end: dt.datetime,
    jobs: int,
    full: bool = False,
) -> BacktestRun:
    import time

    started = time.perf_counter()
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for _ in range(jobs):
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_child,
            args=(child, str(knowledge), str(baseline_dir), str(candidate_dir), start, end, full),
            daemon=True,
        )
        proc.start()
        child.close()
        pipes.append(parent)
        procs.append(proc)
    buffers: list[list[tuple[dt.datetime, bytes]]] = [[] for _ in range(jobs)]
    events = lead_in = 0
    try:
        for occurred, person, raw in rows:
            if occurred >= start:
                events += 1
            else:
                lead_in += 1
            if person:
                targets: Iterable[int] = (zlib.crc32(person.encode()) % jobs,)
            else:
                targets = range(jobs)
            for k in targets:
                buffers[k].append((occurred, raw))
                if len(buffers[k]) >= BATCH:
                    pipes[k].send(buffers[k])
                    buffers[k] = []
        for k in range(jobs):
            if buffers[k]:
                pipes[k].send(buffers[k])
            pipes[k].send(None)
        results: list[dict[str, Any]] = [pipe.recv() for pipe in pipes]
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    # The parent's sides only carry the merged results: their engines never run.
    kb = load_knowledge(knowledge)
    run = BacktestRun(
        Side(Engine(kb, RuleSet([], baseline.digest))),
        Side(Engine(kb, RuleSet([], candidate.digest))),
        start,
        end,
        lead_in_days(baseline, candidate),
        baseline_set=baseline,
        candidate_set=candidate,
        differing=differing_rules(baseline, candidate)
        if not full
        else frozenset(r.id for r in (*baseline.rules, *candidate.rules)),
        events=events,
        lead_in_events=lead_in,
    )
    for result in results:
        for side, key in ((run.baseline, "baseline"), (run.candidate, "candidate")):
            findings, verdicts = result[key]
            side.findings.update(findings)
            side.verdicts.update(verdicts)
        run.unreadable += result["unreadable"]
        run.engine_errors += result["engine_errors"]
    run.seconds = time.perf_counter() - started
    return run
