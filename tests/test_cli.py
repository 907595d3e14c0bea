"""The real `claimguard` command: exit codes and messages on good and unreadable input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from claimguard.model.schema import schema_documents

REPO = Path(__file__).resolve().parents[1]


def run(cli: list[str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli, *map(str, args)], capture_output=True, text=True, check=False)


def replay(
    cli: list[str], knowledge: Path, events: Path, out: Path, *extra: str | Path
) -> subprocess.CompletedProcess[str]:
    return run(cli, "replay", "--knowledge", knowledge, "--events", events, "--out", out, *extra)


def test_replay_prints_counts(sample_dir: Path, claimguard_cli: list[str], tmp_path: Path):
    result = replay(
        claimguard_cli, sample_dir / "knowledge", sample_dir / "events.jsonl", tmp_path / "f.jsonl"
    )
    assert result.returncode == 0
    lines = sum(1 for line in (sample_dir / "events.jsonl").open() if line.strip())
    assert f"events {lines - 4}," in result.stdout and "dead letters 4," in result.stdout
    assert "duplicates 1" in result.stdout
    assert (tmp_path / "f.jsonl.deadletter.jsonl").read_text().count("\n") == 4


def test_replay_refuses_a_bad_knowledge_file(
    sample_dir: Path, claimguard_cli: list[str], tmp_path: Path
):
    kb = tmp_path / "kb"
    shutil.copytree(sample_dir / "knowledge", kb)
    text = (kb / "institutions.csv").read_text().replace(",3,320602,", ",three,320602,", 1)
    (kb / "institutions.csv").write_text(text)
    result = replay(claimguard_cli, kb, sample_dir / "events.jsonl", tmp_path / "f.jsonl")
    assert result.returncode == 2
    assert "institutions.csv:2: column 4 (level='three')" in result.stderr
    assert not (tmp_path / "f.jsonl").exists()


def test_replay_refuses_bad_rules(sample_dir: Path, claimguard_cli: list[str], tmp_path: Path):
    rules = tmp_path / "rules"
    (rules / "norms").mkdir(parents=True)
    (rules / "norms" / "x.yaml").write_text("pack: x\nlayer: norms\nrules: [{id: Bad}]\n")
    result = replay(
        claimguard_cli,
        sample_dir / "knowledge",
        sample_dir / "events.jsonl",
        tmp_path / "f.jsonl",
        "--rules",
        rules,
    )
    assert result.returncode == 2
    assert f"{rules / 'norms' / 'x.yaml'}:3: rule Bad:" in result.stderr


def test_replay_refuses_missing_events(sample_dir: Path, claimguard_cli: list[str], tmp_path: Path):
    result = replay(
        claimguard_cli, sample_dir / "knowledge", tmp_path / "nope.jsonl", tmp_path / "f.jsonl"
    )
    assert result.returncode == 2 and "cannot read events" in result.stderr


def test_committed_json_schemas_match_the_models():
    """schemas/json is generated from the pydantic models; regenerate with `make schemas`."""
    for name, content in schema_documents().items():
        committed = REPO / "schemas" / "json" / name
        assert committed.is_file(), f"{committed} missing: run make schemas"
        assert committed.read_bytes() == content, f"{committed} drifted: run make schemas"
