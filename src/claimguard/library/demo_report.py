"""The demo's view of the rule library: which NHSA rule types fired, and the ZB indicator
findings of the month(s) in the store."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from claimguard.library.nhsa import LIBRARY_CODES


def library_report(console: Console, store: Any, counts: list[Any]) -> None:
    by_code: dict[str, list[int]] = {}
    for row in counts:
        rule = LIBRARY_CODES.get(row.violation)
        if rule is not None:
            acc = by_code.setdefault(rule.code, [0, 0])
            acc[0] += row.findings
    table = Table(title="NHSA rule library: rule types that fired (knowledge points)")
    for column in ("nhsa code", "rule type", "violation", "findings"):
        table.add_column(column, justify="right" if column == "findings" else "left")
    for rule in sorted(LIBRARY_CODES.values(), key=lambda r: r.code):
        if rule.code in by_code:
            table.add_row(rule.code, rule.name, rule.violation, str(by_code[rule.code][0]))
    console.print(table)
    try:
        indicators = store.indicator_findings()
    except Exception as exc:  # the indicators are extra; the demo's numbers do not need them
        console.print(f"ZB indicators unavailable: {exc}")
        return
    ind = Table(title="ZB indicator findings (per institution and month, vs threshold and peers)")
    for column in ("institution", "month", "indicator", "value", "threshold", "peer avg"):
        ind.add_column(column)
    for f in indicators[:10]:
        ind.add_row(
            f.institution_code, str(f.month), f.indicator, f"{f.value:.2%}",
            f"{f.threshold:.0%}", f"{f.peer_avg:.2%} ({f.peers})",
        )  # fmt: skip
    console.print(ind)
    console.print(f"{len(indicators)} indicator findings in all (claimguard.indicator_findings)")
