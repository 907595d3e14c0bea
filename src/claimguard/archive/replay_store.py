"""`claimguard replay --store T`: a replay's findings and accepted events into a store, as
the worker would have written them (same tables, same exactly-once writes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from claimguard.store import FindingStore

if TYPE_CHECKING:
    from claimguard.replay import ReplaySession

CHUNK = 20_000


def store_session(session: ReplaySession, target: str) -> str:
    store = FindingStore.connect(target)
    try:
        store.migrate()
        store.apply_event_retention()
        store.load_regions(session.engine.kb.region_parents)
        rows = session.archive or []
        archived = sum(
            store.archive_events(rows[i : i + CHUNK]) for i in range(0, len(rows), CHUNK)
        )
        findings = list(session.findings.values())
        stored = sum(store.write(findings[i : i + CHUNK]) for i in range(0, len(findings), CHUNK))
        reversed_sids = sorted({f.settlement_id for f in findings if f.reversed})
        store.mark_reversed(reversed_sids)
    finally:
        store.close()
    return f"store {target}: events archived {archived}, findings stored {stored}"
