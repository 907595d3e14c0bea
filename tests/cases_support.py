"""Stores for the cases tests: the contract sample replayed through the real engine and
the real BatchWriter into a real chdb directory, in a child process (an embedded store
opens in one process at a time, and the CLI and console under test open it next).

    python tests/cases_support.py STORE_DIR   # populate, then exit
"""

from __future__ import annotations

import sys
from pathlib import Path

REVERSED_IN = "320681"  # the county whose first flagged settlement is reversed afterwards
DISPOSITION_REASON = "急诊抢救需要，继续执行"
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "contract" / "sample"


def populate(store_dir: Path, sample: Path = SAMPLE) -> int:
    from claimguard.engine import Engine
    from claimguard.replay import ReplaySession
    from claimguard.store import BatchWriter, FindingStore
    from claimguard.store.dispositions import rows_of, write_dispositions

    with FindingStore.connect(f"chdb://{store_dir}") as store:
        store.migrate()
        session = ReplaySession(Engine.load(sample / "knowledge"))
        writer = BatchWriter(store, max_rows=50, max_delay=3600.0)
        with (sample / "events.jsonl").open("rb") as events:
            for number, raw in enumerate(events, start=1):
                outcome = session.feed(raw, number) if raw.strip() else None
                if outcome is not None:
                    writer.add(outcome.findings)
                    writer.reverse(outcome.reversed_settlements)
                    writer.flush_if_due()
        writer.flush()
        # one more settlement reversed after its flag became a case: its case turns void
        flags = sorted(
            f.settlement_id
            for f in session.findings.values()
            if f.action == "flag" and not f.reversed and f.assigned_region == REVERSED_IN
        )
        writer.reverse(flags[:1])
        writer.flush()
        # a clinician continued one hold whose settlement was also flagged (3103, as the
        # worker's dispositions consumer writes it): its case shows the disposition
        flagged = {f.settlement_id for f in session.findings.values() if f.action == "flag"}
        holds = sorted(
            (f.settlement_id, f.finding_id)
            for f in session.findings.values()
            if f.action == "hold" and f.settlement_id in flagged
        )
        if holds:
            message = {
                "received_at": "2026-04-01T10:00:00+08:00",
                "msgid": "demo-3103",
                "fixmedins_code": "H0",
                "warns": [
                    {
                        "finding_id": holds[0][1],
                        "warn_type": 1,
                        "dspo_way": 1,
                        "reason": DISPOSITION_REASON,
                    }
                ],
            }
            write_dispositions(store, rows_of(message))
            (store_dir.parent / "disposition-settlement").write_text(holds[0][0])
        return store.count()


def populate_in_child(store_dir: Path, sample: Path = SAMPLE) -> int:
    """populate() in a child process, which releases the chdb directory when it exits."""
    import subprocess

    done = subprocess.run(
        [sys.executable, __file__, str(store_dir), str(sample)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


if __name__ == "__main__":
    print(populate(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else SAMPLE))
