"""State machines: the pathway of a stay (events move it) and the plan (§13a/§13b) status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise, product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathways.errors import IllegalTransition
from pathways.plans import PLAN_TRANSITIONS, PlanStatus, check_plan_transition
from pathways.stays import (
    PATHWAY_TRANSITIONS,
    LeavePeriod,
    Pathway,
    PathwayEventType,
    PathwayStatus,
    next_status,
)

S, E = PathwayStatus, PathwayEventType

# Written out from the domain meaning, not copied from the code: where each allowed event leaves a pathway.
EXPECTED_PATHWAY: dict[tuple[PathwayStatus, PathwayEventType], PathwayStatus] = {
    (S.ADMITTED, E.LEAVE_STARTED): S.ON_LEAVE,
    (S.ON_LEAVE, E.LEAVE_ENDED): S.ADMITTED,
    (S.ADMITTED, E.DISCHARGE_PLANNED): S.ADMITTED,  # facts only: status unchanged
    (S.ON_LEAVE, E.DISCHARGE_PLANNED): S.ON_LEAVE,
    (S.ADMITTED, E.DISCHARGED): S.DISCHARGED,
    (S.ON_LEAVE, E.DISCHARGED): S.DISCHARGED,  # discharged directly from leave
    (S.ADMITTED, E.FOLLOW_UP_BOOKED): S.ADMITTED,
    (S.ON_LEAVE, E.FOLLOW_UP_BOOKED): S.ON_LEAVE,
    (S.DISCHARGED, E.FOLLOW_UP_BOOKED): S.DISCHARGED,
    (S.DISCHARGED, E.FOLLOW_UP_HELD): S.DISCHARGED,
    (S.DISCHARGED, E.READMITTED): S.CLOSED,  # the readmission opens a pathway of its own
    (S.DISCHARGED, E.CLOSED): S.CLOSED,
    (S.ADMITTED, E.CANCELLED): S.CANCELLED,  # an admission entered in error
}
ILLEGAL_PATHWAY = [pair for pair in product(S, E) if pair not in EXPECTED_PATHWAY]
TERMINAL_PATHWAY = (S.CLOSED, S.CANCELLED)


@pytest.mark.parametrize(
    ("status", "event", "expected"), [(*k, v) for k, v in EXPECTED_PATHWAY.items()]
)
def test_allowed_pathway_transitions(
    status: PathwayStatus, event: PathwayEventType, expected: PathwayStatus
) -> None:
    assert next_status(status, event) is expected


def test_the_transition_table_has_exactly_the_expected_pairs() -> None:
    assert PATHWAY_TRANSITIONS == EXPECTED_PATHWAY
    assert len(ILLEGAL_PATHWAY) == len(S) * len(E) - 13


@pytest.mark.parametrize(("status", "event"), ILLEGAL_PATHWAY)
def test_every_other_pathway_transition_is_illegal(
    status: PathwayStatus, event: PathwayEventType
) -> None:
    with pytest.raises(IllegalTransition) as exc:
        next_status(status, event)
    assert exc.value.current == status.value
    assert exc.value.target == event.value
    assert exc.value.code == "illegal-transition"
    assert exc.value.message == f"pathway cannot go from '{status.value}' to '{event.value}'"


@pytest.mark.parametrize(("status", "event"), list(product(TERMINAL_PATHWAY, E)))
def test_closed_and_cancelled_pathways_accept_no_event(
    status: PathwayStatus, event: PathwayEventType
) -> None:
    with pytest.raises(IllegalTransition):
        next_status(status, event)


@pytest.mark.parametrize("status", [S.ADMITTED, S.ON_LEAVE, S.DISCHARGED])
def test_the_admitted_event_never_moves_an_existing_pathway(status: PathwayStatus) -> None:
    with pytest.raises(IllegalTransition):
        next_status(status, E.ADMITTED)


@pytest.mark.parametrize(
    ("status", "is_open"),
    [
        (S.ADMITTED, True),
        (S.ON_LEAVE, True),
        (S.DISCHARGED, True),
        (S.CLOSED, False),
        (S.CANCELLED, False),
    ],
)
def test_pathway_status_is_open(status: PathwayStatus, is_open: bool) -> None:
    assert status.is_open is is_open


@settings(deadline=None)
@given(st.lists(st.sampled_from(list(E)), max_size=30))
def test_random_event_sequences_only_take_allowed_steps(events: list[PathwayEventType]) -> None:
    status = S.ADMITTED
    for event in events:
        was = status
        if (status, event) in EXPECTED_PATHWAY:
            status = next_status(status, event)
            assert status is EXPECTED_PATHWAY[(was, event)]
        else:
            with pytest.raises(IllegalTransition):
                next_status(status, event)
        if was in TERMINAL_PATHWAY:
            assert status is was  # nothing moves a closed or cancelled pathway


@settings(deadline=None)
@given(st.lists(st.sampled_from(list(E)), max_size=30))
def test_applying_only_legal_events_never_leaves_a_terminal_status(
    events: list[PathwayEventType],
) -> None:
    status = S.ADMITTED
    visited = [status]
    for event in events:
        try:
            status = next_status(status, event)
        except IllegalTransition:
            continue
        visited.append(status)
    # once a terminal status is reached it is the last status in the walk
    for i, seen in enumerate(visited):
        if seen in TERMINAL_PATHWAY:
            assert visited[i:] == [seen] * (len(visited) - i)
    # the walk moves along allowed edges only
    for here, there in pairwise(visited):
        assert any(EXPECTED_PATHWAY[(here, e)] is there for e in E if (here, e) in EXPECTED_PATHWAY)


# ------------------------------------------------------------------------------------------ leave

T0 = datetime(2025, 3, 10, 10, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _pathway(*periods: LeavePeriod) -> Pathway:
    return Pathway(status=S.ON_LEAVE, admitted_at=T0 - timedelta(days=5), leave_periods=periods)


@pytest.mark.parametrize(
    ("when", "on_leave"),
    [
        (T0 - SECOND, False),
        (T0, True),  # the start is inclusive
        (T0 + timedelta(hours=1), True),
        (T0 + timedelta(hours=2) - SECOND, True),
        (T0 + timedelta(hours=2), False),  # the end is exclusive
        (T0 + timedelta(days=1), False),
    ],
)
def test_is_on_leave_at_a_closed_period(when: datetime, on_leave: bool) -> None:
    pathway = _pathway(LeavePeriod(started_at=T0, ended_at=T0 + timedelta(hours=2)))
    assert pathway.is_on_leave_at(when) is on_leave


@pytest.mark.parametrize(
    ("when", "on_leave"),
    [(T0 - SECOND, False), (T0, True), (T0 + timedelta(days=365), True)],
)
def test_is_on_leave_at_an_open_period(when: datetime, on_leave: bool) -> None:
    assert _pathway(LeavePeriod(started_at=T0)).is_on_leave_at(when) is on_leave


@pytest.mark.parametrize(
    ("when", "on_leave"),
    [
        (T0 + timedelta(hours=1), True),
        (T0 + timedelta(hours=3), False),  # between the two leaves
        (T0 + timedelta(days=1), True),
        (T0 + timedelta(days=1, hours=4), False),
    ],
)
def test_is_on_leave_at_with_several_periods(when: datetime, on_leave: bool) -> None:
    pathway = _pathway(
        LeavePeriod(started_at=T0, ended_at=T0 + timedelta(hours=2)),
        LeavePeriod(started_at=T0 + timedelta(days=1), ended_at=T0 + timedelta(days=1, hours=4)),
    )
    assert pathway.is_on_leave_at(when) is on_leave


def test_no_leave_periods_means_never_on_leave() -> None:
    assert _pathway().is_on_leave_at(T0) is False


# ------------------------------------------------------------------------------------------ plans

P = PlanStatus
EXPECTED_PLAN: set[tuple[PlanStatus, PlanStatus]] = {
    (P.DRAFT, P.PROPOSED),
    (P.DRAFT, P.WITHDRAWN),
    (P.PROPOSED, P.AGREED),
    (P.PROPOSED, P.DRAFT),  # a party rejected it
    (P.PROPOSED, P.WITHDRAWN),
    (P.AGREED, P.ACTIVE),
    (P.AGREED, P.UNDER_REVISION),
    (P.AGREED, P.ENDED),
    (P.ACTIVE, P.UNDER_REVISION),
    (P.ACTIVE, P.ENDED),
    (P.UNDER_REVISION, P.AGREED),
    (P.UNDER_REVISION, P.ENDED),
}
ILLEGAL_PLAN = [pair for pair in product(P, P) if pair not in EXPECTED_PLAN]


def test_the_plan_transition_table_has_exactly_the_expected_pairs() -> None:
    assert PLAN_TRANSITIONS == EXPECTED_PLAN
    assert len(ILLEGAL_PLAN) == 7 * 7 - 12


@pytest.mark.parametrize(("current", "target"), sorted(EXPECTED_PLAN))
def test_allowed_plan_transitions(current: PlanStatus, target: PlanStatus) -> None:
    assert check_plan_transition(current, target) is None


@pytest.mark.parametrize(("current", "target"), ILLEGAL_PLAN)
def test_every_other_plan_transition_is_illegal(current: PlanStatus, target: PlanStatus) -> None:
    with pytest.raises(IllegalTransition) as exc:
        check_plan_transition(current, target)
    assert exc.value.current == current.value
    assert exc.value.target == target.value
    assert exc.value.message == f"plan cannot go from '{current.value}' to '{target.value}'"


@pytest.mark.parametrize(("current", "target"), list(product([P.ENDED, P.WITHDRAWN], P)))
def test_ended_and_withdrawn_plans_are_terminal(current: PlanStatus, target: PlanStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_plan_transition(current, target)


@pytest.mark.parametrize("status", list(P))
def test_no_plan_status_goes_to_itself(status: PlanStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_plan_transition(status, status)


@pytest.mark.parametrize(
    ("status", "is_open"),
    [
        (P.DRAFT, True),
        (P.PROPOSED, True),
        (P.AGREED, True),
        (P.ACTIVE, True),
        (P.UNDER_REVISION, True),
        (P.ENDED, False),
        (P.WITHDRAWN, False),
    ],
)
def test_plan_status_is_open(status: PlanStatus, is_open: bool) -> None:
    assert status.is_open is is_open


def test_only_open_plans_can_move() -> None:
    for current, _ in EXPECTED_PLAN:
        assert current.is_open
