"""Keep CPython's cyclic collector off the decision path.

What made the decision tail (measured by the stream engineer: p99 50–143 ms at 500
settlements/s): collections of the older generations that scan every live patient
history, tens to ~100 ms with the loop stopped. Histories are plain lists, dicts and
tuples without reference cycles: reference counting frees them, the cyclic collector only
has to look at them.

So, every `freeze_every` seconds, everything alive is moved out of the collector's sight
(`gc.freeze()`, an O(1) list splice): young collections then scan only what was allocated
since, and old-generation passes have nearly nothing to scan. Objects that are frozen and
later become cyclic garbage are not collected while frozen, so every `full_every` seconds
the freeze is undone and one full collection runs (one pause of that size, deliberately
rare, instead of many). Pauses are measured with `gc.callbacks` and written to
`CLAIMGUARD_GC_STATS_FILE` when set (benchmarks).
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import Any

import orjson


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


class GcPolicy:
    def __init__(self, freeze_every: float | None = None, full_every: float | None = None) -> None:
        self.freeze_every = (
            _env_float("CLAIMGUARD_GC_FREEZE_EVERY", 1.0) if freeze_every is None else freeze_every
        )
        self.full_every = (
            _env_float("CLAIMGUARD_GC_FULL_EVERY", 600.0) if full_every is None else full_every
        )
        now = time.monotonic()
        self._last_freeze = self._last_full = now
        self._started: float | None = None
        self.pauses = 0
        self.pauses_over_10ms = 0
        self.max_pause_ms = [0.0, 0.0, 0.0]
        self.total_pause_ms = 0.0
        self.full_collections = 0
        self._stats_path = os.environ.get("CLAIMGUARD_GC_STATS_FILE")

    def _measure(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        if self._started is None:
            return
        ms = (time.perf_counter() - self._started) * 1000
        self._started = None
        generation = int(info.get("generation", 2))
        self.pauses += 1
        self.total_pause_ms += ms
        if ms > 10:
            self.pauses_over_10ms += 1
        if ms > self.max_pause_ms[generation]:
            self.max_pause_ms[generation] = ms

    def tick(self) -> None:
        """Called often (the worker's ticker): freeze or collect when due. The pauses are
        measured from the first tick on (the worker is running; start-up is not counted)."""
        if self._measure not in gc.callbacks:
            gc.callbacks.append(self._measure)
        now = time.monotonic()
        if self.full_every and now - self._last_full >= self.full_every:
            gc.unfreeze()
            gc.collect()
            self.full_collections += 1
            self._last_full = now
        if self.freeze_every and now - self._last_freeze >= self.freeze_every:
            gc.freeze()
            self._last_freeze = now

    def as_dict(self) -> dict[str, Any]:
        return {
            "freeze_every": self.freeze_every,
            "full_every": self.full_every,
            "pauses": self.pauses,
            "pauses_over_10ms": self.pauses_over_10ms,
            "max_pause_ms_by_generation": [round(x, 2) for x in self.max_pause_ms],
            "total_pause_ms": round(self.total_pause_ms, 1),
            "full_collections": self.full_collections,
            "frozen": gc.get_freeze_count(),
        }

    def write(self) -> None:
        if self._stats_path:
            tmp = Path(self._stats_path + ".tmp")
            tmp.write_bytes(orjson.dumps(self.as_dict()))
            tmp.replace(self._stats_path)
