"""The growing lockout of one account from one address (issue 17, item 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathways.login_throttle import (
    FAILURE_MEMORY,
    MAX_FAILED_LOGINS,
    MAX_LOCKOUT,
    failures_forgotten,
    lockout_after,
)

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failures", "minutes"),
    [(0, None), (4, None), (5, 1), (6, 2), (7, 4), (8, 8), (9, 15), (10, 15), (10_000, 15)],
)
def test_the_fifth_failure_locks_for_a_minute_then_it_doubles_to_fifteen(
    failures: int, minutes: int | None
) -> None:
    expected = None if minutes is None else timedelta(minutes=minutes)
    assert lockout_after(failures) == expected


@given(st.integers(min_value=MAX_FAILED_LOGINS, max_value=10**6))
def test_the_lockout_never_shrinks_and_never_passes_the_cap(failures: int) -> None:
    current, following = lockout_after(failures), lockout_after(failures + 1)
    assert current is not None
    assert following is not None
    assert current <= following <= MAX_LOCKOUT


def test_failures_are_forgotten_after_a_day() -> None:
    assert not failures_forgotten(NOW - FAILURE_MEMORY + timedelta(seconds=1), NOW)
    assert failures_forgotten(NOW - FAILURE_MEMORY, NOW)
