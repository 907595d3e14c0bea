"""`claimguard indicators`: the ZB indicator findings for analysts (claimguard.indicator_findings).

Reads the store: a ClickHouse server, or an embedded store no worker has open (with chdb
only one process may open a directory)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import orjson


def run_indicators(store_url: str, month: str | None, as_json: bool) -> int:
    from claimguard.store import FindingStore, StoreError

    day = None
    if month:
        try:
            day = dt.date.fromisoformat(f"{month}-01")
        except ValueError:
            print(f"claimguard indicators: --month {month!r} is not YYYY-MM", file=sys.stderr)
            return 2
    try:
        with FindingStore.connect(store_url) as store:
            store.migrate()
            rows = store.indicator_findings(day)
    except StoreError as exc:
        print(f"claimguard indicators: {exc}", file=sys.stderr)
        return 2
    if as_json:
        for row in rows:
            sys.stdout.write(orjson.dumps(row._asdict()).decode() + "\n")
        return 0
    print(f"{'institution':<14} {'month':<8} {'indicator':<17} {'nhsa code':<17} {'value':>7} "
          f"{'limit':>6} {'peers':>5} {'peer avg':>8}  over")  # fmt: skip
    for r in rows:
        flags = (("threshold", r.over_threshold), ("peers", r.over_peers))
        over = ",".join(name for name, on in flags if on)
        print(
            f"{r.institution_code:<14} {r.month:%Y-%m}  {r.indicator:<17} {r.nhsa_code:<17} "
            f"{r.value:>7.1%} {r.threshold:>6.0%} {r.peers:>5} {r.peer_avg:>8.1%}  {over}"
        )
    print(f"{len(rows)} indicator findings")
    return 0


def _main(args: argparse.Namespace) -> int:
    return run_indicators(args.store, args.month, args.json)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("indicators", help="ZB indicator findings per institution and month")
    p.add_argument("--store", required=True, help="chdb://DIR (not open by a worker) or http://…")
    p.add_argument("--month", default=None, help="YYYY-MM (default: every month)")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.set_defaults(func=_main)
