"""Wiring of the reloader into the worker's Faust app: SIGHUP, and polling if asked."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import Any

from claimguard.knowledge import KnowledgeBase
from claimguard.lifecycle.reload import Reloader

log = logging.getLogger("claimguard.lifecycle")


def install_reload(
    app: Any,
    pipeline: Any,
    settings: Any,
    store: Any,
    store_lock: threading.Lock,
    watch_rules: float = 0.0,
) -> Reloader:
    def regions(kb: KnowledgeBase) -> None:
        if store is not None and kb.region_parents:
            with store_lock:  # one store call at a time (see stream/dispositions.py)
                store.load_regions(kb.region_parents)

    reloader = Reloader(
        settings.knowledge,
        settings.rules,
        current=lambda: pipeline.engine,
        swap=pipeline.swap_engine,
        on_knowledge=regions,
    )

    @app.task
    async def _reload_signals() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, reloader.request, "SIGHUP")
        log.info("rules %s loaded; SIGHUP reloads packs and knowledge", reloader.digest)
        if watch_rules > 0:
            await reloader.watch(watch_rules)

    return reloader
