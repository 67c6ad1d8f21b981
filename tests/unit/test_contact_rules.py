"""Fixed contact persons: one period per sector at a time, handovers without gap or overlap, and which
sectors lack a contact person on a given day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pathways.contacts import (
    ContactAssignment,
    check_no_overlap,
    hand_over,
    overlaps,
    sectors_lacking_contact,
)
from pathways.errors import FieldError, ValidationFailed
from pathways.organisations import Sector

R, M, G = Sector.REGION, Sector.MUNICIPALITY, Sector.GENERAL_PRACTICE
D = date(2025, 3, 10)


def day(n: int) -> date:
    return D + timedelta(days=n)


def period(
    sector: Sector, start: int, end: int | None = None, person_id: int | None = 1
) -> ContactAssignment:
    return ContactAssignment(
        sector=sector,
        valid_from=day(start),
        valid_to=None if end is None else day(end),
        person_id=person_id,
    )


# ------------------------------------------------------------------------------ overlaps
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 10), (10, 20), True),  # one shared day, inclusive
        ((0, 10), (11, 20), False),  # adjacent days do not overlap
        ((0, 0), (0, 0), True),  # single identical day
        ((0, 0), (1, 1), False),
        ((0, 10), (3, 5), True),  # contained
        ((0, 10), (-5, 0), True),
        ((0, 10), (-5, -1), False),
        ((0, None), (100, 200), True),  # open-ended period reaches every later day
        ((0, None), (-10, -1), False),
        ((0, None), (-10, 0), True),
        ((0, None), (5, None), True),  # two open-ended periods
        ((0, None), (-5, None), True),
    ],
)
def test_overlaps_within_one_sector(
    a: tuple[int, int | None], b: tuple[int, int | None], expected: bool
) -> None:
    first, second = period(R, *a), period(R, *b)
    assert overlaps(first, second) is expected
    assert overlaps(second, first) is expected


@pytest.mark.parametrize(("s1", "s2"), [(R, M), (M, G), (G, R)])
def test_different_sectors_never_overlap(s1: Sector, s2: Sector) -> None:
    assert overlaps(period(s1, 0), period(s2, 0)) is False
    assert overlaps(period(s1, 0, 5), period(s2, 0, 5)) is False


def test_check_no_overlap_accepts_a_free_period() -> None:
    existing = [period(R, 0, 9), period(R, 20, None), period(M, 10, 15), period(G, 0)]
    check_no_overlap(existing, period(R, 10, 19))
    check_no_overlap([], period(R, 0))


@pytest.mark.parametrize(
    ("existing", "until"),
    [
        (period(R, 0, 10), "2025-03-20"),
        (period(R, 0), "further notice"),
    ],
)
def test_check_no_overlap_rejects_a_shared_day(existing: ContactAssignment, until: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_no_overlap([period(M, 0), existing], period(R, 10, 12))
    assert caught.type is ValidationFailed
    assert caught.value.fields == ("valid_from",)
    assert caught.value.errors == (
        FieldError(
            "valid_from",
            f"the region sector already has a contact person from 2025-03-10 until {until}; "
            "hand over instead",
            "overlap",
        ),
    )


# ------------------------------------------------------------------------------ hand over
@pytest.mark.parametrize(
    ("current", "successor"),
    [
        ((0, None), (1, None)),  # the day after the start
        ((0, None), (30, None)),
        ((0, 20), (5, None)),  # within a period that has an end
        ((0, 20), (20, 40)),  # on its last day
        ((0, 20), (21, None)),  # the day after it ended: still seamless
        ((0, 20), (10, 10)),
    ],
)
def test_hand_over_closes_the_day_before(
    current: tuple[int, int | None], successor: tuple[int, int | None]
) -> None:
    old = ContactAssignment(
        R, day(current[0]), None if current[1] is None else day(current[1]), 1, 2, "a@b.dk"
    )
    new = period(R, *successor, person_id=3)
    closed, returned = hand_over(old, new)
    assert closed == ContactAssignment(R, day(current[0]), day(successor[0] - 1), 1, 2, "a@b.dk")
    assert closed.valid_to == new.valid_from - timedelta(days=1)
    assert returned == new
    assert not overlaps(closed, returned)


@pytest.mark.parametrize(
    ("current", "successor", "field", "message"),
    [
        ((5, None), (5, None), "valid_from", "after the current contact period started"),
        ((5, None), (4, None), "valid_from", "after the current contact period started"),
        ((5, 20), (0, 3), "valid_from", "after the current contact period started"),
        ((5, 20), (22, None), "valid_from", "ended before that day"),
        ((5, 5), (7, None), "valid_from", "ended before that day"),
    ],
)
def test_hand_over_rejects(
    current: tuple[int, int | None],
    successor: tuple[int, int | None],
    field: str,
    message: str,
) -> None:
    with pytest.raises(ValidationFailed, match=message) as caught:
        hand_over(period(R, *current), period(R, *successor, person_id=2))
    assert caught.type is ValidationFailed
    assert caught.value.fields == (field,)
    assert caught.value.errors[0].code == "invalid"


@pytest.mark.parametrize("other", [M, G])
def test_hand_over_stays_within_one_sector(other: Sector) -> None:
    with pytest.raises(ValidationFailed, match="within one sector") as caught:
        hand_over(period(R, 0), period(other, 5, person_id=2))
    assert caught.value.fields == ("sector",)


# ------------------------------------------------------------------------------ lacking contact
def test_all_sectors_lack_a_contact_without_assignments() -> None:
    assert sectors_lacking_contact([], D) == [R, M, G]


def test_current_person_covers_its_sector() -> None:
    assignments = [period(G, -5, 5), period(R, 0), period(M, -100, 0)]
    assert sectors_lacking_contact(assignments, D) == []
    # the municipal period ended yesterday
    assert sectors_lacking_contact(assignments, day(1)) == [M]
    assert sectors_lacking_contact(assignments, day(6)) == [M, G]
    assert sectors_lacking_contact(assignments, day(-1)) == [R]  # region starts tomorrow


@pytest.mark.parametrize(
    ("assignment", "inactive"),
    [
        (period(M, -10, -1), frozenset()),  # ended
        (period(M, 1, None), frozenset()),  # starts in the future
        (period(M, -10, None, person_id=7), frozenset({7})),  # person deactivated: a stale contact
        (ContactAssignment(M, day(-10), None, None, None, "team@kk.dk"), frozenset()),  # inbox only
        (ContactAssignment(M, day(-10), None, None, 8, ""), frozenset()),  # backup only
        (ContactAssignment(M, day(-10), None, None, 8, "team@kk.dk"), frozenset()),
    ],
)
def test_sector_lacks_a_contact(assignment: ContactAssignment, inactive: frozenset[int]) -> None:
    covered = [period(R, -10), period(G, -10)]
    assert sectors_lacking_contact([*covered, assignment], D, inactive_person_ids=inactive) == [M]


def test_an_inactive_person_elsewhere_does_not_matter() -> None:
    assignments = [period(R, 0, person_id=1), period(M, 0, person_id=2), period(G, 0, person_id=3)]
    assert sectors_lacking_contact(assignments, D, inactive_person_ids=frozenset({4})) == []
    assert sectors_lacking_contact(assignments, D, inactive_person_ids=frozenset({1, 3})) == [R, G]


@pytest.mark.parametrize(
    ("on", "expected"),
    [(-1, [R, M, G]), (0, [M, G]), (4, [M, G]), (5, [R, M, G])],
)
def test_boundaries_are_inclusive(on: int, expected: list[Sector]) -> None:
    assert sectors_lacking_contact([period(R, 0, 4)], day(on)) == expected


def test_accepts_any_iterable() -> None:
    assert sectors_lacking_contact(iter([period(M, 0)]), D) == [R, G]
