"""Time is passed in. Rules take ``now``; use cases take a ``Clock``; nothing deep inside reads the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for tests and simulations: it stands still until told to move."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_utc(at)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = ensure_utc(at)


def ensure_utc(value: datetime) -> datetime:
    """Reject naive datetimes (they are ambiguous across DST) and normalise aware ones to UTC."""
    if value.tzinfo is UTC:  # the common case (the database and the clocks give UTC): nothing to do
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no timezone; carepath stores UTC")
    return value.astimezone(UTC)


def to_copenhagen(value: datetime) -> datetime:
    """The same instant seen in Copenhagen, for display and for calendar-day rules."""
    return ensure_utc(value).astimezone(COPENHAGEN)
