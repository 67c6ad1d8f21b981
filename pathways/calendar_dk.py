"""Danish working days (arbejdsdage): weekends, public holidays and office-closed days are not counted.

Public holidays come from the ``holidays`` package (country DK, Danish names; store bededag is a holiday up
to 2023 and a working day from 2024). Days most offices close on although they are not public holidays
(24 and 31 December, 5 June) are a setting, ``CalendarSettings.extra_closed``, whose default is read from
pathways/data/calendar.toml. See shared/domain/README.md §6.

Dates here are calendar dates in Copenhagen. ``deadline`` takes an aware instant, finds its Copenhagen date,
counts working days from there and answers the UTC instant of a local wall-clock time (16:00 by default),
so a deadline across a DST change is still 16:00 on the office clock.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib.resources import files
from types import MappingProxyType

import holidays

from pathways.clock import COPENHAGEN, to_copenhagen
from pathways.errors import FieldError, ValidationFailed

EXTRA_CLOSED_FIELD = "extra_closed_days"
WEEKEND = "weekend"
CLOSED_DAY = "lukkedag"
DEFAULT_DEADLINE_TIME = time(16, 0)

_MONTH_DAY = re.compile(r"(\d{2})-(\d{2})")
_ONE_DAY = timedelta(days=1)
_LEAP_YEAR = 2000  # validates 02-29 as a real month-day (it only closes anything in leap years)


def _month_day_error(value: object) -> str | None:
    """Why ``value`` is not an "MM-DD" month-day, or None when it is one."""
    if not isinstance(value, str):
        return f"{value!r} is not text; write a day as MM-DD, e.g. 12-24"
    match = _MONTH_DAY.fullmatch(value)
    if match is None:
        return f"'{value}' is not a day written as MM-DD, e.g. 12-24"
    try:
        date(_LEAP_YEAR, int(match[1]), int(match[2]))
    except ValueError:
        return f"'{value}' is not a day of the year (month 01-12, day valid in that month)"
    return None


def _parse_month_days(days: Iterable[str]) -> frozenset[tuple[int, int]]:
    if isinstance(days, str):  # a lone "12-24" would otherwise be read character by character
        raise ValidationFailed.single(EXTRA_CLOSED_FIELD, "must be a list of days written as MM-DD")
    values = list(days)
    errors = [
        FieldError(EXTRA_CLOSED_FIELD, message)
        for message in map(_month_day_error, values)
        if message is not None
    ]
    if errors:
        raise ValidationFailed(errors)
    return frozenset((int(v[:2]), int(v[3:])) for v in values)


@cache
def _default_extra_closed() -> frozenset[tuple[int, int]]:
    text = files("pathways.data").joinpath("calendar.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    days = raw.get(EXTRA_CLOSED_FIELD)
    if not isinstance(days, list):
        raise ValidationFailed.single(
            EXTRA_CLOSED_FIELD, "pathways/data/calendar.toml must list extra_closed_days"
        )
    return _parse_month_days(days)


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    """What closes offices besides weekends and public holidays, as (month, day) pairs."""

    extra_closed: frozenset[tuple[int, int]] = field(default_factory=_default_extra_closed)

    def __post_init__(self) -> None:
        bad = sorted(
            f"{month:02d}-{day:02d}"
            for month, day in self.extra_closed
            if _month_day_error(f"{month:02d}-{day:02d}") is not None
        )
        if bad:
            raise ValidationFailed.single(
                EXTRA_CLOSED_FIELD, f"not days of the year: {', '.join(bad)}"
            )

    @classmethod
    def from_strings(cls, days: Iterable[str]) -> CalendarSettings:
        """Settings from "MM-DD" strings (as in calendar.toml or a region's configuration).

        Raises ValidationFailed with one error per bad value, each on the field "extra_closed_days"."""
        return cls(extra_closed=_parse_month_days(days))


def _require_date(value: date, name: str = "day") -> date:
    # A datetime is a date subclass but never equals a date, so a holiday lookup would silently miss.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(
            f"{name} must be a date, not {type(value).__name__}; "
            "for an instant use to_copenhagen(value).date()"
        )
    return value


def _local_instant(day: date, at: time) -> datetime:
    if at.tzinfo is not None:
        raise ValueError("'at' is a Copenhagen wall-clock time; pass a time without tzinfo")
    return datetime.combine(day, at, tzinfo=COPENHAGEN).astimezone(UTC)


class WorkingCalendar:
    """Working days under one set of settings. Holidays are looked up once per year and kept."""

    __slots__ = ("_holidays", "settings")

    def __init__(self, settings: CalendarSettings | None = None) -> None:
        self.settings = settings if settings is not None else CalendarSettings()
        self._holidays: dict[int, Mapping[date, str]] = {}

    def public_holidays(self, year: int) -> Mapping[date, str]:
        """The Danish public holidays of ``year`` with their Danish names (read-only)."""
        found = self._holidays.get(year)
        if found is None:
            found = MappingProxyType(
                dict(holidays.country_holidays("DK", years=year, language="da"))
            )
            self._holidays[year] = found
        return found

    def closed_reason(self, d: date) -> str | None:
        """Why ``d`` is not a working day: the holiday's Danish name, "weekend" or "lukkedag"; else None.

        A holiday on a weekend gives its name; an office-closed day on a weekend gives "weekend"."""
        _require_date(d)
        name = self.public_holidays(d.year).get(d)
        if name is not None:
            return name
        if d.weekday() >= 5:
            return WEEKEND
        if (d.month, d.day) in self.settings.extra_closed:
            return CLOSED_DAY
        return None

    def is_working_day(self, d: date) -> bool:
        return self.closed_reason(d) is None

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d`` (``add_working_days(d, 0)`` gives "on or after")."""
        return self.add_working_days(d, 1)

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start``, counting only days strictly after it.

        n == 0 gives ``start`` itself when it is a working day, else the next working day."""
        return self._advance(_require_date(start, "start"), n, self.is_working_day)

    def working_days_between(self, start: date, end: date) -> int:
        """The number of working days in (start, end]; negative (the count in (end, start]) if end < start."""
        _require_date(start, "start")
        _require_date(end, "end")
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start
        while day < end:
            day += _ONE_DAY
            if self.is_working_day(day):
                count += 1
        return count

    def deadline(self, start_at: datetime, n: int, *, at: time = DEFAULT_DEADLINE_TIME) -> datetime:
        """The UTC instant of Copenhagen time ``at`` on the n-th working day after start_at's local date.

        Naive ``start_at`` is rejected (ValueError). With n == 0 the deadline is the same working day
        and can lie before ``start_at`` when that is later in the day than ``at``."""
        local_start = to_copenhagen(start_at).date()
        return _local_instant(self.add_working_days(local_start, n), at)

    def deadline_with_pauses(
        self,
        start_at: datetime,
        n: int,
        pauses: Sequence[tuple[date, date]],
        *,
        at: time = DEFAULT_DEADLINE_TIME,
    ) -> datetime:
        """As ``deadline``, but working days inside a pause (first and last day included) do not count.

        For rules whose clock stops during leave: each working day of leave inside the window moves the
        deadline on by one working day."""
        periods = [
            (_require_date(a, "pause start"), _require_date(b, "pause end")) for a, b in pauses
        ]
        for first, last in periods:
            if last < first:
                raise ValueError(f"pause ends ({last}) before it starts ({first})")

        def counts(day: date) -> bool:
            return self.is_working_day(day) and not any(a <= day <= b for a, b in periods)

        local_start = to_copenhagen(start_at).date()
        return _local_instant(self._advance(local_start, n, counts), at)

    @staticmethod
    def _advance(start: date, n: int, counts: Callable[[date], bool]) -> date:
        if n < 0:
            raise ValueError(f"cannot count {n} working days; n must be 0 or more")
        day = start
        if n == 0:
            while not counts(day):
                day += _ONE_DAY
            return day
        remaining = n
        while remaining:
            day += _ONE_DAY
            if counts(day):
                remaining -= 1
        return day


@cache
def default_calendar() -> WorkingCalendar:
    """The calendar with the office-closed days of pathways/data/calendar.toml."""
    return WorkingCalendar(CalendarSettings())
