"""Stream worker benchmark on the local Tansu broker, one run:

1. throughput: a backlog of synthetic events on `claims.events`; the real `claimguard
   worker` (a subprocess with an embedded chdb store) drains it. End to end = from its
   first batch until the group has committed every offset, and a commit only follows
   stored findings and acknowledged decisions;
2. a bare aiokafka consumer group reading the same events (the ceiling);
3. decision latency at a steady settlement rate: publish time of each precheck/settle
   event → arrival of its decision on `claims.decisions`, the worker idle and caught up.

    python benchmarks/stream.py [--settlements 60000] [--rate 500] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from claimguard.decode import DecodeError, decode
from claimguard.engine import Engine, PatientHistory
from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import event_lines, publish, wait_for_lag_zero
from claimguard.stream.process import FAST_GROUP_ENV, WorkerProcess
from claimguard.stream.topics import TopicNames, ensure_topics
from claimguard.synth import generate

TOPICS = TopicNames()


async def bare_consume(
    bootstrap: str, topic: str, expected: int, engine: Engine | None = None
) -> float:
    """events/s of a plain aiokafka consumer group over the same backlog; with `engine`,
    each event is also decoded and evaluated against an in-memory history (no outputs)."""
    histories: dict[str, PatientHistory] = {}
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-bare-{time.time_ns()}",
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=32 << 20,
    )
    await consumer.start()
    try:
        seen, started = 0, 0.0
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                if not started:
                    started = time.perf_counter()
                seen += len(records)
                if engine is not None:
                    evaluate(engine, histories, records)
        elapsed = time.perf_counter() - started
        await consumer.commit()
        return seen / elapsed
    finally:
        await consumer.stop()


async def latency_run(
    bootstrap: str, lines: list[bytes], rate: float
) -> tuple[list[float], int, int]:
    """Publish `lines` at `rate` lines/s; returns decision latencies (ms) of the
    precheck/settle events, how many such events were sent, and how many answered."""
    sent_at: dict[str, float] = {}
    sent_wall: dict[str, float] = {}
    latencies: list[float] = []
    worker_side: list[float] = []  # publish → the worker's send of the decision (CreateTime)
    wanted = set()
    ids: list[str | None] = []
    for line in lines:
        event = _loads(line)
        ids.append(event.get("event_id"))  # type: ignore[arg-type]
        if event.get("event_type") in ("precheck", "settle") and "event_id" in event:
            wanted.add(event["event_id"])

    # Tansu answers a fetch only when its wait runs out: keep the measuring side's short.
    consumer = AIOKafkaConsumer(
        TOPICS.decisions,
        bootstrap_servers=bootstrap,
        auto_offset_reset="latest",
        fetch_max_wait_ms=5,
    )
    await consumer.start()
    await consumer.seek_to_end()
    # position() forces the seek to resolve before anything is published
    for tp in consumer.assignment():
        await consumer.position(tp)
    done = asyncio.Event()

    async def collect() -> None:
        while not done.is_set() or len(latencies) < len(sent_at.keys() & wanted):
            batches = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    event_id = orjson.loads(record.value)["event_id"]
                    if event_id in sent_at and event_id in wanted:
                        latencies.append((now - sent_at.pop(event_id)) * 1000)
                        worker_side.append(record.timestamp - sent_wall.pop(event_id) * 1000)
            if done.is_set() and time.perf_counter() > deadline:
                return

    def on_sent(index: int, line: bytes) -> None:
        event_id = ids[index]
        if event_id in wanted:
            sent_at[event_id] = time.perf_counter()
            sent_wall[event_id] = time.time()

    deadline = float("inf")
    collector = asyncio.create_task(collect())
    await publish(bootstrap, TOPICS.events, lines, rate=rate, on_sent=on_sent)
    deadline = time.perf_counter() + 10
    done.set()
    await collector
    await consumer.stop()
    if worker_side:
        print(
            f"  of which publish → decision sent by the worker: p50 "
            f"{statistics.median(worker_side):.1f} ms, p99 {percentile(worker_side, 0.99):.1f} ms",
            flush=True,
        )
    return latencies, len(wanted), len(latencies)


def evaluate(engine: Engine, histories: dict[str, PatientHistory], records: list[Any]) -> None:
    for record in records:
        try:
            event = decode(record.value)
        except DecodeError:
            continue
        person = engine.person_of(event) or (record.key or b"").decode()
        engine.process(event, histories.setdefault(person, PatientHistory()))


def _loads(line: bytes) -> dict[str, object]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settlements", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rate", type=float, default=500.0, help="settlements/s, latency run")
    parser.add_argument("--seconds", type=float, default=20.0, help="latency run length")
    parser.add_argument("--keep", type=Path, default=None, help="keep the data here")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="claimguard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"generating {args.settlements} settlements (seed {args.seed}) ...", flush=True)
    summary = generate(work / "synth", settlements=args.settlements, seed=args.seed)
    lines = event_lines(work / "synth" / "events.jsonl")
    per_settlement = len(lines) / summary.settlements
    latency_events = int(args.rate * per_settlement * args.seconds)
    backlog, tail = lines[:-latency_events], lines[-latency_events:]
    if len(backlog) < 10_000:
        print("too few settlements for both runs; raise --settlements", file=sys.stderr)
        return 2

    with LocalBroker(log_dir=work / "broker") as broker:
        bootstrap = broker.bootstrap
        asyncio.run(ensure_topics(bootstrap, TOPICS.all(), args.partitions))
        started = time.perf_counter()
        asyncio.run(publish(bootstrap, TOPICS.events, backlog))
        publish_rate = len(backlog) / (time.perf_counter() - started)
        print(f"published backlog: {len(backlog)} events at {publish_rate:,.0f}/s", flush=True)

        bare = asyncio.run(bare_consume(bootstrap, TOPICS.events, len(backlog)))
        print(f"bare aiokafka consumer: {bare:,.0f} events/s", flush=True)
        engine = Engine.load(work / "synth" / "knowledge")
        bare_engine = asyncio.run(bare_consume(bootstrap, TOPICS.events, len(backlog), engine))
        print(
            f"bare aiokafka consumer + decode + engine (no outputs, no state store): "
            f"{bare_engine:,.0f} events/s",
            flush=True,
        )

        stats_file = work / "worker-stats.json"
        worker = WorkerProcess(
            broker=broker.url,
            store=f"chdb://{work / 'store'}",
            knowledge=work / "synth" / "knowledge",
            group="bench",
            log_path=work / "worker.log",
            env={**FAST_GROUP_ENV, "CLAIMGUARD_STATS_FILE": str(stats_file)},
        ).start()
        try:
            finished = asyncio.run(
                wait_for_lag_zero(bootstrap, "bench", TOPICS.events, timeout=600, interval=0.05)
            )
            time.sleep(1.5)  # the stats file is rewritten every second
            stats = orjson.loads(stats_file.read_bytes())
            elapsed = finished - stats["first_batch_at"]
            rate = len(backlog) / elapsed
            print(
                f"worker end to end: {len(backlog)} events in {elapsed:.2f} s = {rate:,.0f} "
                f"events/s = {rate / bare:.3f} of bare aiokafka, "
                f"{rate / bare_engine:.2f} of bare aiokafka + engine",
                flush=True,
            )
            report_breakdown(stats, elapsed)

            settlements_per_s = args.rate
            lat, wanted, answered = asyncio.run(
                latency_run(bootstrap, tail, args.rate * per_settlement)
            )
            if lat:
                print(
                    f"decision latency at {settlements_per_s:.0f} settlements/s "
                    f"({args.rate * per_settlement:.0f} events/s, {args.seconds:.0f} s): "
                    f"p50 {statistics.median(lat):.1f} ms, p99 {percentile(lat, 0.99):.1f} ms, "
                    f"max {max(lat):.1f} ms ({answered}/{wanted} decisions)",
                    flush=True,
                )
            else:
                print("no decisions arrived in the latency run", flush=True)
        finally:
            worker.stop()
    print(f"data: {work}")
    return 0


def report_breakdown(stats: dict[str, float], elapsed: float) -> None:
    events = max(1, int(stats["events"]))
    per = 1e6 / events
    print(
        "  where the time went (per event): "
        f"handle {stats['handle_seconds'] * per:.1f} µs (decode, engine, publish) | "
        f"flush {stats['flush_seconds'] * per:.1f} µs in background (acks, store, changelog) | "
        f"waiting for flush {stats['backpressure_seconds'] * per:.1f} µs | "
        f"wall {elapsed * per:.1f} µs",
        flush=True,
    )
    print(
        f"  {int(stats['events'])} events, {int(stats['batches'])} batches, "
        f"{int(stats['flushes'])} flushes, {int(stats['findings'])} findings, "
        f"{int(stats['decisions'])} decisions, {int(stats['dead_letters'])} dead letters",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
