"""`claimguard rules diff` and the reloader itself (no broker): a good set swaps in with
the engine's running state carried over, a broken set is refused and counted, an
unchanged set is not swapped, and watching the directories notices a change."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import orjson
from prometheus_client import REGISTRY

from claimguard.engine import Engine
from claimguard.lifecycle import Reloader, loaded_digest
from claimguard.rules import load_packs
from lifecycle_support import HOLD_EVERYTHING, REPO, copy_rules, edit


def _diff(cli: list[str], old: Path, new: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*cli, "rules", "diff", str(old), str(new), *extra],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_rules_diff_rule_by_rule(tmp_path: Path, claimguard_cli: list[str]) -> None:
    new = copy_rules(tmp_path / "new")
    edit(new / "authenticity" / "visits.yaml", "min_institutions: 3", "min_institutions: 2")
    (new / "policy" / "hold-everything.yaml").write_text(HOLD_EVERYTHING.format(mode="shadow"))
    done = _diff(claimguard_cli, REPO / "rules", new)
    assert done.returncode == 0, done.stderr
    assert "2 rule(s) differ" in done.stdout
    assert "changed  authenticity.multi-institution-same-day" in done.stdout
    assert 'params: {"min_institutions":3} -> {"min_institutions":2}' in done.stdout
    assert "warning: content changed but version stays 1" in done.stdout
    assert "added    policy.hold-everything (mode shadow" in done.stdout

    promoted = copy_rules(tmp_path / "promoted")
    (promoted / "policy" / "hold-everything.yaml").write_text(HOLD_EVERYTHING.format(mode="live"))
    done = _diff(claimguard_cli, new, promoted, "--format", "json")
    rows = [orjson.loads(line) for line in done.stdout.splitlines()]
    promotion = next(r for r in rows if r["rule_id"] == "policy.hold-everything")
    assert promotion["fields"] == {"mode": ["shadow", "live"]}
    assert promotion["promotion"] == "shadow -> live"

    (promoted / "norms" / "broken.yaml").write_text("pack: x\nrules: [\n")
    done = _diff(claimguard_cli, new, promoted)
    assert done.returncode == 2 and "broken.yaml:" in done.stderr


def _reloads(result: str) -> float:
    return REGISTRY.get_sample_value("claimguard_rule_reloads_total", {"result": result}) or 0.0


def test_reloader_swaps_refuses_and_carries_state(tmp_path: Path, sample_dir: Path) -> None:
    knowledge = sample_dir / "knowledge"
    rules = copy_rules(tmp_path / "rules")
    engine = Engine.load(knowledge, rules)
    engine.rule_errors["some.rule"] = 3
    engine.watermark.admit(740_000)
    swapped: list[tuple[Engine, str]] = []
    reloader = Reloader(knowledge, rules, lambda: engine, lambda e, d: swapped.append((e, d)))
    first = reloader.digest
    assert REGISTRY.get_sample_value("claimguard_rules_loaded_info", {"digest": first}) == 1
    before = {r: _reloads(r) for r in ("ok", "refused", "unchanged")}

    assert asyncio.run(reloader.reload("test")) == "unchanged"
    (rules / "policy" / "hold-everything.yaml").write_text(HOLD_EVERYTHING.format(mode="shadow"))
    assert asyncio.run(reloader.reload("test")) == "ok"
    [(new, digest)] = swapped
    assert digest == reloader.digest == loaded_digest(knowledge, rules) != first
    assert new.ruleset.by_id("policy.hold-everything").shadow
    assert new.rule_errors is engine.rule_errors and new.watermark is engine.watermark
    assert REGISTRY.get_sample_value("claimguard_rules_loaded_info", {"digest": digest}) == 1
    assert REGISTRY.get_sample_value("claimguard_rules_loaded_info", {"digest": first}) is None

    (rules / "norms" / "broken.yaml").write_text("pack: x\nrules: [\n")
    assert asyncio.run(reloader.reload("test")) == "refused"
    assert reloader.digest == digest and len(swapped) == 1
    after = {r: _reloads(r) for r in ("ok", "refused", "unchanged")}
    assert {r: after[r] - before[r] for r in after} == {"ok": 1, "refused": 1, "unchanged": 1}


def test_watching_notices_a_changed_pack(tmp_path: Path, sample_dir: Path) -> None:
    knowledge = sample_dir / "knowledge"
    rules = copy_rules(tmp_path / "rules")
    engine = Engine.load(knowledge, rules)
    swapped: list[str] = []
    reloader = Reloader(knowledge, rules, lambda: engine, lambda e, d: swapped.append(d))

    async def scenario() -> None:
        watcher = asyncio.ensure_future(reloader.watch(0.1))
        await asyncio.sleep(0.3)
        (rules / "policy" / "hold-everything.yaml").write_text(
            HOLD_EVERYTHING.format(mode="shadow")
        )
        for _ in range(100):
            await asyncio.sleep(0.1)
            if swapped:
                break
        watcher.cancel()

    asyncio.run(scenario())
    assert swapped == [reloader.digest]


def test_serve_reloads_rule_texts_on_sighup(tmp_path: Path) -> None:
    """serve holds titles and bases: SIGHUP reloads them; a broken set is refused and
    serve goes on answering."""
    import os
    import signal as sig

    from claimguard.serve.process import ServeProcess
    from claimguard.stream.broker import free_port
    from test_stream_support import wait_until

    rules = copy_rules(tmp_path / "rules")
    log = tmp_path / "serve.log"
    serve = ServeProcess(
        broker=f"kafka://127.0.0.1:{free_port()}",  # no broker: serve starts all the same
        log_path=log,
        env={"CLAIMGUARD_RULES": str(rules)},
    ).start()
    try:
        assert serve.pid is not None
        (rules / "policy" / "hold-everything.yaml").write_text(HOLD_EVERYTHING.format(mode="live"))
        os.kill(serve.pid, sig.SIGHUP)
        now = load_packs(rules)
        want = f"texts of {len(now.rules)} rules, digest {now.digest}"
        wait_until(lambda: want in log.read_text(errors="replace"), 30, "serve reload")
        (rules / "norms" / "broken.yaml").write_text("pack: x\nrules: [\n")
        os.kill(serve.pid, sig.SIGHUP)
        wait_until(lambda: "refused" in log.read_text(errors="replace"), 30, "refusal")
        assert "broken.yaml:" in log.read_text(errors="replace").split("refused")[-1]
        assert serve.health() is not None  # still answering
    finally:
        serve.stop()


def test_reloader_picks_up_changed_knowledge(tmp_path: Path, sample_dir: Path) -> None:
    import shutil

    knowledge = tmp_path / "knowledge"
    shutil.copytree(sample_dir / "knowledge", knowledge)
    engine = Engine.load(knowledge, REPO / "rules")
    swapped: list[Engine] = []
    regions: list[int] = []
    reloader = Reloader(
        knowledge,
        REPO / "rules",
        lambda: engine,
        lambda e, d: swapped.append(e),
        on_knowledge=lambda kb: regions.append(len(kb.region_parents)),
    )
    items = knowledge / "items.csv"
    lines = items.read_text(encoding="utf-8").splitlines()
    items.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # one catalog row fewer
    assert asyncio.run(reloader.reload("test")) == "ok"
    [new] = swapped
    assert len(new.kb.items) == len(engine.kb.items) - 1
    assert regions  # the store is given the (new) region tree

    items.write_text("code,broken\n", encoding="utf-8")
    assert asyncio.run(reloader.reload("test")) == "refused"
    assert len(swapped) == 1
