"""A switch that makes the store unavailable on purpose, for fault tests and drills.

The embedded store runs inside the worker process, so an outage cannot be caused from
outside the way a ClickHouse server can be stopped. When `CLAIMGUARD_FAULT_STORE_DOWN`
names a file, every store call raises StoreUnavailable while that file exists: the worker
then behaves exactly as during a real outage (retries with backoff, stops consuming).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claimguard.model import Finding
from claimguard.store import StoreUnavailable

SWITCH_ENV = "CLAIMGUARD_FAULT_STORE_DOWN"


class OutageSwitch:
    """Wraps a finding sink; fails while `flag` exists."""

    def __init__(self, sink: Any, flag: Path) -> None:
        self.sink = sink
        self.flag = flag

    def _check(self) -> None:
        if self.flag.exists():
            raise StoreUnavailable(f"simulated store outage ({self.flag} exists)")

    def write(self, findings: Sequence[Finding]) -> int:
        self._check()
        return int(self.sink.write(findings))

    def mark_reversed(self, settlement_ids: Sequence[str]) -> int:
        self._check()
        return int(self.sink.mark_reversed(settlement_ids))

    def dead_letter(self, rejected: Sequence[Any]) -> int:
        self._check()
        return int(self.sink.dead_letter(rejected))

    def ping(self) -> None:
        self._check()
        self.sink.ping()

    def archive_events(self, rows: Sequence[Any]) -> int:
        self._check()
        return int(self.sink.archive_events(rows))

    def write_lines(self, rows: Sequence[Sequence[Any]]) -> int:
        self._check()
        return int(self.sink.write_lines(rows))


def with_outage_switch(sink: Any) -> Any:
    flag = os.environ.get(SWITCH_ENV)
    return OutageSwitch(sink, Path(flag)) if flag else sink
