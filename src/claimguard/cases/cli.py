"""The analysts' subcommands: `cases`, `query`, `users`, `console`, `rules stats`.

Registered by `register(sub, rules)` from claimguard/cli.py. Exit codes: 0 done, 2 bad
input, 3 refused (outside the caller's subtree, not an allowed transition, not a single
SELECT) with nothing changed, 69 the store cannot be opened (an embedded store is held by
the worker: use the console the worker hosts with `--console`).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claimguard.cases.lifecycle import STATUSES, CaseRefused, parse_amount

if TYPE_CHECKING:  # the store (clickhouse-connect) loads only when a command needs it
    from claimguard.cases.access import User
    from claimguard.cases.service import CaseService

EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
EXIT_UNAVAILABLE = 69
DEFAULT_STORE = "chdb://./data/clickhouse"
TOKEN_ENV = "CLAIMGUARD_TOKEN"


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def rule_texts(rules: Path | None) -> dict[str, tuple[str, str]]:
    """rule_id → (title, basis) from the packs (a nicety: cases read fine without)."""
    try:
        from claimguard.rules import load_packs

        return {r.id: (r.spec.title, r.spec.basis) for r in load_packs(rules).rules}
    except Exception:
        return {}


def violation_titles(rules: Path | None) -> dict[str, str]:
    """violation code → the Chinese title of a rule that reports it (the shortest, which
    names the violation rather than one variant of it), for the console."""
    try:
        from claimguard.rules import load_packs

        titles: dict[str, str] = {}
        for r in load_packs(rules).rules:
            title = r.spec.title
            if title and (
                r.spec.violation not in titles or len(title) < len(titles[r.spec.violation])
            ):
                titles[r.spec.violation] = title
        return titles
    except Exception:
        return {}


def key_file(args: argparse.Namespace) -> Path:
    from claimguard.cases.access import default_key_file

    given = getattr(args, "key_file", None) or os.environ.get("CLAIMGUARD_PSEUDONYM_KEY")  # KEY_ENV
    return Path(given) if given else default_key_file(args.store)


@contextmanager
def opened(args: argparse.Namespace, texts: bool = False) -> Iterator[CaseService]:
    """The store behind a CaseService; `texts`: with rule titles and bases (loading the
    packs costs about a second, so only the commands that print them ask)."""
    from claimguard.cases.access import Pseudonymizer
    from claimguard.cases.service import CaseService
    from claimguard.store import FindingStore, StoreUnavailable

    try:
        store = FindingStore.connect(args.store)
    except StoreUnavailable as exc:
        raise CliError(
            f"store {args.store} cannot be opened: {exc}. If a worker runs on this embedded "
            "store, use the console it hosts (`claimguard worker ... --console HOST:PORT`).",
            EXIT_UNAVAILABLE,
        ) from exc
    try:
        store.migrate()
        pseudo = Pseudonymizer.from_file(key_file(args))
        texts_of = rule_texts(getattr(args, "rules", None)) if texts else None
        yield CaseService(store, pseudo, rule_texts=texts_of)
    finally:
        store.close()


def caller(svc: CaseService, args: argparse.Namespace) -> User:
    """`--as REGION` acts as that region's supervisor (scripts run by whoever may open the
    store); with a token (`--token` or $CLAIMGUARD_TOKEN) as that user, narrowed to
    `--as` when given (which must lie in the user's subtree)."""
    from claimguard.cases.access import User, check_region

    token = getattr(args, "token", None) or os.environ.get(TOKEN_ENV)
    region = getattr(args, "as_region", None)
    if region:
        try:
            check_region(region)
        except ValueError as exc:
            raise CliError(str(exc), EXIT_BAD_INPUT) from exc
    if token:
        user = svc.authenticate(token)
        if user is None:
            raise CliError("unknown or revoked token", EXIT_REFUSED)
        if region and region != user.region:
            if not svc.in_subtree(user.region, region):
                raise CliError(f"{region} is outside the subtree of {user.region}", EXIT_REFUSED)
            user = User(user.name, user.role, region)
        return user
    if not region:
        raise CliError("give --as REGION (or a token)", EXIT_BAD_INPUT)
    return User(f"cli:{getpass.getuser()}", "supervisor", region)


def emit(rows: Sequence[dict[str, Any]], fmt: str, out: Any = None) -> None:
    from claimguard.cases.service import plain

    out = out or sys.stdout
    rows = [{k: plain(v) for k, v in r.items()} for r in rows]
    if fmt == "json":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        return
    if not rows:
        out.write("(none)\n")
        return
    cells = [[_cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.2f}"
    return str(value)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from exc


def _run(fn: Any) -> Any:
    def wrapped(args: argparse.Namespace) -> int:
        from claimguard.store import StoreError, StoreUnavailable

        try:
            return int(fn(args) or 0)
        except CliError as exc:
            print(f"claimguard {args.command}: {exc}", file=sys.stderr)
            return exc.code
        except CaseRefused as exc:
            print(f"claimguard {args.command}: refused: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        except StoreUnavailable as exc:
            print(f"claimguard {args.command}: store unavailable: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        except (StoreError, ValueError) as exc:
            print(f"claimguard {args.command}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT

    return wrapped


# -- commands ---------------------------------------------------------------------------


def cases_list(args: argparse.Namespace) -> int:
    with opened(args) as svc:
        user = caller(svc, args)
        rows, total = svc.list_cases(
            user,
            status=args.status,
            violation=args.violation,
            region=args.region,
            day_from=args.day_from,
            day_to=args.day_to,
            overdue=args.overdue,
            limit=args.limit,
        )
        svc.audit(user, "list", "", {"cases": len(rows), "status": args.status})
    emit(rows, args.format)
    if args.format == "table":
        print(f"{len(rows)} of {total} cases", file=sys.stderr)
    return 0


def cases_show(args: argparse.Namespace) -> int:
    with opened(args, texts=True) as svc:
        case = svc.show(caller(svc, args), args.case_id)
    if args.format == "json":
        print(json.dumps({k: _deep(v) for k, v in case.items()}, ensure_ascii=False))
        return 0
    for key in (
        "case_id",
        "finding_id",
        "settlement_id",
        "status",
        "assigned_region",
        "level",
        "due_at",
        "overdue",
        "violation",
        "rule_id",
        "rule_title",
        "rule_basis",
        "amount",
        "recovered",
        "institution_code",
        "person",
        "notify_regions",
        "message",
        "allowed",
    ):
        print(f"{key:>16}: {_cell(_deep(case.get(key)))}")
    print("history:")
    emit(case["history"], "table")
    if case["dispositions"]:
        print("dispositions (3103):")
        emit(case["dispositions"], "table")
    return 0


def _deep(value: Any) -> Any:
    from claimguard.cases.service import plain

    if isinstance(value, list):
        return [_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: _deep(v) for k, v in value.items()}
    return plain(value)


def cases_set(args: argparse.Namespace) -> int:
    amount = parse_amount(args.amount)
    with opened(args) as svc:
        case = svc.set_status(
            caller(svc, args), args.case_id, args.status, amount, args.reason or "", args.to
        )
    print(f"{case['case_id']}: {case['status']} ({case['assigned_region']})")
    return 0


def cases_due(args: argparse.Namespace) -> int:
    if args.level not in ("county", "city", "province", "national"):
        raise CliError(f"level {args.level!r}: county, city, province or national", 2)
    with opened(args) as svc:
        svc._insert(
            "claimguard.case_due_days",
            [[args.level, args.days, dt.datetime.now(dt.UTC)]],
            ["level", "days", "set_at"],
        )
    print(f"cases assigned to a {args.level} are due {args.days} days after they open")
    return 0


def cases_audit(args: argparse.Namespace) -> int:
    with opened(args) as svc:
        emit(svc.audit_log(caller(svc, args), args.case, args.limit), args.format)
    return 0


def query(args: argparse.Namespace) -> int:
    from claimguard.cases.queries import NAMED, QueryRefused, scoped_sql

    with opened(args) as svc:
        user = caller(svc, args)
        try:
            if args.name == "sql":
                if not args.sql:
                    raise CliError("query sql needs the statement", EXIT_BAD_INPUT)
                rows = scoped_sql(svc, user, args.sql, args.limit)
            elif args.name in NAMED:
                rows = NAMED[args.name][0](svc, user, args.day_from, args.day_to, args.limit)
            else:
                raise CliError(
                    f"unknown query {args.name!r}; one of {', '.join([*NAMED, 'sql'])}",
                    EXIT_BAD_INPUT,
                )
        except QueryRefused as exc:
            raise CliError(f"refused: {exc}", EXIT_REFUSED) from exc
        svc.audit(user, "query", "", {"name": args.name, "rows": len(rows)})
    emit(rows, args.format)
    return 0


def users_add(args: argparse.Namespace) -> int:
    with opened(args) as svc:
        token = svc.add_user(args.name, args.role, args.region)
    print(token)
    print(
        f"user {args.name} ({args.role}, {args.region}): keep the token above, it is shown once",
        file=sys.stderr,
    )
    return 0


def users_list(args: argparse.Namespace) -> int:
    with opened(args) as svc:
        emit(svc.users(), args.format)
    return 0


def users_revoke(args: argparse.Namespace) -> int:
    with opened(args) as svc:
        if not svc.revoke(args.name):
            raise CliError(f"no active user {args.name}", EXIT_BAD_INPUT)
    print(f"user {args.name} revoked")
    return 0


def rules_stats(args: argparse.Namespace) -> int:
    from claimguard.cases.access import User

    with opened(args, texts=True) as svc:
        user = (
            caller(svc, args) if (args.as_region or args.token) else User("cli", "admin", "000000")
        )
        rows = svc.rule_stats(user, args.by_region, args.min_cases, args.ready, args.review)
    shown = [
        {
            **({"region": r["region"]} if args.by_region else {}),
            "rule_id": r["rule_id"],
            "cases": r["cases"],
            "confirmed": r["confirmed"],
            "dismissed": r["dismissed"],
            "precision": None if r["precision"] is None else round(r["precision"], 4),
            "mark": r["mark"],
            "title": r["title"],
        }
        for r in rows
    ]
    emit(shown, args.format)
    return 0


def console(args: argparse.Namespace) -> int:
    from claimguard.console.server import run_console

    return run_console(args.store, args.listen, key_file(args), args.rules)


# -- argparse -----------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser, scoped: bool = True, fmt: bool = True) -> None:
    p.add_argument("--store", default=DEFAULT_STORE, help="chdb:///dir or http://host:8123")
    p.add_argument(
        "--key-file",
        type=Path,
        default=None,
        help="pseudonym key (default: <store dir>.pseudonym.key)",
    )
    p.add_argument("--rules", type=Path, default=None, help="rule packs (titles, bases)")
    if scoped:
        p.add_argument(
            "--as",
            dest="as_region",
            metavar="REGION",
            default=None,
            help="act for this region's subtree",
        )
        p.add_argument("--token", default=None, help=f"act as this user (or ${TOKEN_ENV})")
    if fmt:
        p.add_argument("--format", choices=("table", "csv", "json"), default="table")


def _window(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="day_from", type=_date, default=None, metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="day_to", type=_date, default=None, metavar="YYYY-MM-DD")


def register(sub: Any, rules: Any) -> None:
    cases = sub.add_parser("cases", help="疑点交办: work the cases of a jurisdiction")
    cs = cases.add_subparsers(dest="cases_cmd", required=True)
    p = cs.add_parser("list", help="the caller's cases")
    _common(p)
    _window(p)
    p.add_argument("--status", choices=STATUSES, default=None)
    p.add_argument("--violation", default=None)
    p.add_argument("--region", default=None, help="only this part of the subtree")
    p.add_argument("--overdue", action="store_true")
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(func=_run(cases_list))
    p = cs.add_parser("show", help="one case with its history")
    p.add_argument("case_id")
    _common(p)
    p.set_defaults(func=_run(cases_show))
    p = cs.add_parser("set", help="change a case's status (exit 3: refused, nothing changed)")
    p.add_argument("case_id")
    p.add_argument("status", choices=STATUSES)
    _common(p, fmt=False)
    p.add_argument("--amount", default=None, help="confirmed: the amount recovered (追回金额)")
    p.add_argument("--reason", default=None)
    p.add_argument("--to", default=None, metavar="REGION", help="transferred: the target")
    p.set_defaults(func=_run(cases_set))
    p = cs.add_parser("audit", help="who changed or viewed what (supervisors: the subtree)")
    _common(p)
    p.add_argument("--case", default=None)
    p.add_argument("--limit", type=int, default=200)
    p.set_defaults(func=_run(cases_audit))
    p = cs.add_parser("due", help="days a case may stay open, per level (default 30)")
    p.add_argument("level")
    p.add_argument("days", type=int)
    _common(p, scoped=False, fmt=False)
    p.set_defaults(func=_run(cases_due))

    p = sub.add_parser("query", help="named queries, or `sql`, over the caller's subtree")
    p.add_argument(
        "name",
        help="totals, top-institutions, top-doctors, status, overdue, "
        "notifications, precision, report, or sql",
    )
    p.add_argument(
        "sql", nargs="?", default=None, help="with `sql`: one SELECT over `cases` and `case_events`"
    )
    _common(p)
    _window(p)
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=_run(query))

    users = sub.add_parser("users", help="console and CLI users (tokens stored hashed)")
    us = users.add_subparsers(dest="users_cmd", required=True)
    p = us.add_parser("add", help="create a user; prints its token once")
    p.add_argument("name")
    p.add_argument("--role", choices=("analyst", "supervisor", "admin"), required=True)
    p.add_argument("--region", required=True, help="home region: the subtree it works")
    _common(p, scoped=False, fmt=False)
    p.set_defaults(func=_run(users_add))
    p = us.add_parser("list")
    _common(p, scoped=False)
    p.set_defaults(func=_run(users_list))
    p = us.add_parser("revoke")
    p.add_argument("name")
    _common(p, scoped=False, fmt=False)
    p.set_defaults(func=_run(users_revoke))

    p = sub.add_parser("console", help="the analysts' console in the browser")
    _common(p, scoped=False, fmt=False)
    p.add_argument("--listen", default="127.0.0.1:8090", help="HOST:PORT")
    p.set_defaults(func=_run(console))

    p = rules.add_parser("stats", help="rule precision (阳性率) from case verdicts")
    _common(p)
    p.add_argument("--by-region", action="store_true", help="one row per rule and region")
    p.add_argument("--min-cases", type=int, default=20, help="verdicts needed to mark a rule")
    p.add_argument("--ready", type=float, default=0.9, help="precision to mark ready-for-in")
    p.add_argument("--review", type=float, default=0.3, help="precision to mark to-review")
    p.set_defaults(func=_run(rules_stats))
