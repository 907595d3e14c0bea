"""Synchronous checks under a steady load: HTTP through `claimguard serve` vs Kafka direct.

One Tansu broker, one `claimguard worker` (embedded chdb) and one `claimguard serve` on
this machine, all on loopback; the load client runs in this process. A backlog of
synthetic settlements is streamed first, so the worker holds real patient histories.
Then, for each rate, two phases of `--seconds` each over fresh slices of the same
synthetic day:

- HTTP: every precheck/settle event is POSTed to /v1/check at a steady rate (open loop:
  request i leaves at t0 + i/rate whatever the earlier ones are doing), the other events
  of the slice are published straight to Kafka in between; latency is request → answer,
  measured from the scheduled send time (so a client that falls behind shows up).
- Kafka: the next slice published straight to claims.events at the same rate; latency is
  publish → the decision read back from claims.decisions (no HTTP).

Prints p50/p99/p99.9, unchecked answers (deadline passed: fail open) and errors.

    python benchmarks/serve.py [--rates 200,500,1000] [--seconds 10] [--backlog 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from claimguard.decode import DecodeError, decode
from claimguard.serve.process import ServeProcess
from claimguard.stream.broker import LocalBroker
from claimguard.stream.clients import (
    event_lines,
    key_for,
    keys_by_settlement,
    publish,
    wait_for_lag_zero,
)
from claimguard.stream.process import FAST_GROUP_ENV, WorkerProcess
from claimguard.stream.topics import TopicNames, ensure_topics
from claimguard.synth import generate

TOPICS = TopicNames()
CHECKS = ("precheck", "settle")


def kind_of(line: bytes) -> tuple[str | None, str | None]:
    """(event_type, event_id) of a valid event; (None, None) for the synthetic day's
    broken lines, which go straight to Kafka in both phases (they are dead letters)."""
    try:
        event = decode(line)
    except DecodeError:
        return None, None
    return event.event_type, event.event_id


def slice_for(lines: list[bytes], start: int, checks: int) -> tuple[list[bytes], int]:
    """Lines from `start` holding `checks` precheck/settle events; → (slice, next start)."""
    count, end = 0, start
    while end < len(lines) and count < checks:
        if kind_of(lines[end])[0] in CHECKS:
            count += 1
        end += 1
    if count < checks:
        raise SystemExit("not enough synthetic events: raise --settlements")
    return lines[start:end], end


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process (0 when gone): CPU spent, whatever the contention."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by each process of the run during a phase."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self.start = self.read()

    def read(self) -> dict[str, float]:
        times = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        times["client"] = sum(os.times()[:2])
        return times

    def per_check(self, checks: int) -> str:
        end = self.read()
        parts = [
            f"{name} {(end[name] - self.start[name]) / max(1, checks) * 1e6:.0f}" for name in end
        ]
        return "CPU µs/check: " + ", ".join(parts)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Result:
    def __init__(self, path: str, rate: float, sent: int) -> None:
        self.path, self.rate, self.sent = path, rate, sent
        self.latencies: list[float] = []
        self.unchecked = 0
        self.errors = 0

    def row(self) -> str:
        lat = self.latencies
        return (
            f"{self.rate:>6.0f}/s  {self.path:<6} sent {self.sent:>6}  answered {len(lat):>6}  "
            f"unchecked {self.unchecked:>5}  errors {self.errors:>4}  "
            f"p50 {statistics.median(lat) if lat else float('nan'):7.1f}  "
            f"p99 {percentile(lat, 0.99):7.1f}  p99.9 {percentile(lat, 0.999):7.1f} ms"
        )


async def http_phase(bootstrap: str, url: str, lines: list[bytes], rate: float) -> Result:
    checks = [(i, line) for i, line in enumerate(lines) if kind_of(line)[0] in CHECKS]
    result = Result("http", rate, len(checks))
    by_settlement = keys_by_settlement(lines)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, acks="all")
    await producer.start()
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=512)
    tasks: list[asyncio.Task[None]] = []

    async with aiohttp.ClientSession(connector=connector) as session:

        async def check(body: bytes, due: float) -> None:
            try:
                async with session.post(url + "/v1/check", data=body) as response:
                    answer = orjson.loads(await response.read())
                    done = loop.time()
                if response.status != 200:
                    result.errors += 1
                    print(f"  HTTP {response.status}: {answer}", flush=True)
                elif answer.get("unchecked"):
                    result.unchecked += 1
                else:
                    result.latencies.append((done - due) * 1000)
            except Exception as exc:
                result.errors += 1
                if result.errors == 1:
                    print(f"  first error: {exc!r}", flush=True)

        started = loop.time()
        next_check = 0
        for index, line in enumerate(lines):
            if next_check < len(checks) and checks[next_check][0] == index:
                due = started + next_check / rate
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(check(line, due)))
                next_check += 1
            else:
                await producer.send(TOPICS.events, line, key=key_for(line, by_settlement))
        await asyncio.gather(*tasks)
    await producer.stop()
    return result


async def kafka_phase(bootstrap: str, lines: list[bytes], rate: float) -> Result:
    """The same kind of slice straight to Kafka, paced so that checks go at `rate`/s."""
    ids = [kind_of(line) for line in lines]
    wanted = {eid for kind, eid in ids if kind in CHECKS and eid}
    result = Result("kafka", rate, len(wanted))
    sent_at: dict[str, float] = {}
    consumer = AIOKafkaConsumer(
        TOPICS.decisions,
        bootstrap_servers=bootstrap,
        auto_offset_reset="latest",
        fetch_max_wait_ms=5,
    )
    await consumer.start()
    await consumer.seek_to_end()
    for tp in consumer.assignment():
        await consumer.position(tp)
    finished = asyncio.Event()

    async def collect() -> None:
        while len(result.latencies) < len(wanted):
            batches = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    eid = orjson.loads(record.value)["event_id"]
                    if eid in sent_at:
                        result.latencies.append((now - sent_at.pop(eid)) * 1000)
            if finished.is_set():
                return

    def on_sent(index: int, line: bytes) -> None:
        kind, eid = ids[index]
        if kind in CHECKS and eid:
            sent_at[eid] = time.perf_counter()

    collector = asyncio.create_task(collect())
    event_rate = rate * len(lines) / max(1, len(wanted))
    await publish(bootstrap, TOPICS.events, lines, rate=event_rate, on_sent=on_sent)
    try:
        await asyncio.wait_for(asyncio.shield(collector), 10)
    except TimeoutError:
        finished.set()
        await collector
    await consumer.stop()
    result.unchecked = len(wanted) - len(result.latencies)  # never decided within 10 s
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="200,500,1000", help="checks/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="each phase's length")
    parser.add_argument("--backlog", type=int, default=20_000, help="settlements streamed first")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="keep the data here")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="e.g. CLAIMGUARD_GC_FREEZE_EVERY=0 (repeatable): compare worker settings",
    )
    args = parser.parse_args()
    worker_env = dict(item.split("=", 1) for item in args.worker_env)
    rates = [float(r) for r in args.rates.split(",")]

    checks_needed = int(sum(rates) * args.seconds * 2)
    settlements = args.backlog + int(checks_needed / 1.05) + 2_000
    work = args.keep or Path(tempfile.mkdtemp(prefix="claimguard-serve-bench-"))
    print(f"generating {settlements} settlements (seed {args.seed}) ...", flush=True)
    generate(work / "synth", settlements=settlements, seed=args.seed)
    lines = event_lines(work / "synth" / "events.jsonl")
    backlog_events = int(len(lines) * args.backlog / settlements)
    backlog, rest = lines[:backlog_events], lines[backlog_events:]

    with LocalBroker(log_dir=work / "broker") as broker:
        bootstrap = broker.bootstrap
        asyncio.run(ensure_topics(bootstrap, TOPICS.all()))
        asyncio.run(publish(bootstrap, TOPICS.events, backlog))
        worker = WorkerProcess(
            broker=broker.url,
            store=f"chdb://{work / 'store'}",
            knowledge=work / "synth" / "knowledge",
            group="bench-serve",
            log_path=work / "worker.log",
            env={
                **FAST_GROUP_ENV,
                "CLAIMGUARD_GC_STATS_FILE": str(work / "gc.json"),
                "CLAIMGUARD_STATS_FILE": str(work / "stats.json"),
                **worker_env,
            },
        ).start()
        serve = ServeProcess(broker=broker.url, log_path=work / "serve.log")
        try:
            asyncio.run(wait_for_lag_zero(bootstrap, "bench-serve", TOPICS.events, 600))
            print(f"backlog of {len(backlog)} events streamed; worker holds the histories")
            serve.start()
            start = 0
            rows: list[str] = []
            for rate in rates:
                n = int(rate * args.seconds)
                pids = {"worker": worker.pid, "serve": serve.pid, "broker": broker.pid}
                chunk, start = slice_for(rest, start, n)
                meter = CpuMeter(pids)
                http = asyncio.run(http_phase(bootstrap, serve.url, chunk, rate))
                rows += [http.row(), "      " + meter.per_check(http.sent)]
                print("\n".join(rows[-2:]), flush=True)
                chunk, start = slice_for(rest, start, n)
                meter = CpuMeter(pids)
                kafka = asyncio.run(kafka_phase(bootstrap, chunk, rate))
                rows += [kafka.row(), "      " + meter.per_check(kafka.sent)]
                print("\n".join(rows[-2:]), flush=True)
                time.sleep(1.0)
            print("\nsummary (ms; unchecked = answered pass/unchecked after the 1 s deadline)")
            print(f"worker settings: {worker_env or 'defaults'}; load average {os.getloadavg()}")
            for row in rows:
                print(row)
            time.sleep(1.2)  # the worker rewrites its stats files every second
            gc_stats = orjson.loads((work / "gc.json").read_bytes())
            stats = orjson.loads((work / "stats.json").read_bytes())
            flushes = max(1, stats["flushes"])
            print(
                f"worker GC pauses: {gc_stats['pauses']} ({gc_stats['pauses_over_10ms']} over "
                f"10 ms), longest by generation {gc_stats['max_pause_ms_by_generation']} ms, "
                f"total {gc_stats['total_pause_ms']:.0f} ms; flushes {stats['flushes']}, "
                f"{stats['flush_seconds'] / flushes * 1000:.0f} ms each on average"
            )
        finally:
            serve.stop()
            worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
