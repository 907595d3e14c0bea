"""Opening the store at start-up: fail at once, with the real cause, when the target can
never open; wait (with backoff, for at most `wait_seconds`) only while it is unavailable."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from claimguard.store.errors import StoreError, StoreUnavailable
from claimguard.store.retry import Backoff, retrying
from claimguard.store.targets import unusable_target

T = TypeVar("T")
DEFAULT_WAIT_SECONDS = 60.0


class StoreNeverOpens(StoreError):
    """The target can never be opened (unknown scheme, a path that cannot be a directory)."""


class StoreWaitExpired(StoreError):
    """The store stayed unavailable for the whole start-up wait (not retried any more)."""


def open_within(
    target: str, connect: Callable[[], T], wait_seconds: float = DEFAULT_WAIT_SECONDS
) -> T:
    problem = unusable_target(target)
    if problem:
        raise StoreNeverOpens(problem)
    deadline = time.monotonic() + wait_seconds
    last: list[StoreUnavailable] = []

    def attempt() -> T:
        if last and time.monotonic() >= deadline:
            raise StoreWaitExpired(
                f"still unavailable after waiting {wait_seconds:g}s: {last[-1]}"
            ) from last[-1]
        try:
            return connect()
        except StoreUnavailable as exc:
            last.append(exc)
            raise

    def sleep(delay: float) -> None:
        time.sleep(max(0.0, min(delay, deadline - time.monotonic())))

    return retrying(attempt, what=f"opening store {target}", backoff=Backoff(0.2, 5.0), sleep=sleep)
