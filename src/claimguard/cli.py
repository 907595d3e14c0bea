"""The `claimguard` command: parse arguments and hand over to one room. No logic lives here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from claimguard.cases.cli import register as register_cases
from claimguard.ops.arguments import add_ops_arguments, apply_ops_arguments

EXIT_BAD_INPUT = 2


def _replay(args: argparse.Namespace) -> int:
    from claimguard.replay import run_replay

    return run_replay(
        knowledge=args.knowledge,
        events=args.events,
        out=args.out,
        rules=args.rules,
        dead_letter=args.dead_letter,
        store=args.store,
    )


def _rules_lint(args: argparse.Namespace) -> int:
    from claimguard.rules.lint import run_lint

    return run_lint(args.dir)


def _rules_test(args: argparse.Namespace) -> int:
    from claimguard.rules.casetest import run_pack_tests

    return run_pack_tests(args.dir)


def _synth(args: argparse.Namespace) -> int:
    from claimguard.synth import generate

    summary = generate(args.out, settlements=args.settlements, seed=args.seed)
    print(summary)
    return 0


def _ops(args: argparse.Namespace, command: str) -> bool:
    """Apply the operations flags (connections, secrets); False (and a message naming the
    setting, never a secret) when they cannot work."""
    from claimguard.ops.connections import ConfigError, store_client_args

    try:
        apply_ops_arguments(args)
        if getattr(args, "store", None):
            store_client_args(args.store)
    except ConfigError as exc:
        print(f"claimguard {command}: refused: {exc}", file=sys.stderr)
        return False
    return True


def _worker(args: argparse.Namespace) -> int:
    from claimguard.stream.worker import run_worker

    if not _ops(args, "worker"):
        return EXIT_BAD_INPUT
    return run_worker(
        broker=args.broker,
        store=args.store,
        knowledge=args.knowledge,
        rules=args.rules,
        group=args.group,
        store_wait=args.store_wait,
        metrics_port=args.metrics_port,
        log_format=args.log_format,
        watch_rules=args.watch_rules,
        console=args.console,
    )


def _serve(args: argparse.Namespace) -> int:
    from claimguard.serve.server import run_serve

    if not _ops(args, "serve"):
        return EXIT_BAD_INPUT
    return run_serve(
        broker=args.broker, listen=args.listen, rules=args.rules, log_format=args.log_format
    )


def _broker(args: argparse.Namespace) -> int:
    from claimguard.stream.broker import run_broker

    return run_broker(port=args.port, data=args.data)


def _demo(args: argparse.Namespace) -> int:
    from claimguard.stream.demo import run_demo

    return run_demo(
        data=args.data,
        settlements=args.settlements,
        seed=args.seed,
        serve=args.serve,
        console_at=args.console,
    )


def _schema(args: argparse.Namespace) -> int:
    from claimguard.model.schema import write_schemas

    for path in write_schemas(args.out):
        print(path)
    return 0


def _register_catalog(rules: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from claimguard.library.catalog_doc import register

    register(rules)


def _register_indicators(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from claimguard.library.indicators_cli import register

    register(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claimguard", description="Streaming monitoring of medical-insurance settlements."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay", help="evaluate an ordered event file offline")
    p.add_argument("--knowledge", type=Path, required=True, help="knowledge-base CSV directory")
    p.add_argument("--events", type=Path, required=True, help="events, one JSON object a line")
    p.add_argument("--out", type=Path, required=True, help="findings as JSON lines")
    p.add_argument("--rules", type=Path, default=None, help="rule packs (default: built-in)")
    p.add_argument("--dead-letter", type=Path, default=None, help="where broken lines go")
    p.add_argument(
        "--store", default=None, help="also write findings and archive events to this store"
    )
    p.set_defaults(func=_replay)

    rules = sub.add_parser("rules", help="rule-pack tools").add_subparsers(dest="rules_cmd")
    rules.required = True
    p = rules.add_parser("lint", help="validate rule packs")
    p.add_argument("dir", type=Path, nargs="?", default=None)
    p.set_defaults(func=_rules_lint)
    p = rules.add_parser("test", help="run the test cases beside the rules")
    p.add_argument("dir", type=Path, nargs="?", default=None)
    p.set_defaults(func=_rules_test)
    from claimguard.lifecycle.diff import add_parser as add_rules_diff

    add_rules_diff(rules)
    _register_catalog(rules)

    p = sub.add_parser("synth", help="synthetic knowledge and events with injected violations")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--settlements", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=_synth)

    p = sub.add_parser("worker", help="run the stream processor")
    p.add_argument("--broker", default="kafka://127.0.0.1:9092")
    p.add_argument("--store", default="chdb://./data/clickhouse")
    p.add_argument("--knowledge", type=Path, required=True)
    p.add_argument("--rules", type=Path, default=None)
    p.add_argument("--group", default="claimguard")
    p.add_argument(
        "--store-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait at start-up for an unavailable store (default 60)",
    )
    add_ops_arguments(p, metrics=True)
    p.add_argument(
        "--watch-rules",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="reload packs and knowledge when their files change (polled; SIGHUP always works)",
    )
    p.add_argument(
        "--console", default=None, metavar="HOST:PORT", help="also host the analysts' console"
    )
    p.set_defaults(func=_worker)

    p = sub.add_parser("serve", help="synchronous checks over HTTP (own and 3101/3102/3103)")
    p.add_argument("--broker", default="kafka://127.0.0.1:9092")
    p.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT")
    p.add_argument("--rules", type=Path, default=None, help="rule packs (titles, bases)")
    add_ops_arguments(p, metrics=False)  # metrics are on serve's own port
    p.set_defaults(func=_serve)

    p = sub.add_parser("broker", help="start the local Kafka-protocol broker (Tansu)")
    p.add_argument("--port", type=int, default=9092)
    p.add_argument("--data", type=Path, default=None)
    p.set_defaults(func=_broker)

    p = sub.add_parser("demo", help="broker + worker + embedded ClickHouse on a synthetic day")
    p.add_argument("--data", type=Path, default=Path("data/demo"))
    p.add_argument("--settlements", type=int, default=5_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--serve", default=None, metavar="HOST:PORT", help="then keep a `claimguard serve` up"
    )
    p.add_argument(
        "--console", default=None, metavar="HOST:PORT", help="then serve the analysts' console"
    )
    p.set_defaults(func=_demo)

    from claimguard.backtest.cli import add_parser as add_backtest

    add_backtest(sub)
    _register_indicators(sub)

    p = sub.add_parser("schema", help="write the JSON Schemas generated from the models")
    p.add_argument("--out", type=Path, default=Path("schemas/json"))
    p.set_defaults(func=_schema)
    register_cases(sub, rules)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
