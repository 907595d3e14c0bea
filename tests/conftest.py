"""Shared fixtures: the contract sample (skipped only outside CI when absent) and the CLI."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "contract" / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    if not (SAMPLE / "events.jsonl").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the contract sample must be present in CI: {SAMPLE}")
        pytest.skip("contract sample (../shared/contract/sample) not present")
    return SAMPLE


@pytest.fixture(scope="session")
def claimguard_cli() -> list[str]:
    """The real installed command (falls back to the module when not on PATH)."""
    exe = shutil.which("claimguard", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "claimguard.cli"]
