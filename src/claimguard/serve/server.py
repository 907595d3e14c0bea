"""`claimguard serve`: wiring and the process's life (signals, GC tuning, shutdown)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from claimguard.ops.logs import setup_logging
from claimguard.rules import PackError, load_packs
from claimguard.serve.app import Service, build_app
from claimguard.serve.bridge import Bridge, BridgeSettings
from claimguard.serve.fsi_answer import RuleTexts
from claimguard.serve.metrics import ServeMetrics
from claimguard.stream.settings import bootstrap_of
from claimguard.stream.topics import TopicNames

EXIT_BAD_INPUT = 2
log = logging.getLogger("claimguard.serve")


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen: expected HOST:PORT, got {listen!r}")
    return host or "127.0.0.1", int(port)


async def serve(
    broker: str, host: str, port: int, texts: RuleTexts, rules: Path | None = None
) -> None:
    metrics = ServeMetrics()
    metrics.set_build(rules)
    # Tansu answers a fetch only when its max wait has passed (FACTS.md): the wait bounds
    # the time a decision sits on the broker, and every wait costs a fetch round trip.
    wait = int(os.environ.get("CLAIMGUARD_SERVE_FETCH_MAX_WAIT_MS", "5"))
    settings = BridgeSettings(bootstrap_of(broker), TopicNames.from_env(), fetch_max_wait_ms=wait)
    bridge = Bridge(settings, metrics)
    await bridge.start()
    runner = web.AppRunner(build_app(Service(bridge, metrics, texts)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0] if runner.addresses else (host, port)
    print(
        f"claimguard serve: listening on http://{bound[0]}:{bound[1]} "
        f"(broker {'up' if bridge.ready else 'not reachable yet'})",
        flush=True,
    )
    # Everything loaded so far lives as long as the process: keep it out of the
    # collector's scans, and collect the young generation less often (latency tail).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1_000)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()
        await bridge.stop()


def run_serve(
    broker: str, listen: str, rules: Path | None = None, log_format: str | None = None
) -> int:
    setup_logging(log_format)
    for name in ("aiokafka", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        host, port = parse_listen(listen)
        ruleset = load_packs(rules)
        texts = RuleTexts.of(ruleset)
    except (ValueError, PackError, OSError) as exc:
        print(f"claimguard serve: refused: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from claimguard.lifecycle.serve import install_serve_reload

    install_serve_reload(texts, rules, ruleset.digest)  # SIGHUP: titles and bases again
    asyncio.run(serve(broker, host, port, texts, rules))
    return 0
