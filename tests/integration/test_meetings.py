"""Network meetings through the service layer: the care relation gate, the audit rows, and the overdue
action's reminder (created once the due date passes, to the owner organisation; resolved when done)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import AccessDenied
from coordinator.meetings import services as meetings
from coordinator.meetings.models import MeetingAction, NetworkMeeting
from coordinator.reminders.scan import evaluate_pathways
from pathways.audit import AuditOutcome
from pathways.clock import COPENHAGEN, FixedClock
from pathways.errors import IllegalTransition, StaleVersion, ValidationFailed
from pathways.meetings import ActionStatus, MeetingStatus
from pathways.reminders import GapRule, ReminderStatus
from tests import scenario as sc

OVERDUE = GapRule.NETWORK_MEETING_ACTION_OVERDUE.value


def _held(session: Session, clock: FixedClock, world: sc.Scenario) -> NetworkMeeting:
    meeting = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Udskrivelse nærmer sig"
    )
    meetings.schedule_meeting(
        session,
        world.case_worker,
        clock,
        meeting_id=meeting.id,
        scheduled_for=clock.now() + timedelta(hours=3),
        place="Mødelokale 2",
        expected_version=meeting.version,
    )
    return meetings.record_meeting(
        session,
        world.nurse,
        clock,
        meeting_id=meeting.id,
        held_on=clock.now().astimezone(COPENHAGEN).date(),
        participants=["Mette Test (borger)", "Case Worker (Københavns Kommune)", "Nurse"],
        citizen_took_part=True,
        citizen_words="Jeg vil gerne have hjælp til at handle ind.",
        summary="Bostøtte aftalt.",
    )


def test_request_schedule_record_and_actions_are_audited(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    meeting = _held(session, clock, world)
    assert meeting.status is MeetingStatus.HELD
    assert meeting.pathway_id == world.pathway.id
    assert meeting.participants[0] == "Mette Test (borger)"
    action = meetings.add_action(
        session,
        world.nurse,
        clock,
        meeting_id=meeting.id,
        description="Søg bostøtte efter § 85",
        owner_organisation_id=world.municipality.id,
        due_on=date(2026, 12, 1),
    )
    meetings.mark_action(session, world.case_worker, clock, action_id=action.id, status="done")
    rows = sc.audit_entries(session, patient_id=world.patient.id)
    trail = [
        (e.resource_type, e.action.value, e.details.get("change") or e.details.get("status"))
        for e in rows
        if e.resource_type in {"NetworkMeeting", "MeetingAction"}
    ]
    assert trail == [
        ("NetworkMeeting", "create", None),
        ("NetworkMeeting", "transition", "schedule"),
        ("NetworkMeeting", "transition", "record"),
        ("MeetingAction", "create", None),
        ("MeetingAction", "transition", "done"),
    ]
    page = meetings.list_patient_meetings(session, world.gp, clock, patient_id=world.patient.id)
    assert [m.id for m in page.meetings] == [meeting.id]
    assert [a.status for a in page.meetings[0].actions] == [ActionStatus.DONE]
    assert world.municipality.id in {o.id for o in page.parties}
    assert sc.audit_entries(session, actor_id=world.gp.id, resource_type="NetworkMeeting")


def test_another_municipality_is_refused_and_the_refusal_is_kept(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    meeting = _held(session, clock, world)
    with pytest.raises(AccessDenied):
        meetings.list_patient_meetings(
            session, world.other_case_worker, clock, patient_id=world.patient.id
        )
    with pytest.raises(AccessDenied):
        meetings.request_meeting(
            session, world.other_case_worker, clock, patient_id=world.patient.id, reason="x"
        )
    with pytest.raises(AccessDenied) as unknown:
        meetings.record_meeting(
            session,
            world.other_case_worker,
            clock,
            meeting_id=meeting.id + 1000,
            held_on=date(2026, 11, 26),
            participants=["x"],
            citizen_took_part=False,
        )
    with pytest.raises(AccessDenied) as theirs:
        meetings.cancel_meeting(
            session, world.other_case_worker, clock, meeting_id=meeting.id, reason="x"
        )
    assert str(unknown.value) == str(theirs.value)  # no oracle for which ids exist


def test_an_action_owner_must_be_a_party_and_the_meeting_held(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    requested = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Samarbejde"
    )
    with pytest.raises(IllegalTransition):
        meetings.add_action(
            session,
            world.nurse,
            clock,
            meeting_id=requested.id,
            description="x",
            owner_organisation_id=world.municipality.id,
            due_on=date(2026, 12, 1),
        )
    held = _held(session, clock, world)
    with pytest.raises(ValidationFailed) as caught:
        meetings.add_action(
            session,
            world.nurse,
            clock,
            meeting_id=held.id,
            description="x",
            owner_organisation_id=world.other_municipality.id,
            due_on=date(2026, 11, 1),
        )
    assert set(caught.value.fields) == {"owner_organisation_id", "due_on"}
    assert sc.count(session, MeetingAction) == 0


def test_a_stale_version_is_a_conflict(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    meeting = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Samarbejde"
    )
    with pytest.raises(StaleVersion):
        meetings.cancel_meeting(
            session,
            world.nurse,
            clock,
            meeting_id=meeting.id,
            reason="Borgeren er udskrevet",
            expected_version=meeting.version + 1,
        )
    cancelled = meetings.cancel_meeting(
        session, world.nurse, clock, meeting_id=meeting.id, reason="Udskrevet", expected_version=1
    )
    assert cancelled.status is MeetingStatus.CANCELLED


def test_an_overdue_action_reminds_its_owner_and_resolves_when_done(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    # The commit hook evaluates with the session's clock (the wall clock here): a due date well ahead of
    # both clocks keeps the reminder away until this test's clock passes it.
    due = datetime.now(COPENHAGEN).date() + timedelta(days=60)
    meeting = _held(session, clock, world)
    action = meetings.add_action(
        session,
        world.nurse,
        clock,
        meeting_id=meeting.id,
        description="Søg bostøtte efter § 85",
        owner_organisation_id=world.municipality.id,
        due_on=due,
    )
    session.commit()
    key = f"{OVERDUE}|meeting:{meeting.id}:action:{action.id}"
    assert key not in sc.reminders_by_key(session)  # not due yet
    evaluate_pathways(session, clock, [world.pathway.id])
    assert key not in sc.reminders_by_key(session)
    clock.set(datetime.combine(due, time(16, 30), tzinfo=COPENHAGEN))  # past 16:00 on the due day
    evaluate_pathways(session, clock, [world.pathway.id])
    session.commit()
    reminder = sc.reminders_by_key(session)[key]
    assert reminder.status is ReminderStatus.OPEN
    assert reminder.owner_organisation_id == world.municipality.id
    assert reminder.legal_basis == "network_meeting"
    assert reminder.params == {"due_on": due.isoformat(), "held_on": meeting.held_on.isoformat()}
    meetings.mark_action(
        session,
        world.case_worker,
        clock,
        action_id=action.id,
        status="done",
        expected_version=action.version,
    )
    session.commit()  # the trigger evaluates the stay before the commit
    assert sc.reminders_by_key(session)[key].status is ReminderStatus.RESOLVED


def test_a_request_is_rule_8_s_request_and_recording_it_closes_that_reminder(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    meeting = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Samarbejde"
    )
    session.commit()
    clock.advance(timedelta(days=8))
    evaluate_pathways(session, clock, [world.pathway.id])
    session.commit()
    key = f"{GapRule.NETWORK_MEETING_NOT_HELD.value}|network_meeting"
    assert sc.reminders_by_key(session)[key].status is ReminderStatus.OPEN
    meetings.record_meeting(
        session,
        world.nurse,
        clock,
        meeting_id=meeting.id,
        held_on=clock.now().astimezone(COPENHAGEN).date(),
        participants=["Nurse"],
        citizen_took_part=False,
    )
    session.commit()
    assert sc.reminders_by_key(session)[key].status is ReminderStatus.RESOLVED


def test_marking_someone_else_s_action_is_refused_and_audited(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    meeting = _held(session, clock, world)
    action = meetings.add_action(
        session,
        world.nurse,
        clock,
        meeting_id=meeting.id,
        description="Book tid hos egen læge",
        owner_organisation_id=world.gp_clinic.id,
        due_on=date(2026, 12, 1),
    )
    with pytest.raises(AccessDenied) as caught:
        meetings.mark_action(session, world.other_gp, clock, action_id=action.id, status="not_done")
    assert caught.value.resource_type == "MeetingAction"
    assert caught.value.patient_id == world.patient.id
    assert session.scalar(sa.select(MeetingAction.status)) is ActionStatus.OPEN
    assert AuditOutcome.DENIED  # persisted by the edge after the rollback (tests/web, tests/api)


def test_the_demo_has_a_held_meeting_with_an_overdue_action_in_the_municipality_s_inbox(
    session: Session, clock: FixedClock
) -> None:
    from coordinator.demo import load_demo
    from coordinator.organisations.models import Organisation

    load_demo(session, clock)
    session.commit()
    meeting = session.scalars(sa.select(NetworkMeeting)).one()
    assert meeting.status is MeetingStatus.HELD
    assert meeting.citizen_words
    statuses = session.scalars(sa.select(MeetingAction.status).order_by(MeetingAction.id)).all()
    assert statuses == [ActionStatus.OPEN, ActionStatus.DONE]
    evaluate_pathways(session, clock, [meeting.pathway_id])
    overdue = [k for k in sc.reminders_by_key(session) if k.startswith(OVERDUE)]
    assert len(overdue) == 1
    reminder = sc.reminders_by_key(session)[overdue[0]]
    owner = session.get_one(Organisation, reminder.owner_organisation_id)
    assert owner.kommunekode == "101"
    assert load_demo(session, clock).created.get("network meetings") is None  # idempotent
