"""Stores for the cases tests: the contract sample replayed through the real engine and
the real BatchWriter into a real chdb directory, in a child process (an embedded store
opens in one process at a time, and the CLI and console under test open it next).

    python tests/cases_support.py STORE_DIR   # populate, then exit
"""

from __future__ import annotations

import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "contract" / "sample"


def populate(store_dir: Path, sample: Path = SAMPLE) -> int:
    from claimguard.engine import Engine
    from claimguard.replay import ReplaySession
    from claimguard.store import BatchWriter, FindingStore

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
        return store.count()


if __name__ == "__main__":
    print(populate(Path(sys.argv[1])))
