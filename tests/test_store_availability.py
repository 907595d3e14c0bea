"""An unavailable store raises a clear StoreUnavailable, and retrying() waits it out.

The chdb case runs in child processes: a chdb directory can be opened by one process at a
time, and the test process may already host another engine.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from claimguard.store import (
    Backoff,
    FindingStore,
    StoreError,
    StoreUnavailable,
    retrying,
    retrying_async,
)
from claimguard.store.targets import normalize_target

HOLD = textwrap.dedent(
    """
    import sys, time
    from claimguard.store import FindingStore
    store = FindingStore.connect(sys.argv[1])
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    store.close()
    """
)

WAIT_AND_WRITE = textwrap.dedent(
    """
    import json, logging, sys, time
    from claimguard.store import Backoff, FindingStore, StoreUnavailable, retrying
    from claimguard.store.sample import sample_finding
    logging.basicConfig(level=logging.WARNING)
    target = sys.argv[1]
    try:
        FindingStore.connect(target)
        first_error = None
    except StoreUnavailable as exc:
        first_error = str(exc)
    attempts = []
    def connect():
        attempts.append(time.monotonic())
        return FindingStore.connect(target)
    start = time.monotonic()
    store = retrying(connect, what="connect", backoff=Backoff(initial=0.1, maximum=0.4))
    waited = time.monotonic() - start
    store.migrate()
    store.write([sample_finding("F1")])
    print(json.dumps({"first_error": first_error, "attempts": len(attempts),
                      "waited": waited, "count": store.count()}))
    store.close()
    """
)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.integration  # two processes with embedded ClickHouse (chdb)
def test_locked_chdb_directory_is_waited_out(tmp_path: Path) -> None:
    target = f"chdb://{tmp_path / 'db'}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, target, "2.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        waiter = subprocess.run(
            [sys.executable, "-c", WAIT_AND_WRITE, target],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.wait(timeout=30)
    assert waiter.returncode == 0, waiter.stderr[-2000:]
    result = json.loads(waiter.stdout.strip().splitlines()[-1])
    assert "another process may hold it" in result["first_error"]
    assert result["attempts"] > 1  # it kept trying while the directory was held
    assert result["count"] == 1  # and wrote once the holder let go
    assert "retrying in" in waiter.stderr  # each failed attempt is logged


def test_closed_http_port_is_unavailable() -> None:
    target = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="store unreachable"):
        FindingStore.connect(target)
    assert time.monotonic() - started < 5


def test_retrying_gives_up_only_when_told() -> None:
    target = f"http://127.0.0.1:{closed_port()}"
    delays: list[float] = []
    with pytest.raises(StoreUnavailable):
        retrying(
            lambda: FindingStore.connect(target),
            backoff=Backoff(initial=0.1, maximum=0.3, jitter=0.0),
            max_attempts=5,
            sleep=delays.append,
        )
    assert delays == [0.1, 0.2, 0.3, 0.3]  # exponential, capped; 5 attempts


def test_retrying_does_not_retry_a_wrong_call() -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise StoreError("syntax error")

    with pytest.raises(StoreError):
        retrying(broken, sleep=lambda _: None)
    assert calls == [1]


def test_retrying_returns_once_the_call_succeeds() -> None:
    outcomes: list[Exception | str] = [StoreUnavailable("down"), StoreUnavailable("down"), "ok"]

    def flaky() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retrying(flaky, sleep=lambda _: None) == "ok"


def test_retrying_async_waits_without_blocking_the_loop() -> None:
    outcomes: list[Exception | str] = [StoreUnavailable("down"), "ok"]
    ticks: list[int] = []

    def flaky() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def ticker() -> None:
        for i in range(3):
            ticks.append(i)
            await asyncio.sleep(0.01)

    async def main() -> tuple[str, int]:
        tick = asyncio.create_task(ticker())
        result = await retrying_async(flaky, backoff=Backoff(initial=0.05, jitter=0.0))
        ticked_meanwhile = len(ticks)
        await tick
        return result, ticked_meanwhile

    result, ticked_meanwhile = asyncio.run(main())
    assert result == "ok"
    assert ticked_meanwhile == 3  # the loop ran other tasks during the 50 ms back-off


def test_relative_chdb_paths_become_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert normalize_target("chdb://./data/ch") == f"chdb://{tmp_path}/data/ch"
    assert normalize_target("chdb://data/ch?x=1") == f"chdb://{tmp_path}/data/ch?x=1"
    for unchanged in ("chdb:///abs/dir", "chdb://memory", "chdb://memory/db", "http://h:8123"):
        assert normalize_target(unchanged) == unchanged
