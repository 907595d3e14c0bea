"""Hot reload of rule packs and knowledge in a running worker (SIGHUP, or polling mtimes).

The new set is loaded and linted aside, in a thread (the event loop keeps deciding); a set
that fails to load is refused: the old one stays, the failure is logged with every
problem and counted. A set that loads is handed to the pipeline, which swaps engines
between two chunks of events, so each event is evaluated wholly by one set. The engine's
running state (the stream's watermark, rule-error counts) carries over; patient
histories live in the pipeline and are untouched, so no rebalance and no restart.

Metrics (prometheus_client's default registry; the ops room exports it):
`claimguard_rule_reloads_total{result="ok|refused|unchanged"}` and
`claimguard_rules_loaded_info{digest}` = 1 for the set in force."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge

from claimguard.engine import Engine
from claimguard.knowledge import KnowledgeBase, KnowledgeError
from claimguard.rules import PackError, default_rules_dir
from claimguard.rules.digest import set_digest
from claimguard.rules.loader import pack_files

log = logging.getLogger("claimguard.lifecycle")

RELOADS = Counter(
    "claimguard_rule_reloads_total",
    "Rule/knowledge reloads requested, by result (ok, refused, unchanged)",
    ["result"],
)
LOADED = Gauge(
    "claimguard_rules_loaded_info",
    "1 for the digest of the rule packs and knowledge in force (rules/digest.py)",
    ["digest"],
)


def loaded_digest(knowledge: Path, rules: Path | None) -> str:
    """One digest over the pack files and the knowledge files: what the engine runs."""
    root = rules or default_rules_dir()
    return set_digest(root, pack_files(root), extra=[knowledge])


def _mtimes(*roots: Path) -> tuple[tuple[str, int, int], ...]:
    found = []
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                found.append((path, st.st_mtime_ns, st.st_size))
    return tuple(sorted(found))


def carry_state(old: Engine, new: Engine) -> None:
    """What an engine learned from the stream goes on: the watermark, the counters."""
    new.watermark = old.watermark
    new.conflicting_redeliveries = old.conflicting_redeliveries
    new.rule_errors = old.rule_errors  # one Counter object: exporters may hold it
    new.errors = old.errors
    new.stateless.errors = old.errors


class Reloader:
    """Loads a new engine aside and hands it to `swap` (the pipeline's swap_engine)."""

    def __init__(
        self,
        knowledge: Path,
        rules: Path | None,
        current: Callable[[], Engine],
        swap: Callable[[Engine, str], None],
        on_knowledge: Callable[[KnowledgeBase], None] | None = None,
    ) -> None:
        self.knowledge = Path(knowledge)
        self.rules = Path(rules) if rules is not None else None
        self._current = current
        self._swap = swap
        self._on_knowledge = on_knowledge
        self.digest = loaded_digest(self.knowledge, self.rules)
        self._running: asyncio.Task[None] | None = None
        self._again = False
        LOADED.labels(self.digest).set(1)

    def request(self, reason: str = "SIGHUP") -> None:
        """Called on the event loop (signal handler, watcher): reload soon, once."""
        if self._running is not None and not self._running.done():
            self._again = True  # files may have changed after the running load read them
            return
        self._running = asyncio.ensure_future(self.reload(reason))

    async def reload(self, reason: str) -> str:
        while True:
            self._again = False
            result = await self._reload_once(reason)
            if not self._again:
                return result
            reason = f"{reason}, again"

    async def _reload_once(self, reason: str) -> str:
        try:
            engine, digest = await asyncio.to_thread(self._load)
        except (KnowledgeError, PackError, OSError, ValueError) as exc:
            RELOADS.labels("refused").inc()
            problems = getattr(exc, "problems", None) or [" ".join(str(exc).split())]
            log.error(
                "rule reload (%s) refused, keeping digest %s: %d problem(s): %s",
                reason,
                self.digest,
                len(problems),
                " | ".join(problems[:20]),
            )
            return "refused"
        if digest == self.digest:
            RELOADS.labels("unchanged").inc()
            log.info("rule reload (%s): nothing changed (digest %s)", reason, digest)
            return "unchanged"
        if self._on_knowledge is not None:
            try:
                await asyncio.to_thread(self._on_knowledge, engine.kb)
            except Exception as exc:  # region chains only feed the totals: go on
                log.warning("reload: the store did not take the new regions: %r", exc)
        carry_state(self._current(), engine)
        old = self.digest
        self._swap(engine, digest)
        LOADED.remove(old)
        LOADED.labels(digest).set(1)
        self.digest = digest
        RELOADS.labels("ok").inc()
        log.info(
            "rule reload (%s): swapped digest %s -> %s (%d rules, %d shadow)",
            reason,
            old,
            digest,
            len(engine.ruleset.rules),
            sum(1 for r in engine.ruleset.rules if r.shadow),
        )
        return "ok"

    def _load(self) -> tuple[Engine, str]:
        # digest before and after: files changed while loading are loaded again next time
        digest = loaded_digest(self.knowledge, self.rules)
        engine = Engine.load(self.knowledge, self.rules)
        return engine, digest

    async def watch(self, interval: float) -> None:
        """Poll the packs' and knowledge's mtimes; request a reload when they change and
        have been still for one interval (an editor or `git checkout` mid-write)."""
        roots = [self.knowledge, self.rules or default_rules_dir()]
        seen = await asyncio.to_thread(_mtimes, *roots)
        changed_at: Any = None
        while True:
            await asyncio.sleep(interval)
            now = await asyncio.to_thread(_mtimes, *roots)
            if now != seen:
                seen, changed_at = now, True
                continue
            if changed_at:
                changed_at = None
                self.request("rules or knowledge changed on disk")
