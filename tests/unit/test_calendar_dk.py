"""Danish working days (pathways.calendar_dk): holidays by exact date, office-closed days as a setting,
counting across Easter, Christmas and weekends, DST-correct deadlines, pauses, and properties."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, time, timedelta
from importlib.resources import files
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathways.calendar_dk import (
    CLOSED_DAY,
    WEEKEND,
    CalendarSettings,
    WorkingCalendar,
    default_calendar,
)
from pathways.clock import COPENHAGEN, to_copenhagen
from pathways.errors import ValidationFailed

CAL = default_calendar()
NO_CLOSED_DAYS = WorkingCalendar(CalendarSettings(extra_closed=frozenset()))
FIELD = "extra_closed_days"


def d(year: int, month: int, day: int) -> date:
    return date(year, month, day)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# ------------------------------------------------------------------------------ public holidays

# (month, day), worked out by hand from Easter Sunday (2023-04-09, 2024-03-31, 2025-04-20, 2026-04-05,
# 2027-03-28): skærtorsdag -3, langfredag -2, 2. påskedag +1, Kristi himmelfartsdag +39,
# pinsedag +49, 2. pinsedag +50.
EASTER_BASED = {
    2023: [(4, 6), (4, 7), (4, 9), (4, 10), (5, 18), (5, 28), (5, 29)],
    2024: [(3, 28), (3, 29), (3, 31), (4, 1), (5, 9), (5, 19), (5, 20)],
    2025: [(4, 17), (4, 18), (4, 20), (4, 21), (5, 29), (6, 8), (6, 9)],
    2026: [(4, 2), (4, 3), (4, 5), (4, 6), (5, 14), (5, 24), (5, 25)],
    2027: [(3, 25), (3, 26), (3, 28), (3, 29), (5, 6), (5, 16), (5, 17)],
}
EASTER_NAMES = (
    "Skærtorsdag",
    "Langfredag",
    "Påskedag",
    "Anden påskedag",  # the package's name for 2. påskedag
    "Kristi himmelfartsdag",
    "Pinsedag",
    "Anden pinsedag",
)
HOLIDAYS = [
    *((d(y, 1, 1), "Nytårsdag") for y in EASTER_BASED),
    *(
        (d(y, month, day), name)
        for y, days in EASTER_BASED.items()
        for (month, day), name in zip(days, EASTER_NAMES, strict=True)
    ),
    *((d(y, 12, 25), "Juledag") for y in EASTER_BASED),
    *((d(y, 12, 26), "Anden juledag") for y in EASTER_BASED),
]


@pytest.mark.parametrize(
    ("day", "name"), HOLIDAYS, ids=[f"{x.isoformat()}-{n}" for x, n in HOLIDAYS]
)
def test_public_holidays_2023_to_2027_by_exact_date(day: date, name: str) -> None:
    assert CAL.closed_reason(day) == name
    assert not CAL.is_working_day(day)
    assert not NO_CLOSED_DAYS.is_working_day(day)  # holidays close whatever the setting


@pytest.mark.parametrize("year", sorted(EASTER_BASED))
def test_the_package_lists_exactly_these_public_holidays(year: int) -> None:
    """No surprise extras (e.g. 1 May or 5 June from the optional category)."""
    expected = {day for day, _ in HOLIDAYS if day.year == year}
    if year <= 2023:
        expected.add(d(2023, 5, 5))
    assert set(CAL.public_holidays(year)) == expected


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (d(2023, 5, 5), False),  # store bededag, abolished from 2024
        (d(2024, 4, 26), True),
        (d(2025, 5, 16), True),
        (
            d(2026, 5, 1),
            True,
        ),  # 1 May: arbejdernes kampdag is in the optional category, not the defaults
        (d(2025, 5, 1), True),
    ],
)
def test_store_bededag_and_first_of_may(day: date, working: bool) -> None:
    assert day.weekday() < 5
    assert CAL.is_working_day(day) is working
    assert NO_CLOSED_DAYS.is_working_day(day) is working


def test_store_bededag_has_its_danish_name_in_2023() -> None:
    assert CAL.closed_reason(d(2023, 5, 5)) == "Store bededag"
    assert CAL.closed_reason(d(2024, 4, 26)) is None


@pytest.mark.parametrize("lang", ["en_US.UTF-8", "uk_UA.UTF-8", "C"])
def test_holiday_names_are_danish_whatever_lang_says(
    monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    monkeypatch.setenv("LANG", lang)
    monkeypatch.setenv("LC_ALL", lang)
    assert WorkingCalendar().closed_reason(d(2026, 12, 25)) == "Juledag"


def test_public_holidays_are_cached_per_year_and_read_only() -> None:
    cal = WorkingCalendar()
    first = cal.public_holidays(2026)
    assert cal.public_holidays(2026) is first
    assert isinstance(first, MappingProxyType)
    assert first[d(2026, 12, 25)] == "Juledag"


# -------------------------------------------------------------------- office-closed days (setting)


@pytest.mark.parametrize(
    "day",
    [
        d(2026, 6, 5),
        d(2026, 12, 24),
        d(2026, 12, 31),
        d(2025, 12, 24),
        d(2025, 12, 31),
        d(2024, 6, 5),
    ],
)
def test_office_closed_days_are_closed_by_default(day: date) -> None:
    assert day.weekday() < 5
    assert CAL.closed_reason(day) == CLOSED_DAY
    assert not CAL.is_working_day(day)
    assert NO_CLOSED_DAYS.is_working_day(day)


def test_grundlovsdag_is_open_when_the_setting_drops_it() -> None:
    cal = WorkingCalendar(CalendarSettings.from_strings(["12-24", "12-31"]))
    assert cal.is_working_day(d(2026, 6, 5))
    assert cal.closed_reason(d(2026, 12, 24)) == CLOSED_DAY


def test_default_settings_come_from_the_data_file() -> None:
    raw = tomllib.loads(
        files("pathways.data").joinpath("calendar.toml").read_text(encoding="utf-8")
    )
    assert raw["extra_closed_days"] == ["12-24", "12-31", "06-05"]
    assert CalendarSettings().extra_closed == frozenset({(12, 24), (12, 31), (6, 5)})
    assert default_calendar().settings == CalendarSettings()
    assert default_calendar() is default_calendar()


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (d(2026, 1, 10), WEEKEND),  # Saturday
        (d(2026, 1, 11), WEEKEND),  # Sunday
        (d(2026, 1, 12), None),  # Monday
        (d(2027, 12, 26), "Anden juledag"),  # a holiday on a Sunday keeps its name
        (d(2027, 12, 24), CLOSED_DAY),  # Friday
        (d(2022, 12, 24), WEEKEND),  # an office-closed day on a Saturday is simply weekend
    ],
)
def test_closed_reason(day: date, reason: str | None) -> None:
    assert CAL.closed_reason(day) == reason
    assert CAL.is_working_day(day) is (reason is None)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (["12-24", "06-05"], {(12, 24), (6, 5)}),
        (["02-29"], {(2, 29)}),
        ([], set()),
        (("01-02", "01-02"), {(1, 2)}),
    ],
)
def test_from_strings_accepts_month_days(days: list[str], expected: set[tuple[int, int]]) -> None:
    assert CalendarSettings.from_strings(days).extra_closed == frozenset(expected)


@pytest.mark.parametrize(
    "bad", ["13-01", "12-32", "xx", "02-30", "00-10", "1-05", "12-24 ", "", "12/24"]
)
def test_from_strings_rejects_bad_days(bad: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        CalendarSettings.from_strings(["12-24", bad])
    assert caught.value.fields == (FIELD,)
    assert f"'{bad}'" in caught.value.message


def test_from_strings_reports_every_bad_day() -> None:
    with pytest.raises(ValidationFailed) as caught:
        CalendarSettings.from_strings(["13-01", "12-24", "12-32", "xx"])
    assert caught.value.fields == (FIELD, FIELD, FIELD)


def test_from_strings_rejects_a_lone_string_and_non_text() -> None:
    with pytest.raises(ValidationFailed) as caught:
        CalendarSettings.from_strings("12-24")
    assert caught.value.fields == (FIELD,)
    with pytest.raises(ValidationFailed) as caught:
        CalendarSettings.from_strings([1224])  # type: ignore[list-item]
    assert caught.value.fields == (FIELD,)


def test_settings_reject_impossible_month_days_when_built_directly() -> None:
    with pytest.raises(ValidationFailed) as caught:
        CalendarSettings(extra_closed=frozenset({(12, 24), (13, 1)}))
    assert caught.value.fields == (FIELD,)


# ---------------------------------------------------------------------------------- counting


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # Easter 2026: skærtorsdag 2 Apr, langfredag 3 Apr, weekend, 2. påskedag 6 Apr.
        (d(2026, 4, 1), 1, d(2026, 4, 7)),
        (d(2026, 4, 1), 2, d(2026, 4, 8)),
        (d(2026, 3, 31), 1, d(2026, 4, 1)),
        (d(2026, 4, 2), 0, d(2026, 4, 7)),
        (d(2026, 3, 27), 4, d(2026, 4, 7)),
        # Christmas and New Year 2026-27: 24 Dec (lukkedag), 25-26 Dec, weekend, 31 Dec, 1 Jan, weekend.
        (d(2026, 12, 23), 1, d(2026, 12, 28)),
        (d(2026, 12, 23), 3, d(2026, 12, 30)),
        (d(2026, 12, 23), 4, d(2027, 1, 4)),
        (d(2026, 12, 24), 0, d(2026, 12, 28)),
        (d(2026, 12, 30), 1, d(2027, 1, 4)),
        # Weekends.
        (d(2026, 1, 9), 1, d(2026, 1, 12)),
        (d(2026, 1, 9), 5, d(2026, 1, 16)),
        (d(2026, 1, 10), 1, d(2026, 1, 12)),
        (d(2026, 1, 11), 0, d(2026, 1, 12)),
        (d(2026, 1, 12), 0, d(2026, 1, 12)),
        (d(2026, 1, 12), 10, d(2026, 1, 26)),
        # Kristi himmelfartsdag, pinse, grundlovsdag 2026.
        (d(2026, 5, 13), 1, d(2026, 5, 15)),
        (d(2026, 5, 22), 1, d(2026, 5, 26)),
        (d(2026, 6, 4), 1, d(2026, 6, 8)),
        # Store bededag: closed in 2023, a working day in 2024.
        (d(2023, 5, 4), 1, d(2023, 5, 8)),
        (d(2024, 4, 25), 1, d(2024, 4, 26)),
    ],
)
def test_add_working_days(start: date, n: int, expected: date) -> None:
    assert CAL.add_working_days(start, n) == expected
    if n >= 1:
        assert CAL.working_days_between(start, expected) == n
        assert CAL.working_days_between(expected, start) == -n


def test_without_office_closed_days_christmas_eve_counts() -> None:
    assert NO_CLOSED_DAYS.add_working_days(d(2026, 12, 23), 1) == d(2026, 12, 24)
    assert NO_CLOSED_DAYS.add_working_days(d(2026, 12, 30), 1) == d(2026, 12, 31)


def test_next_working_day_is_strictly_after() -> None:
    assert CAL.next_working_day(d(2026, 1, 12)) == d(2026, 1, 13)
    assert CAL.next_working_day(d(2026, 4, 1)) == d(2026, 4, 7)
    assert CAL.next_working_day(d(2026, 12, 23)) == d(2026, 12, 28)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (d(2026, 4, 1), d(2026, 4, 7), 1),
        (d(2026, 4, 1), d(2026, 4, 1), 0),
        (d(2026, 4, 7), d(2026, 4, 1), -1),
        (d(2026, 4, 2), d(2026, 4, 6), 0),  # all closed
        (d(2026, 12, 23), d(2027, 1, 4), 4),
        # 2026: 261 weekdays - 7 weekday holidays - 3 office-closed days (5 Jun, 24 Dec, 31 Dec)
        (d(2025, 12, 31), d(2026, 12, 31), 251),
    ],
)
def test_working_days_between(start: date, end: date, expected: int) -> None:
    assert CAL.working_days_between(start, end) == expected


def test_negative_n_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        CAL.add_working_days(d(2026, 1, 12), -1)


def test_datetimes_are_refused_where_a_date_is_meant() -> None:
    """A datetime never equals a date, so it would slip past the holiday lookup."""
    with pytest.raises(TypeError, match="to_copenhagen"):
        CAL.is_working_day(datetime(2026, 12, 25, 12, tzinfo=UTC))
    with pytest.raises(TypeError):
        CAL.add_working_days(datetime(2026, 12, 25, tzinfo=UTC), 1)
    with pytest.raises(TypeError):
        CAL.working_days_between(d(2026, 12, 25), datetime(2026, 12, 28, tzinfo=UTC))


# ---------------------------------------------------------------------------------- deadlines


@pytest.mark.parametrize(
    ("start_at", "n", "expected"),
    [
        # Fri 23 Oct 2026 17:00 CEST; DST ends Sun 25 Oct; +5 = Fri 30 Oct 16:00 CET = 15:00 UTC.
        (utc(2026, 10, 23, 15), 5, utc(2026, 10, 30, 15)),
        # The week before, all in summer time: Fri 23 Oct 16:00 CEST = 14:00 UTC.
        (utc(2026, 10, 16, 15), 5, utc(2026, 10, 23, 14)),
        # Thu 22 Oct 22:30 UTC is already Fri 23 Oct in Copenhagen: +1 is Monday, not Friday.
        (utc(2026, 10, 22, 22, 30), 1, utc(2026, 10, 26, 15)),
        # Spring: DST starts Sun 29 Mar 2026; Mon 30 Mar 16:00 CEST = 14:00 UTC.
        (utc(2026, 3, 27, 10), 1, utc(2026, 3, 30, 14)),
        (utc(2026, 1, 12, 9), 1, utc(2026, 1, 13, 15)),
        (utc(2026, 1, 12, 9), 0, utc(2026, 1, 12, 15)),
        # Across Easter: Wed 1 Apr + 1 = Tue 7 Apr 16:00 CEST.
        (utc(2026, 4, 1, 8), 1, utc(2026, 4, 7, 14)),
    ],
)
def test_deadline_is_local_four_pm_in_utc(start_at: datetime, n: int, expected: datetime) -> None:
    result = CAL.deadline(start_at, n)
    assert result == expected
    assert result.tzinfo is UTC
    assert to_copenhagen(result).time() == time(16, 0)


def test_deadline_accepts_any_aware_start_and_another_time_of_day() -> None:
    local = datetime(2026, 10, 23, 17, 0, tzinfo=COPENHAGEN)
    assert CAL.deadline(local, 5) == utc(2026, 10, 30, 15)
    assert CAL.deadline(local, 5, at=time(12, 0)) == utc(2026, 10, 30, 11)


def test_deadline_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        CAL.deadline(datetime(2026, 10, 23, 15, 0), 5)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="naive"):
        CAL.deadline_with_pauses(datetime(2026, 10, 23, 15, 0), 5, [])  # noqa: DTZ001


def test_deadline_rejects_an_aware_time_of_day() -> None:
    with pytest.raises(ValueError, match="wall-clock"):
        CAL.deadline(utc(2026, 10, 23, 15), 5, at=time(16, 0, tzinfo=UTC))


# ------------------------------------------------------------------------------------- pauses

START_AT = utc(2026, 10, 23, 15)  # Friday; deadline(START_AT, 5) is Fri 30 Oct


@pytest.mark.parametrize(
    ("pauses", "extra"),
    [
        ([], 0),
        ([(d(2026, 10, 27), d(2026, 10, 28))], 2),  # Tue-Wed of leave inside the window
        ([(d(2026, 10, 26), d(2026, 10, 26))], 1),  # a single day (both ends included)
        ([(d(2026, 10, 24), d(2026, 10, 25))], 0),  # a weekend of leave costs nothing
        ([(d(2026, 10, 20), d(2026, 10, 23))], 0),  # leave ending on the start day
        ([(d(2026, 10, 20), d(2026, 10, 27))], 2),  # leave from before the start counts after it
        ([(d(2026, 11, 2), d(2026, 11, 6))], 0),  # leave after the deadline
        ([(d(2026, 10, 26), d(2026, 10, 27)), (d(2026, 10, 29), d(2026, 10, 29))], 3),
        (
            [(d(2026, 10, 26), d(2026, 10, 28)), (d(2026, 10, 27), d(2026, 10, 29))],
            4,
        ),  # overlap once
        ([(d(2026, 10, 30), d(2026, 11, 2))], 2),  # leave over the would-be deadline
    ],
)
def test_pauses_push_the_deadline_by_the_working_days_inside_them(
    pauses: list[tuple[date, date]], extra: int
) -> None:
    assert CAL.deadline_with_pauses(START_AT, 5, pauses) == CAL.deadline(START_AT, 5 + extra)


def test_pause_over_christmas_counts_only_its_working_days() -> None:
    # 21-31 Dec 2026: working days are 21, 22, 23, 28, 29, 30 Dec = 6.
    start = utc(2026, 12, 18, 9)
    pause = [(d(2026, 12, 21), d(2026, 12, 31))]
    assert CAL.working_days_between(d(2026, 12, 20), d(2026, 12, 31)) == 6
    assert CAL.deadline_with_pauses(start, 1, pause) == CAL.deadline(start, 7)
    assert CAL.deadline_with_pauses(start, 1, pause) == utc(2027, 1, 4, 15)


def test_pause_on_a_zero_day_deadline_moves_it_past_the_leave() -> None:
    start = utc(2026, 1, 12, 9)  # Monday
    assert CAL.deadline_with_pauses(start, 0, [(d(2026, 1, 12), d(2026, 1, 14))]) == utc(
        2026, 1, 15, 15
    )


def test_a_pause_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        CAL.deadline_with_pauses(START_AT, 5, [(d(2026, 10, 28), d(2026, 10, 27))])


# ---------------------------------------------------------------------------------- properties

DATES = st.dates(min_value=d(2000, 1, 1), max_value=d(2060, 12, 31))
N = st.integers(min_value=0, max_value=60)
POSITIVE_N = st.integers(min_value=1, max_value=60)
PROPERTY = settings(max_examples=300, deadline=None)


def _brute_force_between(start: date, end: date) -> int:
    return sum(
        CAL.is_working_day(start + timedelta(days=k)) for k in range(1, (end - start).days + 1)
    )


@PROPERTY
@given(start=DATES, n=N)
def test_add_working_days_never_lands_on_a_closed_day(start: date, n: int) -> None:
    result = CAL.add_working_days(start, n)
    assert CAL.is_working_day(result)
    assert CAL.closed_reason(result) is None
    assert result >= start


@PROPERTY
@given(start=DATES, n=N, m=N)
def test_add_working_days_is_monotonic_in_n(start: date, n: int, m: int) -> None:
    low, high = sorted((n, m))
    r_low, r_high = CAL.add_working_days(start, low), CAL.add_working_days(start, high)
    assert r_low <= r_high
    if 1 <= low < high:
        assert r_low < r_high


@PROPERTY
@given(a=DATES, b=DATES, n=N)
def test_add_working_days_is_monotonic_in_start(a: date, b: date, n: int) -> None:
    early, late = sorted((a, b))
    assert CAL.add_working_days(early, n) <= CAL.add_working_days(late, n)


@PROPERTY
@given(start=DATES, n=POSITIVE_N)
def test_add_and_between_agree_and_no_working_day_is_skipped(start: date, n: int) -> None:
    result = CAL.add_working_days(start, n)
    assert result > start
    assert CAL.working_days_between(start, result) == n
    assert CAL.working_days_between(result, start) == -n
    # Every working day strictly between start and result was counted: n - 1 of them, no more.
    assert CAL.working_days_between(start, result - timedelta(days=1)) == n - 1
    assert _brute_force_between(start, result) == n
    if n == 1:
        assert CAL.next_working_day(start) == result


@PROPERTY
@given(start=DATES)
def test_zero_days_is_the_start_or_the_next_working_day(start: date) -> None:
    result = CAL.add_working_days(start, 0)
    if CAL.is_working_day(start):
        assert result == start
    else:
        assert result == CAL.next_working_day(start)
        assert CAL.working_days_between(start, result) == 1


SPAN = st.integers(min_value=-400, max_value=400)


@PROPERTY
@given(a=DATES, to_b=SPAN, to_c=SPAN)
def test_working_days_between_is_additive_and_antisymmetric(a: date, to_b: int, to_c: int) -> None:
    b = a + timedelta(days=to_b)
    c = b + timedelta(days=to_c)
    ab = CAL.working_days_between(a, b)
    assert ab == -CAL.working_days_between(b, a)
    assert ab + CAL.working_days_between(b, c) == CAL.working_days_between(a, c)


@PROPERTY
@given(
    start_at=st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; timezones= sets tz
        max_value=datetime(2060, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    n=N,
)
def test_deadline_is_four_pm_copenhagen_on_a_working_day(start_at: datetime, n: int) -> None:
    result = CAL.deadline(start_at, n)
    local = to_copenhagen(result)
    assert result.tzinfo is UTC
    assert local.time() == time(16, 0)
    assert CAL.is_working_day(local.date())
    assert local.date() == CAL.add_working_days(to_copenhagen(start_at).date(), n)


@PROPERTY
@given(
    start=DATES,
    n=POSITIVE_N,
    offset=st.integers(min_value=1, max_value=90),
    length=st.integers(min_value=0, max_value=30),
)
def test_a_pause_inside_the_window_pushes_by_its_working_days(
    start: date, n: int, offset: int, length: int
) -> None:
    plain = CAL.add_working_days(start, n)
    first = start + timedelta(days=offset)
    last = first + timedelta(days=length)
    start_at = datetime.combine(start, time(12, 0), tzinfo=COPENHAGEN)
    paused = CAL.deadline_with_pauses(start_at, n, [(first, last)])
    inside = CAL.working_days_between(first - timedelta(days=1), last)
    if first <= plain:
        assert paused == CAL.deadline(start_at, n + inside)
    else:
        assert paused == CAL.deadline(start_at, n)
