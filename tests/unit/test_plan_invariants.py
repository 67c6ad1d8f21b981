"""Rule-based (stateful) tests: whatever sequence of allowed operations runs, the domain rules keep
(a) one contact period per sector at a time with seamless handovers, and (b) at most one agreed plan and at
most one open plan per pathway (bar a discharge agreement that supersedes a §13b plan)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import combinations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pathways.agreements import OpenPlan, check_no_duplicate
from pathways.contacts import ContactAssignment, check_no_overlap, hand_over, overlaps
from pathways.errors import Conflict, IllegalTransition, ValidationFailed
from pathways.organisations import Sector
from pathways.plans import PLAN_TRANSITIONS, PlanKind, PlanStatus, check_plan_transition

SETTINGS = settings(max_examples=200, deadline=None, stateful_step_count=30)
START = date(2025, 1, 1)
DAYS = st.integers(min_value=0, max_value=60)
LENGTHS = st.one_of(st.none(), st.integers(min_value=0, max_value=20))


def _shares_a_day(a: ContactAssignment, b: ContactAssignment) -> bool:
    """Independent oracle: two periods of one sector share a day if the later start is not after the
    earlier end."""
    if a.sector != b.sector:
        return False
    ends = [p.valid_to for p in (a, b) if p.valid_to is not None]
    return max(a.valid_from, b.valid_from) <= min(ends, default=date.max)


# ------------------------------------------------------------------------------ (a) contacts
class ContactPeriods(RuleBasedStateMachine):
    """The contact periods of one patient, changed the way the contact services change them."""

    def __init__(self) -> None:
        super().__init__()
        self.periods: list[ContactAssignment] = []
        self.handovers = 0

    def _latest(self, sector: Sector) -> ContactAssignment | None:
        mine = [p for p in self.periods if p.sector is sector]
        return max(mine, key=lambda p: p.valid_from, default=None)

    @rule(sector=st.sampled_from(Sector), start=DAYS, length=LENGTHS, person=st.integers(1, 5))
    def assign(self, sector: Sector, start: int, length: int | None, person: int) -> None:
        valid_from = START + timedelta(days=start)
        valid_to = None if length is None else valid_from + timedelta(days=length)
        new = ContactAssignment(sector, valid_from, valid_to, person_id=person)
        if any(_shares_a_day(p, new) for p in self.periods):
            with pytest.raises(ValidationFailed) as caught:
                check_no_overlap(self.periods, new)
            assert caught.value.fields == ("valid_from",)
            assert caught.value.errors[0].code == "overlap"
            return
        check_no_overlap(self.periods, new)
        self.periods.append(new)

    @precondition(lambda self: bool(self.periods))
    @rule(
        sector=st.sampled_from(Sector),
        later=st.integers(1, 40),
        length=LENGTHS,
        person=st.integers(1, 5),
    )
    def hand_over_latest(self, sector: Sector, later: int, length: int | None, person: int) -> None:
        current = self._latest(sector)
        if current is None:
            return
        valid_from = current.valid_from + timedelta(days=later)
        valid_to = None if length is None else valid_from + timedelta(days=length)
        successor = ContactAssignment(sector, valid_from, valid_to, person_id=person)
        if current.valid_to is not None and valid_from > current.valid_to + timedelta(days=1):
            with pytest.raises(ValidationFailed, match="ended before that day") as caught:
                hand_over(current, successor)
            assert caught.value.fields == ("valid_from",)
            return
        closed, new = hand_over(current, successor)
        # no gap, no overlap: the old period ends exactly the day before the new one starts
        assert closed.valid_to is not None
        assert closed.valid_to + timedelta(days=1) == new.valid_from
        assert closed.valid_from <= closed.valid_to
        assert replace(closed, valid_to=current.valid_to) == current
        assert new == successor
        others = [p for p in self.periods if p is not current]
        check_no_overlap(others, new)  # the latest period is handed over: nothing follows it
        self.periods = [*others, closed, new]
        self.handovers += 1

    @precondition(lambda self: bool(self.periods))
    @rule(index=st.integers(0, 1000), days=st.integers(0, 30))
    def end(self, index: int, days: int) -> None:
        """Mirrors end_contact: the last day lies within the period (ending can only shorten it)."""
        current = self.periods[index % len(self.periods)]
        last_day = current.valid_from + timedelta(days=days)
        if current.valid_to is not None:
            last_day = min(last_day, current.valid_to)
        self.periods = [
            p if p is not current else replace(p, valid_to=last_day) for p in self.periods
        ]

    @invariant()
    def one_period_per_sector_at_a_time(self) -> None:
        for a, b in combinations(self.periods, 2):
            assert not overlaps(a, b), (a, b)
            assert not _shares_a_day(a, b), (a, b)

    @invariant()
    def periods_are_well_formed(self) -> None:
        for p in self.periods:
            assert p.valid_to is None or p.valid_from <= p.valid_to


def test_contact_periods_never_overlap() -> None:
    run_state_machine_as_test(ContactPeriods, settings=SETTINGS)


# ------------------------------------------------------------------------------ (b) plans
AGREED_OR_ACTIVE = frozenset({PlanStatus.AGREED, PlanStatus.ACTIVE})
IN_FORCE = frozenset({PlanStatus.AGREED, PlanStatus.ACTIVE, PlanStatus.UNDER_REVISION})
ALL_TRANSITIONS = sorted(PLAN_TRANSITIONS)
FORWARD = {
    PlanStatus.DRAFT: PlanStatus.PROPOSED,
    PlanStatus.PROPOSED: PlanStatus.AGREED,
    PlanStatus.AGREED: PlanStatus.ACTIVE,
}


@dataclass(frozen=True, slots=True)
class ModelPlan:
    id: int
    kind: PlanKind
    status: PlanStatus
    supersedes_id: int | None = None
    was_active: bool = False


class PathwayPlans(RuleBasedStateMachine):
    """The plans of one pathway, changed the way coordinator/plans/ (services, answers) changes them: create_draft
    (check_no_duplicate, optionally superseding), transitions (check_plan_transition), agreement ending the
    superseded plan (agree_if_complete), and the patient's refusal or consent (record_participation).
    A service call that raises leaves the state unchanged (its transaction is
    rolled back), so every rule computes the new state before committing it."""

    def __init__(self) -> None:
        super().__init__()
        self.plans: list[ModelPlan] = []
        self.next_id = 1

    def _open(self) -> list[ModelPlan]:
        return [p for p in self.plans if p.status.is_open]

    def _commit(self, *changed: ModelPlan) -> None:
        by_id = {p.id: p for p in changed}
        self.plans = [by_id.pop(p.id, p) for p in self.plans] + list(by_id.values())

    @rule(
        kind=st.sampled_from(PlanKind),
        pick=st.one_of(st.none(), st.integers(0, 1000), st.just(-1)),
    )
    def create(self, kind: PlanKind, pick: int | None) -> None:
        if pick is None or not self.plans:
            supersedes = None
        elif pick == -1:
            supersedes = 999_999  # a plan that does not exist
        else:
            supersedes = self.plans[pick % len(self.plans)].id
        open_plans = [OpenPlan(p.id, p.kind, p.status) for p in self._open()]
        # only a §13b plan that is in force (agreed, active, under revision) can be superseded; an unagreed
        # one is turned back into a discharge agreement instead (record_participation)
        allowed = all(
            p.id == supersedes and p.kind is PlanKind.COORDINATION_PLAN and p.status in IN_FORCE
            for p in open_plans
        )
        try:
            check_no_duplicate(open_plans, supersedes_id=supersedes)
        except Conflict:
            assert not allowed
            return
        assert allowed
        self._commit(ModelPlan(self.next_id, kind, PlanStatus.DRAFT, supersedes))
        self.next_id += 1

    @precondition(lambda self: bool(self.plans))
    @rule(index=st.integers(0, 1000), status=st.sampled_from(PlanStatus))
    def transition(self, index: int, status: PlanStatus) -> None:
        self._move(self.plans[index % len(self.plans)], status)

    def _move(self, plan: ModelPlan, target: PlanStatus) -> None:
        try:
            if target is PlanStatus.AGREED:
                changed = self._agree(plan)
            else:
                check_plan_transition(plan.status, target)
                changed = [
                    replace(
                        plan,
                        status=target,
                        was_active=plan.was_active or target is PlanStatus.ACTIVE,
                    )
                ]
        except IllegalTransition:
            return
        self._commit(*changed)

    @precondition(lambda self: bool(self.plans))
    @rule(index=st.integers(0, 1000), choice=st.integers(0, 1000))
    def follow_a_legal_transition(self, index: int, choice: int) -> None:
        """Bias towards progress: pick a plan and one of its legal targets."""
        plan = self.plans[index % len(self.plans)]
        targets = [t for s, t in ALL_TRANSITIONS if s is plan.status]
        if targets:
            self._move(plan, targets[choice % len(targets)])

    @precondition(lambda self: any(p.status in FORWARD for p in self.plans))
    @rule(index=st.integers(0, 1000))
    def advance(self, index: int) -> None:
        """Draft -> proposed -> agreed -> active, the usual way forward."""
        movable = [p for p in self.plans if p.status in FORWARD]
        plan = movable[index % len(movable)]
        self._move(plan, FORWARD[plan.status])

    @precondition(
        lambda self: any(
            p.kind is PlanKind.COORDINATION_PLAN and p.status.is_open for p in self.plans
        )
    )
    @rule(index=st.integers(0, 1000))
    def patient_consents(self, index: int) -> None:
        """record_participation(participates=True) on a §13b plan: an unagreed plan becomes a discharge
        agreement again (proposed goes back to draft); an agreed one gets a discharge agreement that
        supersedes it (create_draft) and stays in force until that one is agreed."""
        plans = [p for p in self._open() if p.kind is PlanKind.COORDINATION_PLAN]
        plan = plans[index % len(plans)]
        if plan.status in (PlanStatus.DRAFT, PlanStatus.PROPOSED):
            if plan.status is PlanStatus.PROPOSED:
                check_plan_transition(PlanStatus.PROPOSED, PlanStatus.DRAFT)
            self._commit(replace(plan, kind=PlanKind.DISCHARGE_AGREEMENT, status=PlanStatus.DRAFT))
            return
        self.create(PlanKind.DISCHARGE_AGREEMENT, self.plans.index(plan))

    def _agree(self, plan: ModelPlan) -> list[ModelPlan]:
        """_agree_if_complete: AGREED (ACTIVE again if it had been active) and the superseded plan ends."""
        check_plan_transition(plan.status, PlanStatus.AGREED)
        agreed = replace(plan, status=PlanStatus.AGREED)
        if plan.was_active:
            check_plan_transition(PlanStatus.AGREED, PlanStatus.ACTIVE)
            agreed = replace(agreed, status=PlanStatus.ACTIVE)
        changed = [agreed]
        old = next((p for p in self.plans if p.id == plan.supersedes_id), None)
        if old is not None and old.status.is_open:
            # the superseded plan must be able to end, or the agreement itself would fail
            assert (old.status, PlanStatus.ENDED) in PLAN_TRANSITIONS, (plan, old)
            changed.append(replace(old, status=PlanStatus.ENDED))
        return changed

    @precondition(lambda self: bool(self.plans))
    @rule(index=st.integers(0, 1000))
    def patient_refuses(self, index: int) -> None:
        """record_participation(participates=False): an unagreed agreement becomes a §13b plan."""
        plan = self.plans[index % len(self.plans)]
        if plan.kind is PlanKind.COORDINATION_PLAN:
            return
        if plan.status not in (PlanStatus.DRAFT, PlanStatus.PROPOSED):
            return
        if plan.status is PlanStatus.PROPOSED:
            check_plan_transition(PlanStatus.PROPOSED, PlanStatus.DRAFT)
        self._commit(replace(plan, kind=PlanKind.COORDINATION_PLAN, status=PlanStatus.DRAFT))

    @invariant()
    def at_most_one_agreed_plan(self) -> None:
        agreed = [p for p in self.plans if p.status in AGREED_OR_ACTIVE]
        assert len(agreed) <= 1, agreed

    @invariant()
    def at_most_one_open_plan_unless_superseding(self) -> None:
        for a, b in combinations(self._open(), 2):
            assert a.supersedes_id == b.id or b.supersedes_id == a.id, (a, b)
            superseded = b if a.supersedes_id == b.id else a
            # only a §13b plan can be superseded while it is still open
            assert superseded.kind is PlanKind.COORDINATION_PLAN, (a, b)

    @invariant()
    def ids_are_unique(self) -> None:
        assert len({p.id for p in self.plans}) == len(self.plans)


def test_plans_of_a_pathway_keep_their_invariants() -> None:
    run_state_machine_as_test(PathwayPlans, settings=SETTINGS)
