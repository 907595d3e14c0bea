"""The backtest's three outputs: a terminal table, JSON lines, a self-contained HTML page a
reviewer can attach to a merge request (no scripts, no external files)."""

from __future__ import annotations

import html
from collections.abc import Iterator

import orjson

from claimguard.backtest.compare import RuleDelta, Summary


def json_lines(deltas: list[RuleDelta], summary: Summary) -> Iterator[bytes]:
    """One object per rule (rule_id, baseline_hits, candidate_hits, new, lost, ...), then
    one summary object (`"summary": true`)."""
    for d in deltas:
        yield orjson.dumps(d.as_dict()) + b"\n"
    yield orjson.dumps({"summary": True, **summary.as_dict()}) + b"\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def table(deltas: list[RuleDelta], summary: Summary) -> str:
    head = ("rule", "status", "mode", "before", "after", "new", "lost", "chg", "holds",
            "amount before", "amount after", "precision")  # fmt: skip
    rows = [
        (
            d.rule_id,
            d.status,
            d.mode,
            str(d.baseline_hits),
            str(d.candidate_hits),
            f"+{d.new}" if d.new else "0",
            f"-{d.lost}" if d.lost else "0",
            str(d.changed),
            f"{d.baseline_holds}→{d.candidate_holds}",
            f"{d.baseline_amount:,.2f}",
            f"{d.candidate_amount:,.2f}",
            f"{_pct(d.baseline_precision)}→{_pct(d.candidate_precision)}",
        )
        for d in deltas
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(_summary_text(summary))
    for d in deltas:
        for label, examples in (("new", d.new_examples), ("lost", d.lost_examples)):
            for ex in examples:
                lines.append(
                    f"  {label} {d.rule_id}: {ex['settlement_id']} {ex['action']} "
                    f"{ex['amount']:.2f} {ex['occurred_at']} {ex['message']}"
                )
    return "\n".join(lines) + "\n"


def _summary_text(s: Summary) -> str:
    changes = ", ".join(f"{k} {v}" for k, v in s.verdict_changes.items()) or "none"
    region = f" region {s.region}" if s.region else ""
    return (
        f"window {s.start} .. {s.end}{region}: {s.events} events "
        f"(lead-in {s.lead_in_events} events over {s.lead_in_days} days) in {s.seconds:.1f} s; "
        f"findings {s.baseline_findings} → {s.candidate_findings}; verdict changes: {changes}; "
        f"packs {s.baseline_digest} → {s.candidate_digest}; {s.rules_run} rules run, "
        f"{s.rules_unchanged} identical in both sets (same hits, not run; --full runs them)"
    )


_CSS = """
body{font-family:system-ui,"WenQuanYi Zen Hei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f0f0f0;text-align:left}td.n{text-align:right}
tr.differs{background:#fff6e0}.new{color:#0a6b0a}.lost{color:#a40000}
details{margin:.5em 0}code{font-size:90%}
"""


EXAMPLE_KEYS = ("settlement_id", "event_id", "occurred_at", "action", "amount",
                "institution_code", "message")  # fmt: skip


def html_report(deltas: list[RuleDelta], summary: Summary, title: str = "") -> str:
    e = html.escape
    title = title or f"claimguard backtest {summary.start} .. {summary.end}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{e(_summary_text(summary))}</p>",
        "<table><thead><tr>",
    ]
    heads = ("rule", "status", "mode", "hits before", "hits after", "new", "lost", "changed",
             "holds before", "holds after", "amount before", "amount after", "new amount",
             "lost amount", "precision before", "precision after")  # fmt: skip
    out.append("".join(f"<th>{h}</th>" for h in heads) + "</tr></thead><tbody>")
    for d in deltas:
        cells = [
            e(d.rule_id), e(d.status), e(d.mode), d.baseline_hits, d.candidate_hits,
            f'<span class="new">+{d.new}</span>', f'<span class="lost">-{d.lost}</span>',
            d.changed, d.baseline_holds, d.candidate_holds, f"{d.baseline_amount:,.2f}",
            f"{d.candidate_amount:,.2f}", f"{d.new_amount:,.2f}", f"{d.lost_amount:,.2f}",
            _pct(d.baseline_precision), _pct(d.candidate_precision),
        ]  # fmt: skip
        klass = ' class="differs"' if d.differs else ""
        out.append(
            f"<tr{klass}>"
            + "".join(
                f'<td class="n">{c}</td>' if i >= 3 else f"<td>{c}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    out.append("</tbody></table>")
    for d in deltas:
        if not (d.new_examples or d.lost_examples):
            continue
        out.append(f'<h2 id="{e(d.rule_id)}">{e(d.rule_id)}</h2>')
        for label, examples, total in (
            ("new", d.new_examples, d.new),
            ("lost", d.lost_examples, d.lost),
        ):
            if not examples:
                continue
            out.append(f'<details open><summary class="{label}">{label}: {total} '
                       f"(first {len(examples)})</summary><table><tr><th>settlement</th>"
                       "<th>event</th><th>occurred</th><th>action</th><th>amount</th>"
                       "<th>institution</th><th>message</th></tr>")  # fmt: skip
            for ex in examples:
                out.append(
                    "<tr>" + "".join(f"<td>{e(str(ex[k]))}</td>" for k in EXAMPLE_KEYS) + "</tr>"
                )
            out.append("</table></details>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
