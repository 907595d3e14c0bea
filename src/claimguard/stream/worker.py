"""`claimguard worker`: the Faust stream worker (contract §7).

Wiring only: load the engine, open and migrate the store, make sure the topics exist,
build the Faust app (input topic on the batch path, the history table, a flush timer) and
run it under Faust's Worker, which owns signals and a clean shutdown.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import orjson

from claimguard.engine import Engine
from claimguard.knowledge import KnowledgeError
from claimguard.lifecycle.worker import install_reload
from claimguard.ops.connections import faust_credentials, store_client_args
from claimguard.ops.logs import faust_logging_config, setup_logging
from claimguard.rules import PackError
from claimguard.store import FindingStore, StoreError
from claimguard.store.opening import DEFAULT_WAIT_SECONDS, StoreNeverOpens, open_within
from claimguard.stream.batching import BatchingApp
from claimguard.stream.dispositions import LockedSink, consume_dispositions
from claimguard.stream.faults import with_outage_switch
from claimguard.stream.gcpolicy import GcPolicy
from claimguard.stream.histories import HistoryCache
from claimguard.stream.pipeline import Pipeline
from claimguard.stream.publisher import Publisher
from claimguard.stream.replies import RecentDecisions
from claimguard.stream.settings import WorkerSettings
from claimguard.stream.shutdown import BoundedWorker, shutdown_timeout
from claimguard.stream.stats import PipelineStats
from claimguard.stream.topics import ensure_topics, partition_count

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE
TICK_SECONDS = 0.05
STATS_ENV = "CLAIMGUARD_STATS_FILE"

log = logging.getLogger("claimguard.stream")


def open_store(
    target: str,
    region_parents: dict[str, str] | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> FindingStore:
    """Connect and apply the DDL: refuse at once a target that can never open, wait (with
    backoff, at most `wait_seconds`) while the store is unavailable."""

    def connect() -> FindingStore:
        store = FindingStore.connect(target, **store_client_args(target))
        try:
            store.migrate()
            store.apply_event_retention()  # $CLAIMGUARD_EVENT_RETENTION_DAYS, if set
            if region_parents:
                store.load_regions(region_parents)
        except BaseException:
            store.close()
            raise
        return store

    return open_within(target, connect, wait_seconds)


async def prepare_topics(settings: WorkerSettings) -> int:
    """Create missing topics; return the input topic's partition count."""
    await ensure_topics(settings.bootstrap, settings.topics.all())
    count = await partition_count(settings.bootstrap, settings.topics.events)
    if count <= 0:
        raise RuntimeError(f"topic {settings.topics.events} has no partitions")
    return count


def build_app(
    settings: WorkerSettings,
    engine: Engine,
    store: Any,
    partitions: int,
    stats: PipelineStats | None = None,
    dispositions_store: Any = None,
    metrics: Any = None,  # claimguard.ops.metrics.WorkerMetrics
    watch_rules: float = 0.0,
    store_lock: threading.Lock | None = None,
) -> tuple[BatchingApp, Pipeline]:
    """The Faust app: the input topic on the batch path, the history table partitioned like
    it (Faust co-assigns topics with equal partition counts), and the pipeline."""
    app = BatchingApp(
        settings.group,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        datadir=str(settings.datadir / settings.group),
        topic_partitions=partitions,
        topic_replication_factor=1,
        table_standby_replicas=settings.standby_replicas,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_rebalance_timeout=settings.rebalance_timeout,
        broker_max_poll_records=settings.max_poll_records,
        consumer_max_fetch_size=8 * 1024 * 1024,
        stream_wait_empty=True,  # a rebalance waits for our unflushed events (see pipeline)
        broker_credentials=faust_credentials(),  # TLS / SASL (ops/connections.py)
    )
    table = app.Table(
        settings.history_table,
        default=None,
        # bytes types make Faust use the raw codec for the changelog, also in recovery
        key_type=bytes,
        value_type=bytes,
        partitions=partitions,
    )

    publisher = Publisher(settings.bootstrap)
    # One store call at a time: the flush and the dispositions writer share the connection.
    store_lock = store_lock or threading.Lock()
    pipeline = Pipeline(
        engine=engine,
        store=LockedSink(store, store_lock, reader=dispositions_store),
        histories=HistoryCache(table, settings.history_cache),
        consumer=lambda: app.consumer,
        send=publisher.send,
        topics=settings.topics,
        flush_events=settings.flush_events,
        flush_findings=settings.flush_findings,
        flush_interval=settings.flush_interval,
        urgent_flush_timeout=settings.urgent_flush_timeout,
        stats=stats,
        recent=RecentDecisions(settings.topics.replies, settings.recent_decisions),
        metrics=metrics,
    )
    app.batch_topic(settings.topics.events, pipeline.handle)
    install_reload(app, pipeline, settings, dispositions_store, store_lock, watch_rules)
    gc_policy = GcPolicy()  # see gcpolicy.py: the collector off the decision path

    if dispositions_store is not None:

        @app.task
        async def _dispositions() -> None:
            # 3103 dispositions from `claimguard serve`, into claimguard.dispositions
            while True:
                try:
                    await consume_dispositions(
                        settings.bootstrap,
                        settings.topics.dispositions,
                        f"{settings.group}.dispositions",
                        dispositions_store,
                        store_lock,
                    )
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("dispositions consumer failed; restarting it")
                    await asyncio.sleep(1.0)

    @app.task
    async def _ticker() -> None:
        # A plain task, not `app.timer`: timers stop as soon as the app begins to stop,
        # but a shutdown still needs ticks to flush the last epoch while Faust waits for
        # our unacked events (`wait_empty`); app tasks are cancelled only after that.
        ticks = 0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await pipeline.tick()
                gc_policy.tick()
                ticks += 1
                if not ticks % 20:
                    gc_policy.write()
            except Exception:  # a failed tick must not end the ticking
                log.exception("pipeline tick failed")

    if os.environ.get(STATS_ENV):

        @app.timer(1.0)
        async def _dump_stats() -> None:
            _write_stats(pipeline.refreshed_stats(app.fetch_seconds))

    @app.on_before_shutdown.connect
    async def _closing(sender: Any, **kwargs: Any) -> None:
        # Faust has waited for our unflushed events (they needed the publisher). Its own
        # last commit can be skipped when a periodic commit is in flight, so commit once
        # more: otherwise a graceful restart would re-evaluate the last epoch (harmless,
        # duplicates to the engine, but its decisions would be published again).
        try:
            await app.consumer.commit()
        except Exception as exc:  # the next owner re-processes the last epoch: harmless
            log.warning("final commit failed: %r", exc)
        await publisher.stop()

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        pipeline.on_partitions_revoked()

    return app, pipeline


def quiet_client_logs() -> None:
    """aiokafka logs every produced message at DEBUG; building those records alone cost
    ~30 µs an event when some handler enabled DEBUG. Client libraries speak at WARNING."""
    for name in ("aiokafka", "clickhouse_connect", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


def tune_gc() -> None:
    """Most objects a worker allocates die young; the default thresholds collect far too
    often for an event rate like ours (measured: decoding 24 → 15 µs an event)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1_000)


def run_worker(
    broker: str,
    store: str,
    knowledge: Path,
    rules: Path | None = None,
    group: str = "claimguard",
    store_wait: float = DEFAULT_WAIT_SECONDS,
    metrics_port: int = 0,
    log_format: str | None = None,
    watch_rules: float = 0.0,
    console: str | None = None,
) -> int:
    # A SIGHUP before the reload handler is installed must not end the worker (its default
    # action); the files are read at start anyway.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    settings = WorkerSettings(
        broker=broker, store=store, knowledge=Path(knowledge), rules=rules, group=group
    )
    setup_logging(log_format)
    try:
        engine = Engine.load(settings.knowledge, settings.rules)
    except (KnowledgeError, PackError, OSError) as exc:
        print(f"claimguard worker: refused: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        finding_store = open_store(settings.store, engine.kb.region_parents, store_wait)
    except StoreNeverOpens as exc:
        print(f"claimguard worker: store {settings.store}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StoreError as exc:
        print(f"claimguard worker: store {settings.store}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    try:
        partitions = asyncio.run(prepare_topics(settings))
    except Exception as exc:
        print(f"claimguard worker: broker {settings.broker}: {exc!r}", file=sys.stderr)
        finding_store.close()
        return EXIT_UNAVAILABLE
    settings.datadir.mkdir(parents=True, exist_ok=True)
    asyncio.set_event_loop(asyncio.new_event_loop())
    stats = PipelineStats()
    store_lock = threading.Lock()
    sink, metrics = with_outage_switch(finding_store), None
    if metrics_port:
        from claimguard.ops.metrics import WorkerMetrics
        from claimguard.ops.store import MeasuredStore

        metrics = WorkerMetrics()
        sink = MeasuredStore(sink, metrics)
    app, pipeline = build_app(
        settings,
        engine,
        sink,
        partitions,
        stats,
        dispositions_store=finding_store,
        metrics=metrics,
        watch_rules=watch_rules,
        store_lock=store_lock,
    )
    if metrics is not None:
        from claimguard.ops.worker import instrument

        try:
            instrument(
                app,
                pipeline,
                metrics,
                settings.topics.events,
                settings.knowledge,
                settings.rules,
                metrics_port,
            )
        except OSError as exc:
            print(f"claimguard worker: metrics port {metrics_port}: {exc}", file=sys.stderr)
            finding_store.close()
            return EXIT_UNAVAILABLE
    console_thread = None
    if console:  # the analysts' console on this process's store (see claimguard.console)
        from claimguard.console.server import start_console

        try:
            console_thread = start_console(finding_store, store_lock, console, None, settings.rules)
        except (RuntimeError, ValueError, OSError) as exc:
            print(f"claimguard worker: {exc}", file=sys.stderr)
            finding_store.close()
            return EXIT_UNAVAILABLE
    quiet_client_logs()
    tune_gc()
    worker = BoundedWorker(
        app,
        loglevel=settings.log_level,
        quiet=True,
        shutdown_timeout=shutdown_timeout(),
        logging_config=faust_logging_config(log_format, settings.log_level),
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        if console_thread is not None:
            console_thread.stop()
        finding_store.close()
        _write_stats(pipeline.refreshed_stats(app.fetch_seconds))
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:1000]


def _write_stats(stats: PipelineStats) -> None:
    """`CLAIMGUARD_STATS_FILE`: where the counters go, every second and at exit (benchmark,
    demo). Written whole then renamed, so a reader never sees half a file."""
    path = os.environ.get(STATS_ENV)
    if path:
        tmp = Path(path + ".tmp")
        tmp.write_bytes(orjson.dumps(stats.as_dict()))
        tmp.replace(path)
