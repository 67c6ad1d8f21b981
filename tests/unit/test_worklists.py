"""What a worklist row says about a stay (pathways.worklists): the obligation's state, the reader's
tasks, the follow-up and the urgency order. Pure: facts in, answers out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from pathways.agreements import RequirementFacts, agreement_requirement
from pathways.clock import COPENHAGEN
from pathways.organisations import Sector
from pathways.plans import ParticipantRole, PlanKind, PlanStatus
from pathways.reminders.facts import ContactFacts, PathwayFacts, PendingParty, PlanFacts
from pathways.stays import PathwayStatus
from pathways.worklists import FollowUp, Task, WorkState, stay_work, urgency

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
MUNICIPALITY = 7


def _facts(assessed: bool | None = True, **changes: object) -> PathwayFacts:
    requirement = agreement_requirement(
        RequirementFacts(
            receives_sel_support=assessed,
            presumed_not_to_seek_treatment=None if assessed is None else False,
        )
    )
    facts = PathwayFacts(
        pathway_id=1,
        patient_id=1,
        status=PathwayStatus.ADMITTED,
        admitted_at=NOW - timedelta(days=5),
        ward_id=3,
        requirement=requirement,
    )
    return replace(facts, **changes)  # type: ignore[arg-type]  # keyword fields of the dataclass


def _plan(status: PlanStatus, *pending: ParticipantRole) -> PlanFacts:
    return PlanFacts(
        id=9,
        kind=PlanKind.DISCHARGE_AGREEMENT,
        status=status,
        agreed_at=NOW - timedelta(days=1) if status is PlanStatus.AGREED else None,
        pending_parties=tuple(PendingParty(role, MUNICIPALITY) for role in pending),
    )


def test_the_state_follows_the_assessment_and_the_plan() -> None:
    def state(facts: PathwayFacts) -> WorkState:
        return stay_work(facts, NOW, sector=Sector.REGION).state

    assert state(_facts(None)) is WorkState.NOT_ASSESSED
    assert state(_facts(False)) is WorkState.NOT_REQUIRED
    assert state(_facts()) is WorkState.NOT_STARTED
    assert state(_facts(plans=(_plan(PlanStatus.DRAFT),))) is WorkState.DRAFT
    assert state(_facts(plans=(_plan(PlanStatus.PROPOSED),))) is WorkState.PROPOSED
    assert state(_facts(plans=(_plan(PlanStatus.AGREED),))) is WorkState.AGREED
    discharged = _facts(status=PathwayStatus.DISCHARGED, discharged_at=NOW - timedelta(hours=2))
    assert state(discharged) is WorkState.OVERDUE


def test_the_municipality_must_answer_and_name_a_contact_person() -> None:
    facts = _facts(plans=(_plan(PlanStatus.PROPOSED, ParticipantRole.MUNICIPALITY),))
    work = stay_work(
        facts, NOW, sector=Sector.MUNICIPALITY, organisations=frozenset({MUNICIPALITY})
    )
    assert work.waiting_for == (ParticipantRole.MUNICIPALITY,)
    assert work.tasks == (Task.ANSWER_PLAN, Task.NAME_CONTACT)
    other = stay_work(facts, NOW, sector=Sector.MUNICIPALITY, organisations=frozenset({8}))
    assert Task.ANSWER_PLAN not in other.tasks  # another municipality's answer is not mine
    gp = stay_work(facts, NOW, sector=Sector.GENERAL_PRACTICE)
    assert Task.ANSWER_PLAN not in gp.tasks


def test_contact_persons_missing_per_sector_and_a_requested_meeting() -> None:
    today = NOW.astimezone(COPENHAGEN).date()
    contacts = (
        ContactFacts(Sector.REGION, person_id=1, valid_from=today - timedelta(days=9)),
        ContactFacts(Sector.MUNICIPALITY, person_id=2, person_active=False, valid_from=today),
        ContactFacts(Sector.GENERAL_PRACTICE, person_id=3, valid_to=today - timedelta(days=1)),
    )
    work = stay_work(
        _facts(contacts=contacts, network_meeting_requested_at=NOW - timedelta(days=1)),
        NOW,
        sector=Sector.MUNICIPALITY,
    )
    assert work.lacking_contacts == (Sector.MUNICIPALITY, Sector.GENERAL_PRACTICE)
    assert work.tasks == (Task.NAME_CONTACT, Task.ATTEND_MEETING)
    held = _facts(
        network_meeting_requested_at=NOW - timedelta(days=2),
        network_meeting_held_at=NOW - timedelta(days=1),
    )
    assert Task.ATTEND_MEETING not in stay_work(held, NOW, sector=Sector.MUNICIPALITY).tasks


def test_follow_up_after_discharge() -> None:
    gone = {"status": PathwayStatus.DISCHARGED, "discharged_at": NOW - timedelta(days=3)}
    assert stay_work(_facts(**gone), NOW, sector=None).follow_up is FollowUp.NONE
    booked = _facts(**gone, follow_up_booked_for=NOW + timedelta(days=2))
    assert stay_work(booked, NOW, sector=None).follow_up is FollowUp.BOOKED
    held = replace(booked, follow_up_held_at=NOW - timedelta(days=1))
    assert stay_work(held, NOW, sector=None).follow_up is FollowUp.HELD


def test_deadline_is_the_earliest_reminder_or_the_planned_discharge_day() -> None:
    planned = _facts(planned_discharge_on=date(2026, 11, 28))
    work = stay_work(planned, NOW, sector=Sector.REGION)
    assert work.next_deadline == datetime(2026, 11, 28, tzinfo=COPENHAGEN)
    assert not work.is_overdue
    soon = NOW + timedelta(hours=3)
    assert stay_work(planned, NOW, sector=None, reminder_deadlines=[soon]).next_deadline == soon
    late = stay_work(planned, NOW, sector=None, reminder_deadlines=[NOW - timedelta(hours=1)])
    assert late.is_overdue
    agreed = _facts(planned_discharge_on=date(2026, 11, 28), plans=(_plan(PlanStatus.AGREED),))
    assert stay_work(agreed, NOW, sector=None).next_deadline is None


def test_urgency_puts_overdue_first_then_the_nearest_deadline_then_the_rest() -> None:
    admitted = NOW - timedelta(days=4)
    overdue = stay_work(_facts(), NOW, sector=None, reminder_deadlines=[NOW - timedelta(days=1)])
    near = stay_work(_facts(), NOW, sector=None, reminder_deadlines=[NOW + timedelta(days=1)])
    far = stay_work(_facts(), NOW, sector=None, reminder_deadlines=[NOW + timedelta(days=9)])
    none = stay_work(_facts(False), NOW, sector=None)
    works = [none, far, overdue, near]
    ranked = sorted(works, key=lambda w: urgency(w, admitted))
    assert ranked == [overdue, near, far, none]
