"""Shutdown within a bounded time, whatever a flush is doing.

The first SIGTERM or SIGINT starts Faust's graceful stop (flush, commit, leave the group)
and a watchdog: if the process has not exited `timeout` seconds later, it exits at once. A
second signal exits at once. Exiting early is safe: offsets are committed only after their
findings, decisions and histories are durable, so the events after the last commit are
simply processed again by the next owner (at-least-once with idempotent effects).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

import faust

log = logging.getLogger("claimguard.stream")

DEFAULT_TIMEOUT = 30.0
EXIT_FORCED = 75  # EX_TEMPFAIL: stopped without a clean flush; uncommitted events re-run


def shutdown_timeout() -> float:
    value = os.environ.get("CLAIMGUARD_SHUTDOWN_TIMEOUT")
    return float(value) if value else DEFAULT_TIMEOUT


def _exit_now(why: str) -> None:
    message = (
        f"claimguard worker: {why}; exiting now "
        "(events after the last commit will be processed again)"
    )
    log.error(message)
    print(message, file=sys.stderr, flush=True)
    os._exit(EXIT_FORCED)  # no atexit joins: a store call stuck in a thread cannot hold us


class BoundedWorker(faust.Worker):
    """faust.Worker whose shutdown cannot hang: a watchdog, and a second signal."""

    def __init__(self, *args: Any, shutdown_timeout: float = DEFAULT_TIMEOUT, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._shutdown_timeout = shutdown_timeout
        self._stopping = False

    def _schedule_shutdown(self, signum: signal.Signals) -> None:
        if self._stopping:
            _exit_now(f"second signal ({signum.name}) during shutdown")
        self._stopping = True
        timeout = self._shutdown_timeout
        log.warning("%s received: stopping (at most %.0fs)", signum.name, timeout)
        watchdog = threading.Timer(timeout, _exit_now, (f"shutdown took longer than {timeout:g}s",))
        watchdog.daemon = True
        watchdog.start()
        super()._schedule_shutdown(signum)
