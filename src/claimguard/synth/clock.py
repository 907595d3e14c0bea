"""Simulated time: whole minutes since midnight (+08:00) of the first simulated day.

Plain ints keep plans small and comparisons cheap; strings are made only when writing.
"""

from __future__ import annotations

import datetime as dt

CST = dt.timezone(dt.timedelta(hours=8))
MINUTES_PER_DAY = 1440
DEFAULT_START = dt.date(2026, 3, 2)


def at(day: int, hour: int, minute: int = 0) -> int:
    """The minute of `hour:minute` on simulated day `day`."""
    return day * MINUTES_PER_DAY + hour * 60 + minute


def day_of(minute: int) -> int:
    return minute // MINUTES_PER_DAY


class Clock:
    """Turns simulated days and minutes into calendar dates and RFC 3339 stamps."""

    def __init__(self, start: dt.date = DEFAULT_START) -> None:
        self.start = start
        self._origin = dt.datetime(start.year, start.month, start.day, tzinfo=CST)
        self._stamps: dict[int, str] = {}

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    def stamp(self, minute: int) -> str:
        text = self._stamps.get(minute)
        if text is None:
            text = (self._origin + dt.timedelta(minutes=minute)).isoformat()
            self._stamps[minute] = text
        return text
