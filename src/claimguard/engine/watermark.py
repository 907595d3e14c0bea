"""How far ahead of the stream an event may be dated. One event dated a year ahead (a hospital
clock typo) must not age every history and dedupe table it touches: an event more than
`max_ahead_days` after both the latest accepted event day and today's date is refused with a
reason instead of evaluated. Today's date is part of the bound so that a quiet stream (a
holiday, a restart) never refuses the next genuine day."""

from __future__ import annotations

import datetime as dt
import time

MAX_AHEAD_DAYS = 31
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def today_ordinal() -> int:
    # UTC+8 (contract times are Beijing time): a day begins at 16:00 UTC
    return _EPOCH_ORDINAL + int((time.time() + 8 * 3600) // 86_400)


class Watermark:
    def __init__(self, max_ahead_days: int = MAX_AHEAD_DAYS) -> None:
        self.max_ahead_days = max_ahead_days
        self.day = 0  # the latest accepted event day (ordinal); 0 before the first event

    def admit(self, day: int) -> str | None:
        """None when the event's day is accepted (and the watermark follows it), else why."""
        if day <= self.day:
            return None
        limit = max(self.day or day, today_ordinal()) + self.max_ahead_days
        if day > limit:
            return (
                f"occurred_at {dt.date.fromordinal(day)} is more than {self.max_ahead_days} "
                f"days ahead of the stream (latest event {_date(self.day)}, "
                f"today {dt.date.fromordinal(today_ordinal())}); refused so that it cannot "
                "age the patient's history"
            )
        self.day = day
        return None


def _date(day: int) -> str:
    return dt.date.fromordinal(day).isoformat() if day else "none yet"
