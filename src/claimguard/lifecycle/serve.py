"""`claimguard serve` holds rule data too (titles and legal bases for 3101/3102 answers):
SIGHUP reloads them from the same packs, in a thread; a set that fails to load is refused
and the texts in force stay (log line, claimguard_rule_reloads_total{result="refused"})."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

from claimguard.lifecycle.reload import LOADED, RELOADS
from claimguard.rules import PackError, load_packs
from claimguard.serve.fsi_answer import RuleTexts

log = logging.getLogger("claimguard.lifecycle")


def install_serve_reload(texts: RuleTexts, rules: Path | None, digest: str = "") -> None:
    state = {"digest": digest}
    lock = threading.Lock()  # one reload at a time

    def reload() -> None:
        with lock:
            try:
                ruleset = load_packs(rules)
            except (PackError, OSError) as exc:
                RELOADS.labels("refused").inc()
                problems = getattr(exc, "problems", None) or [str(exc)]
                log.error(
                    "serve: rule reload (SIGHUP) refused, keeping digest %s: %s",
                    state["digest"],
                    " | ".join(problems[:20]),
                )
                return
            # one attribute store: a request reads either the old mapping or the new one
            object.__setattr__(texts, "texts", RuleTexts.of(ruleset).texts)
            if state["digest"]:
                LOADED.remove(state["digest"])
            LOADED.labels(ruleset.digest).set(1)
            state["digest"] = ruleset.digest
            RELOADS.labels("ok").inc()
            log.info(
                "serve: rule reload (SIGHUP): texts of %d rules, digest %s",
                len(ruleset.rules),
                ruleset.digest,
            )

    def on_hup(signum: int, frame: Any) -> None:
        threading.Thread(target=reload, name="rules-reload", daemon=True).start()

    if digest:
        LOADED.labels(digest).set(1)
    signal.signal(signal.SIGHUP, on_hup)
