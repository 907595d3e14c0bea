"""Keep calling the store while it is unavailable, backing off exponentially."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from claimguard.store.errors import StoreUnavailable

T = TypeVar("T")
log = logging.getLogger("claimguard.store")


class Backoff:
    """Delays initial, initial*factor, ... capped at `maximum`, each shortened by up to
    `jitter` of itself so that workers which failed together do not retry together."""

    def __init__(
        self, initial: float = 0.1, maximum: float = 10.0, factor: float = 2.0, jitter: float = 0.1
    ) -> None:
        self.initial, self.maximum, self.factor, self.jitter = initial, maximum, factor, jitter
        self.attempt = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * self.factor**self.attempt)
        self.attempt += 1
        return delay * (1.0 - random.random() * self.jitter)


def retrying(
    fn: Callable[[], T],
    *,
    what: str = "store call",
    backoff: Backoff | None = None,
    max_attempts: int | None = None,
    retry_on: tuple[type[BaseException], ...] = (StoreUnavailable,),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Return fn(), retrying while it raises one of `retry_on` (by default only
    StoreUnavailable: a wrong query is not retried). `max_attempts=None` retries forever,
    which is what a stream worker wants: it must not commit offsets past unwritten rows."""
    backoff = backoff or Backoff()
    while True:
        try:
            return fn()
        except retry_on as exc:
            if max_attempts is not None and backoff.attempt + 1 >= max_attempts:
                raise
            delay = backoff.next_delay()
            log.warning(
                "%s failed (attempt %d), retrying in %.2fs: %s", what, backoff.attempt, delay, exc
            )
            sleep(delay)


async def retrying_async(
    fn: Callable[[], T],
    *,
    what: str = "store call",
    backoff: Backoff | None = None,
    max_attempts: int | None = None,
    retry_on: tuple[type[BaseException], ...] = (StoreUnavailable,),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """retrying() for an event loop: fn runs in a worker thread (store calls block) and the
    waits do not block the loop, so the Kafka consumer keeps its heartbeats."""
    backoff = backoff or Backoff()
    while True:
        try:
            return await asyncio.to_thread(fn)
        except retry_on as exc:
            if max_attempts is not None and backoff.attempt + 1 >= max_attempts:
                raise
            delay = backoff.next_delay()
            log.warning(
                "%s failed (attempt %d), retrying in %.2fs: %s", what, backoff.attempt, delay, exc
            )
            await sleep(delay)
