"""Containment of a rule that raises: the rule is skipped for that event, counted per rule
(`Engine.rule_errors`, exported as `claimguard_rule_errors_total{rule_id}`) and logged once
per rule with an example; every other rule still decides."""

from __future__ import annotations

import logging
from collections import Counter

log = logging.getLogger("claimguard.engine")


class RuleErrors:
    """Counts into the engine's Counter; remembers the first example of each rule."""

    def __init__(self, counter: Counter[str]) -> None:
        self.counter = counter
        self.examples: dict[str, str] = {}  # rule_id → "event E: TypeError: ..."

    def report(self, rule_id: str, where: str, exc: BaseException) -> None:
        self.counter[rule_id] += 1
        if rule_id not in self.examples:
            example = f"{where}: {type(exc).__name__}: {exc}"[:500]
            self.examples[rule_id] = example
            log.error(
                "rule %s raised and is skipped for such events (counted per event in "
                "claimguard_rule_errors_total); first example: %s",
                rule_id,
                example,
            )
