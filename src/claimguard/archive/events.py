"""Rows of `claimguard.events` (schemas/clickhouse/031_events.sql): write once, read a window.

Exactly once like the findings: a batch is first deduplicated by event_id, then the
event_ids already stored (looked up in the batch's time range, which the sorting key
serves) are skipped; a copy that slips through a race is folded by ReplacingMergeTree
and every read uses FINAL."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from typing import Any

from clickhouse_connect.driver.client import Client

from claimguard.model import Event
from claimguard.store.rows import aware

EVENTS = "claimguard.events"
EVENT_COLUMNS = [
    "event_id",
    "event_type",
    "occurred_at",
    "settlement_id",
    "institution_code",
    "institution_region",
    "person_id",
    "insured_region",
    "seq",
    "raw",
    "archived_at",
]
RETENTION_ENV = "CLAIMGUARD_EVENT_RETENTION_DAYS"
MAX_RETENTION_DAYS = 20 * 366
READ_BLOCK = 20_000  # events fetched per query while reading a window


def event_row(event: Event, raw: bytes, seq: int, now: dt.datetime) -> list[Any]:
    inst, patient = event.institution, event.patient
    return [
        event.event_id,
        event.event_type,
        aware(event.occurred_at),
        event.settlement_id,
        inst.code if inst else "",
        inst.region if inst else "",
        patient.person_id if patient else "",
        patient.insured_region if patient else "",
        seq,
        raw.decode("utf-8", errors="replace").rstrip("\n"),
        now,
    ]


def write_events(client: Client, rows: Sequence[list[Any]]) -> int:
    """Insert the rows whose event_id is not stored yet; → rows inserted."""
    unique: dict[str, list[Any]] = {}
    for row in rows:
        unique.setdefault(row[0], row)
    if not unique:
        return 0
    times = [row[2] for row in unique.values()]
    stored = client.query(
        f"SELECT DISTINCT event_id FROM {EVENTS} "
        "WHERE occurred_at BETWEEN {lo:DateTime64(3)} AND {hi:DateTime64(3)} "
        "AND event_id IN {ids:Array(String)}",
        parameters={"lo": min(times), "hi": max(times), "ids": list(unique)},
    )
    known = {str(r[0]) for r in stored.result_rows}
    fresh = [row for eid, row in unique.items() if eid not in known]
    if fresh:
        client.insert(EVENTS, fresh, column_names=EVENT_COLUMNS)
    return len(fresh)


def apply_retention(client: Client, days: int | None = None) -> int | None:
    """Set the archive's TTL to `days` (default: $CLAIMGUARD_EVENT_RETENTION_DAYS, if set)."""
    if days is None:
        text = os.environ.get(RETENTION_ENV, "").strip()
        if not text:
            return None
        try:
            days = int(text)
        except ValueError:
            raise ValueError(f"{RETENTION_ENV}: {text!r} is not a number of days") from None
    if days < 1:
        raise ValueError(f"{RETENTION_ENV}: {days} is not a number of days >= 1")
    if days > MAX_RETENTION_DAYS:
        # the TTL is a DateTime (until 2106): past it the expiry wraps round to 1970 and the
        # whole archive would be deleted at the next merge
        raise ValueError(f"{RETENTION_ENV}: {days} days is more than {MAX_RETENTION_DAYS}")
    # MODIFY TTL rewrites the table's parts (the TTL is materialised): only when it changes
    engine = client.command(
        "SELECT engine_full FROM system.tables WHERE database = 'claimguard' AND name = 'events'"
    )
    if f"toIntervalDay({days})" not in str(engine):
        client.command(
            f"ALTER TABLE {EVENTS} MODIFY TTL toDateTime(occurred_at) + INTERVAL {days} DAY"
        )
    return days


def region_prefix(region: str) -> str:
    """320600 (a city) → 3206: the 区划 prefix its counties share; 320602 stays."""
    while len(region) > 2 and region.endswith("00"):
        region = region[:-2]
    return region


def read_window(
    client: Client,
    start: dt.datetime,
    end: dt.datetime,
    region: str | None = None,
) -> Iterator[tuple[dt.datetime, bytes]]:
    """(occurred_at, raw) of the archived events with start <= occurred_at < end, in event
    order (ties in arrival order), optionally of institutions in a region (a 区划 prefix).
    Read in blocks keyed on the sorting key, so memory stays flat over millions."""
    for occurred, _person, raw in read_window_rows(client, start, end, region):
        yield occurred, raw


def read_window_rows(
    client: Client,
    start: dt.datetime,
    end: dt.datetime,
    region: str | None = None,
) -> Iterator[tuple[dt.datetime, str, bytes]]:
    """read_window, with each event's person_id ('' when it names none, e.g. a reversal)."""
    where = "occurred_at >= {lo:DateTime64(3)} AND occurred_at < {hi:DateTime64(3)}"
    params: dict[str, Any] = {"lo": aware(start), "hi": aware(end), "n": READ_BLOCK}
    if region:
        where += " AND startsWith(institution_region, {region:String})"
        params["region"] = region_prefix(region)
    after = ""
    while True:
        result = client.query(
            f"SELECT occurred_at, seq, event_id, person_id, raw FROM {EVENTS} FINAL "
            f"WHERE {where}{after} "
            "ORDER BY occurred_at, seq, event_id LIMIT {n:UInt32}",
            parameters=params,
        )
        rows = result.result_rows
        for occurred, _seq, _eid, person, raw in rows:
            yield occurred, person, raw.encode() if isinstance(raw, str) else raw
        if len(rows) < READ_BLOCK:
            return
        last_t, last_seq, last_id, _, _ = rows[-1]
        params.update({"t": last_t, "s": last_seq, "e": last_id})
        after = " AND (occurred_at, seq, event_id) > ({t:DateTime64(3)}, {s:UInt64}, {e:String})"
