"""`claimguard backtest`: the archived events of a window through the baseline and the
candidate packs; a report per rule as a table, JSON lines or an HTML page.

Opens the store itself: with the embedded chdb store, run it on a copy of the store
directory or while no worker holds it (one process per chdb directory)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from claimguard.archive.events import read_window, read_window_rows
from claimguard.backtest.compare import compare, summarize
from claimguard.backtest.parallel import run_parallel
from claimguard.backtest.report import html_report, json_lines, table
from claimguard.backtest.run import lead_in_days, run_backtest
from claimguard.knowledge import KnowledgeError, load_knowledge
from claimguard.replay import write_atomically
from claimguard.rules import PackError, default_rules_dir, load_packs
from claimguard.store import FindingStore, StoreError
from claimguard.store.rows import SHANGHAI

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 69
log = logging.getLogger("claimguard.backtest")


def _moment(text: str, end: bool) -> dt.datetime:
    """A date (Beijing time; `--to` includes its whole day) or an ISO date-time."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if end else 0)
            return dt.datetime.combine(day, dt.time(), SHANGHAI)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or date-time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "backtest", help="replay archived events through a baseline and a candidate rule set"
    )
    p.add_argument("--store", required=True, help="store holding claimguard.events")
    p.add_argument("--rules", type=Path, required=True, help="candidate rule packs")
    p.add_argument("--baseline", type=Path, default=None, help="baseline packs (default: built-in)")
    p.add_argument("--knowledge", type=Path, required=True, help="knowledge-base CSV directory")
    p.add_argument("--from", dest="start", required=True, help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="end", required=True, help="last day, included (YYYY-MM-DD)")
    p.add_argument("--region", default=None, help="institutions of this 区划 (e.g. 320600)")
    p.add_argument("--format", choices=("table", "json", "html"), default="table")
    p.add_argument("--out", type=Path, default=None, help="write the report here (default stdout)")
    p.add_argument("--examples", type=int, default=5, help="new/lost examples per rule")
    p.add_argument("--all", action="store_true", help="list unchanged rules too (table)")
    p.add_argument(
        "--full", action="store_true", help="run both sets whole, not only the rules that differ"
    )
    p.add_argument("--jobs", type=int, default=1, help="processes, the patients split between them")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        start, end = _moment(args.start, False), _moment(args.end, True)
    except argparse.ArgumentTypeError as exc:
        print(f"claimguard backtest: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if end <= start:
        print("claimguard backtest: --to is before --from", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        kb = load_knowledge(args.knowledge)
        baseline = load_packs(args.baseline or default_rules_dir())
        candidate = load_packs(args.rules)
    except (KnowledgeError, PackError, OSError) as exc:
        print(f"claimguard backtest: refused: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    lead_in = dt.timedelta(days=lead_in_days(baseline, candidate))
    try:
        store = FindingStore.connect(args.store)
    except StoreError as exc:
        print(f"claimguard backtest: store {args.store}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    try:
        if args.jobs > 1:
            rows = read_window_rows(store.client, start - lead_in, end, args.region)
            base_dir = args.baseline or default_rules_dir()
            run = run_parallel(args.knowledge, base_dir, args.rules, baseline, candidate,
                               rows, start, end, args.jobs, args.full)  # fmt: skip
        else:
            events = read_window(store.client, start - lead_in, end, args.region)
            run = run_backtest(kb, baseline, candidate, events, start, end, args.full)
        worked, source = worked_cases(store)
    except Exception as exc:
        print(f"claimguard backtest: store {args.store}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        store.close()
    deltas = compare(run, examples=args.examples, worked=worked)
    summary = summarize(run, args.region, source)
    if args.format == "json":
        chunks = list(json_lines(deltas, summary))
    elif args.format == "html":
        chunks = [html_report(deltas, summary).encode()]
    else:
        shown = deltas if args.all else [d for d in deltas if d.differs]
        chunks = [table(shown, summary).encode()]
    if args.out is None:
        sys.stdout.buffer.writelines(chunks)
    else:
        write_atomically(args.out, chunks)
        print(f"{args.out}: {sum(1 for d in deltas if d.differs)} rules differ")
    return 0


def worked_cases(store: FindingStore) -> tuple[dict[str, bool] | None, str | None]:
    """finding_id → confirmed, for cases worked to a verdict (confirmed or dismissed), when
    the store has the case table of issue 10; otherwise no precision is reported."""
    exists = store.client.command(
        "SELECT count() FROM system.tables WHERE database = 'claimguard' AND name = 'case_events'"
    )
    if not int(exists):
        return None, None
    result = store.client.query(
        "SELECT finding_id, argMax(to_status, at) AS status FROM claimguard.case_events "
        "GROUP BY finding_id HAVING status IN ('confirmed', 'dismissed')"
    )
    return {str(f): s == "confirmed" for f, s in result.result_rows}, "claimguard.case_events"
