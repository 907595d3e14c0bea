"""Shared pieces of the rule-lifecycle tests (issue 11): pack copies with one change, and
queries against a chdb store from a child process (one chdb directory per process)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]

# A hold rule that fires on every precheck/settle/settled event: the worst pack to deploy.
HOLD_EVERYTHING = """\
pack: policy.hold-everything
layer: policy
rules:
  - id: policy.hold-everything
    version: 1
    violation: SUSPENDED_INSTITUTION
    layer: policy
    subject: institution
    scope: visit
    stages: {{precheck: alert, settle: hold, settled: flag}}
    mode: {mode}
    when: "true"
    message: {{zh: "全部拦截 {{institution.code}}", en: "hold everything {{institution.code}}"}}
    basis: lifecycle test
"""


def copy_rules(dst: Path) -> Path:
    """A copy of the shipped packs to change."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(REPO / "rules", dst)
    return dst


def with_hold_everything(dst: Path, mode: str = "live") -> Path:
    rules = copy_rules(dst)
    (rules / "policy" / "hold-everything.yaml").write_text(
        HOLD_EVERYTHING.format(mode=mode), encoding="utf-8"
    )
    return rules


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def query_store(target: str, sql: str) -> list[list[Any]]:
    """Rows of `sql` on the store at `target`, read in a fresh interpreter."""
    code = (
        "import sys, orjson\n"
        "from claimguard.store import FindingStore\n"
        "s = FindingStore.connect(sys.argv[1])\n"
        "rows = s.client.query(sys.argv[2]).result_rows\n"
        "sys.stdout.buffer.write(orjson.dumps([list(r) for r in rows], default=str))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, target, sql], capture_output=True, timeout=120, check=False
    )
    if done.returncode:
        raise RuntimeError(done.stderr.decode(errors="replace"))
    return list(orjson.loads(done.stdout))
