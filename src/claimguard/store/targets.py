"""Store targets: clickhouse-connect DSNs, with relative chdb paths made absolute."""

from __future__ import annotations

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
