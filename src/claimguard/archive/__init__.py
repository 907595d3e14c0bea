"""The event archive (`claimguard.events`): every valid input event, for backtests."""

from claimguard.archive.events import (
    EVENT_COLUMNS,
    EVENTS,
    RETENTION_ENV,
    apply_retention,
    event_row,
    read_window,
    write_events,
)

__all__ = [
    "EVENTS",
    "EVENT_COLUMNS",
    "RETENTION_ENV",
    "apply_retention",
    "event_row",
    "read_window",
    "write_events",
]
