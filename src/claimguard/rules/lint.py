"""`claimguard rules lint`: load every pack and report every problem, file:line: rule: what."""

from __future__ import annotations

import sys
from pathlib import Path

from claimguard.rules.loader import PackError, default_rules_dir, load_packs, pack_files


def run_lint(directory: Path | None) -> int:
    root = directory or default_rules_dir()
    try:
        ruleset = load_packs(root)
    except PackError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{len(pack_files(root))} packs, {len(ruleset.rules)} rules: ok")
    return 0
