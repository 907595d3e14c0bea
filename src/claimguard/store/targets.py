"""Store targets: clickhouse-connect DSNs, with relative chdb paths made absolute."""

from __future__ import annotations

import os
from pathlib import Path

CHDB_SCHEME = "chdb://"
_IN_MEMORY = ("memory", ":memory:")


def normalize_target(target: str) -> str:
    """`chdb://./data/ch` or `chdb://data/ch` → `chdb:///abs/data/ch`.

    clickhouse-connect reads `chdb://X/Y` as location X and database Y (its
    `chdb://memory/db` form), so a relative directory would silently open the engine
    in `.` and look for a database named after the first path segment. `chdb:///abs`,
    `chdb://memory[/db]` and `http(s)://` targets pass through unchanged.
    """
    if not target.startswith(CHDB_SCHEME) or target.startswith(CHDB_SCHEME + "/"):
        return target
    rest, sep, query = target[len(CHDB_SCHEME) :].partition("?")
    if rest.split("/", 1)[0] in _IN_MEMORY:
        return target
    path = Path(rest).expanduser().resolve()
    return f"{CHDB_SCHEME}{path}{sep}{query}"


KNOWN_SCHEMES = ("chdb", "http", "https", "clickhouse", "clickhouse+http", "clickhouse+https")


def unusable_target(target: str) -> str | None:
    """Why `target` can never be opened, however long one waits (None: it may open).

    Only this kind of failure is final; an unreachable server or a chdb directory held by
    another process may open later, and a worker waits for those (a bounded start-up wait).
    """
    scheme, sep, _ = target.partition("://")
    if not sep or scheme.lower() not in KNOWN_SCHEMES:
        return (
            f"unknown store scheme {scheme + sep if sep else target!r}: use chdb:///path/to/dir "
            "(embedded ClickHouse) or http://host:8123 (a ClickHouse server)"
        )
    if scheme.lower() != "chdb":
        return None
    normalized = normalize_target(target)
    rest = normalized[len(CHDB_SCHEME) :].partition("?")[0]
    if not rest.startswith("/"):
        return None  # chdb://memory[/db]
    path = Path(rest)
    # Create the directory now (chdb would) and write into it: the real cause, in one line.
    probe = path / f".claimguard-probe-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        where = exc.filename or path
        return f"cannot use {path} as a chdb directory: {exc.strerror} ({where})"
    return None
