"""Running the console: standalone, or as a thread of the process that holds the store."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from pathlib import Path

from aiohttp import web

from claimguard.cases.access import KEY_ENV, Pseudonymizer, default_key_file
from claimguard.cases.service import CaseService
from claimguard.console.app import make_app
from claimguard.store import FindingStore, StoreUnavailable

log = logging.getLogger("claimguard.console")
EXIT_UNAVAILABLE = 69


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen {listen!r}: give HOST:PORT")
    return host or "127.0.0.1", int(port)


def service_for(
    store: FindingStore, key_file: Path, rules: Path | None, lock: threading.Lock | None = None
) -> CaseService:
    from claimguard.cases.cli import rule_texts, violation_titles

    service = CaseService(store, Pseudonymizer.from_file(key_file), lock, rule_texts(rules))
    service.violation_titles = violation_titles(rules)
    return service


def run_console(target: str, listen: str, key_file: Path, rules: Path | None = None) -> int:
    """`claimguard console`: open the store (no worker may hold an embedded one) and serve
    until interrupted."""
    host, port = parse_listen(listen)
    try:
        store = FindingStore.connect(target)
    except StoreUnavailable as exc:
        print(
            f"claimguard console: store {target} cannot be opened ({exc}); when a worker "
            "runs on it, start the worker with --console HOST:PORT instead",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    try:
        store.migrate()
        app = make_app(service_for(store, key_file, rules))
        print(f"claimguard console on http://{host}:{port}/ (store {target})", flush=True)
        web.run_app(app, host=host, port=port, print=None, access_log=None)
    finally:
        store.close()
    return 0


class ConsoleThread(threading.Thread):
    """The console inside the worker: its own event loop in a daemon thread, the worker's
    store client, and the worker's store lock around every store call."""

    def __init__(self, service: CaseService, listen: str) -> None:
        super().__init__(name="claimguard-console", daemon=True)
        self.service = service
        self.host, self.port = parse_listen(listen)
        self.started_event = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the starter, not swallowed
            self.error = exc
            self.started_event.set()
            log.exception("console stopped")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        runner = web.AppRunner(make_app(self.service), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            log.info("console on http://%s:%d/", self.host, self.port)
            self.started_event.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self.join(timeout=5)


def start_console(
    store: FindingStore,
    lock: threading.Lock,
    listen: str,
    key_file: Path | None = None,
    rules: Path | None = None,
) -> ConsoleThread:
    """Start the console beside the worker; the pseudonym key defaults as for the CLI
    ($CLAIMGUARD_PSEUDONYM_KEY, else beside an embedded store)."""
    if key_file is None:
        given = os.environ.get(KEY_ENV)
        key_file = Path(given) if given else default_key_file(store.target)
    thread = ConsoleThread(service_for(store, key_file, rules, lock), listen)
    thread.start()
    thread.started_event.wait(timeout=30)
    if thread.error is not None:
        raise RuntimeError(f"console could not start on {listen}: {thread.error}")
    return thread
