"""Read a store's findings as contract JSON, in a child process.

A process may open only one chdb directory in its lifetime, so tests and tools that look
at several stores (one per worker, one per scenario) read each through this module:

    python -m claimguard.stream.inspect chdb:///path/to/dir   → one finding per line
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson


def dump(target: str) -> list[bytes]:
    """Every distinct finding in `target`, latest version (FINAL), as JSON lines."""
    from claimguard.store import FindingStore
    from claimguard.store.finding_store import FINDINGS
    from claimguard.store.rows import COLUMNS, to_finding

    store = FindingStore.connect(target)
    try:
        result = store.client.query(
            f"SELECT {', '.join(COLUMNS)} FROM {FINDINGS} FINAL ORDER BY finding_id"
        )
        return [
            orjson.dumps(to_finding(row, COLUMNS).model_dump(mode="json"))
            for row in result.result_rows
        ]
    finally:
        store.close()


def read_findings(target: str, timeout: float = 120.0) -> list[dict[str, Any]]:
    """`dump(target)` run in a fresh interpreter; the findings as dicts."""
    done = subprocess.run(
        [sys.executable, "-m", "claimguard.stream.inspect", target],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"reading {target} failed: {done.stderr.decode(errors='replace')}")
    return [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m claimguard.stream.inspect STORE_TARGET", file=sys.stderr)
        return 2
    out = sys.stdout.buffer
    for line in dump(argv[0]):
        out.write(line + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
