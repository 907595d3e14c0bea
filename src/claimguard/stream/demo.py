"""`claimguard demo` (`make demo`): the whole stream on one machine, nothing to install.

Generates a synthetic day-by-day ledger with injected violations, starts the local Tansu
broker and a real `claimguard worker` process with an embedded ClickHouse (chdb) store in
the data folder, publishes the events with a progress bar, waits until the worker has
committed all of them (a commit follows stored findings and published decisions), stops
everything, and prints what the suspicion store now holds.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from claimguard.stream.broker import BrokerError, LocalBroker
from claimguard.stream.clients import event_lines, group_lag, publish
from claimguard.stream.process import FAST_GROUP_ENV, WorkerProcess
from claimguard.stream.topics import TopicNames, ensure_topics

log = logging.getLogger("claimguard.stream")

GROUP = "claimguard-demo"
DRAIN_TIMEOUT = 900.0
TOP_JURISDICTIONS = 10


def run_demo(
    data: Path,
    settlements: int = 5_000,
    seed: int = 7,
    serve: str | None = None,
    console_at: str | None = None,
) -> int:
    console = Console()
    data = Path(data).resolve()
    for stale in ("synth", "store", "store.pseudonym.key", "worker", "broker"):
        shutil.rmtree(data / stale, ignore_errors=True)
    data.mkdir(parents=True, exist_ok=True)

    from claimguard.synth import generate

    console.print(f"[bold]claimguard demo[/] — data in {data}")
    summary = generate(data / "synth", settlements=settlements, seed=seed)
    console.print(str(summary))
    lines = event_lines(data / "synth" / "events.jsonl")
    topics = TopicNames()
    stats_file = data / "worker" / "stats.json"

    try:
        broker = LocalBroker(log_dir=data / "broker").start()
    except BrokerError as exc:
        console.print(f"[red]cannot start the broker:[/] {exc}")
        return 1
    worker: WorkerProcess | None = None
    try:
        console.print(f"broker (Tansu) at {broker.url}")
        asyncio.run(ensure_topics(broker.bootstrap, topics.all()))
        worker = WorkerProcess(
            broker=broker.url,
            store=f"chdb://{data / 'store'}",
            knowledge=data / "synth" / "knowledge",
            group=GROUP,
            log_path=data / "worker" / "worker.log",
            env={
                **FAST_GROUP_ENV,
                "CLAIMGUARD_WORKER_DIR": str(data / "worker" / "faust"),
                "CLAIMGUARD_STATS_FILE": str(stats_file),
            },
        ).start()
        console.print(f"worker pid {worker.pid}, store chdb://{data / 'store'}")
        started = time.monotonic()
        with _progress(console) as progress:
            sent = progress.add_task("published", total=len(lines))
            done = progress.add_task("processed", total=len(lines))
            asyncio.run(
                _publish_and_drain(
                    broker.bootstrap,
                    topics,
                    lines,
                    on_sent=lambda n: progress.update(sent, completed=n),
                    on_done=lambda n: progress.update(done, completed=n),
                    alive=lambda: worker is not None and worker.running,
                )
            )
        elapsed = time.monotonic() - started
        code = worker.stop()
        worker = None
        if code != 0:
            console.print(f"[red]the worker exited with {code}[/]; see {data / 'worker'}")
            return 1
        stats = orjson.loads(stats_file.read_bytes()) if stats_file.exists() else {}
        console.print(
            f"{len(lines)} events in {elapsed:.1f} s: "
            f"{stats.get('decisions', '?')} decisions, {stats.get('dead_letters', '?')} dead "
            f"letters, {stats.get('findings', '?')} findings"
        )
        _report(console, f"chdb://{data / 'store'}", _region_names(data / "synth" / "knowledge"))
        _analysts(console, data, console_at or "127.0.0.1:8090", bool(serve), bool(console_at))
        if console_at and not serve:  # the worker has stopped: the console opens the store
            from claimguard.console.server import run_console

            broker.stop()
            store = f"chdb://{data / 'store'}"
            return run_console(store, console_at, data / "store.pseudonym.key")
        if serve:  # leave broker + worker + `claimguard serve` running for HTTP checks
            from claimguard.serve.stack import keep_serving

            env = {**FAST_GROUP_ENV, "CLAIMGUARD_WORKER_DIR": str(data / "worker" / "faust")}
            listen = console_at or "127.0.0.1:8090"
            return keep_serving(console, broker.url, data, serve, env, listen)
        return 0
    except TimeoutError as exc:
        console.print(f"[red]{exc}[/]")
        return 1
    finally:
        if worker is not None:
            worker.stop()
        broker.stop()


def _analysts(console: Console, data: Path, listen: str, hosted: bool, serving: bool) -> None:
    """Demo users and worked cases; the console's address and the tokens to sign in."""
    from claimguard.cases.demo import seed_cases, write_tokens

    users = seed_cases(f"chdb://{data / 'store'}")
    if not users:
        return
    tokens = data / "tokens.tsv"
    write_tokens(users, tokens)
    console.print("\n[bold]analysts' console[/] (疑点交办): sign in with a token")
    for user in users:
        console.print(f"  {user.role:<10} {user.region}  {user.name:<14} {user.token}")
    console.print(f"  (also in {tokens})")
    url = f"http://{listen}/"
    if hosted:
        console.print(f"  console: {url} (hosted by the worker)")
    elif serving:
        console.print(f"  console: {url} (until Ctrl-C)")
    else:
        console.print(
            f"  console: {url} — `make demo-console`, or "
            f"`claimguard console --store chdb://{data / 'store'} --listen {listen}`"
        )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def _publish_and_drain(
    bootstrap: str,
    topics: TopicNames,
    lines: list[bytes],
    on_sent: Callable[[int], None],
    on_done: Callable[[int], None],
    alive: Callable[[], bool],
) -> None:
    total = len(lines)

    async def watch() -> None:
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while True:
            await asyncio.sleep(0.25)
            if not alive():
                raise TimeoutError("the worker stopped before processing every event")
            try:
                lag = await group_lag(bootstrap, GROUP, topics.events)
            except Exception as exc:  # the broker is busy or restarting: poll again
                log.debug("lag poll failed: %r", exc)
                continue
            on_done(max(0, total - lag))
            if lag == 0 and sent_all.is_set():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not all events were processed within {DRAIN_TIMEOUT:.0f} s")

    sent_all = asyncio.Event()
    watcher = asyncio.create_task(watch())
    await publish(bootstrap, topics.events, lines, on_sent=lambda i, _: on_sent(i + 1))
    sent_all.set()
    await watcher


def _region_names(knowledge: Path) -> dict[str, str]:
    from claimguard.knowledge import load_knowledge

    try:
        return dict(load_knowledge(knowledge).region_names)
    except Exception:  # names are a nicety; the numbers do not depend on them
        return {}


def _report(console: Console, target: str, names: dict[str, str]) -> None:
    from claimguard.store import FindingStore

    with FindingStore.connect(target) as store:
        counts = store.count_by_violation_action()
        # national is everyone's total; rank the jurisdictions below it
        ranks = [
            r for r in store.top_jurisdictions(TOP_JURISDICTIONS + 1) if r.level != "national"
        ][:TOP_JURISDICTIONS]
        reversed_ = store.count() - store.count(include_reversed=False)
        from claimguard.library.demo_report import library_report

        library_report(console, store, counts)  # printed first: rule types and indicators

    table = Table(title="Findings per violation and action (reversed excluded)")
    for column in ("violation", "action", "findings", "amount (CNY)"):
        table.add_column(column, justify="right" if column != "violation" else "left")
    for row in counts:
        table.add_row(row.violation, row.action, str(row.findings), _money(row.amount))
    table.add_row(
        "[bold]total[/]",
        "",
        f"[bold]{sum(r.findings for r in counts)}[/]",
        f"[bold]{_money(sum(r.amount for r in counts))}[/]",
    )
    console.print(table)
    console.print(f"{reversed_} findings marked reversed by reversal events")

    top = Table(title=f"Top {TOP_JURISDICTIONS} jurisdictions below national (whole subtree)")
    for column in ("region", "name", "level", "findings", "amount (CNY)"):
        numeric = column in ("findings", "amount (CNY)")
        top.add_column(column, justify="right" if numeric else "left")
    for rank in ranks:
        name = names.get(rank.region, "")
        top.add_row(rank.region, name, rank.level, str(rank.findings), _money(rank.amount))
    console.print(top)


def _money(value: Any) -> str:
    return f"{float(value):,.2f}"
