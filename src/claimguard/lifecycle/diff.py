"""`claimguard rules diff OLD NEW`: what changed between two pack directories, rule by rule.

Both directories are loaded and linted first (a diff against a broken set says so). Each
rule is `added`, `removed` or `changed` (with the fields that changed, old → new); a rule
whose content changed but whose `version` did not go up is called out, since findings
record the version to tell the texts of a rule apart."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from claimguard.rules import PackError, RuleSet, load_packs

EXIT_BAD_INPUT = 2


def _fields(ruleset: RuleSet) -> dict[str, dict[str, Any]]:
    return {r.id: r.spec.model_dump(mode="json", by_alias=True) for r in ruleset.rules}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    text = " ".join(str(text).split())
    return text if len(text) <= 120 else text[:117] + "..."


def diff_sets(old: RuleSet, new: RuleSet) -> list[dict[str, Any]]:
    before, after = _fields(old), _fields(new)
    rows = []
    for rule_id in sorted(before.keys() | after.keys()):
        a, b = before.get(rule_id), after.get(rule_id)
        if a is None and b is not None:
            rows.append({"rule_id": rule_id, "change": "added", "mode": b["mode"],
                         "stages": b["stages"]})  # fmt: skip
        elif b is None and a is not None:
            rows.append({"rule_id": rule_id, "change": "removed"})
        elif a != b and a is not None and b is not None:
            fields = {k: [a.get(k), b.get(k)] for k in sorted(a.keys() | b.keys())
                      if a.get(k) != b.get(k)}  # fmt: skip
            row: dict[str, Any] = {"rule_id": rule_id, "change": "changed", "fields": fields}
            if b["version"] <= a["version"] and set(fields) - {"tests", "title"}:
                row["warning"] = f"content changed but version stays {b['version']}"
            if "mode" in fields:
                row["promotion"] = f"{a['mode']} -> {b['mode']}"
            rows.append(row)
    return rows


def render(rows: list[dict[str, Any]], old: RuleSet, new: RuleSet) -> str:
    lines = [f"packs {old.digest} -> {new.digest}: {len(rows)} rule(s) differ"]
    for row in rows:
        head = f"{row['change']:8} {row['rule_id']}"
        if row["change"] == "added":
            head += f" (mode {row['mode']}, stages {_short(row['stages'])})"
        lines.append(head)
        for field, (a, b) in row.get("fields", {}).items():
            lines.append(f"    {field}: {_short(a)} -> {_short(b)}")
        if "warning" in row:
            lines.append(f"    warning: {row['warning']}")
    return "\n".join(lines) + "\n"


def add_parser(rules_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = rules_sub.add_parser("diff", help="what changed between two pack directories")
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    sets = []
    for label, directory in (("OLD", args.old), ("NEW", args.new)):
        try:
            sets.append(load_packs(directory))
        except PackError as exc:
            print(f"claimguard rules diff: {label} {directory} does not load:", file=sys.stderr)
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return EXIT_BAD_INPUT
    old, new = sets
    rows = diff_sets(old, new)
    if args.format == "json":
        for row in rows:
            sys.stdout.buffer.write(orjson.dumps(row) + b"\n")
    else:
        sys.stdout.write(render(rows, old, new))
    return 0
