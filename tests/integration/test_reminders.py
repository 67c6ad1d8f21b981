"""Reminders against the database: evaluation, no duplicates, triggers, the inbox and its audit."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from coordinator.contacts.services import assign_contact
from coordinator.db import CONFIG_INFO
from coordinator.outbox.models import OutboxMessage
from coordinator.plans import services as plans
from coordinator.reminders import services as inbox
from coordinator.reminders import triggers
from coordinator.reminders.models import Reminder
from coordinator.reminders.scan import _STORED_COLUMNS, evaluate_pathways
from pathways.clock import FixedClock
from pathways.errors import NotFound, PermissionDenied, ValidationFailed
from pathways.plans import PlanKind
from pathways.reminders import GapRule, ReminderStatus, Severity, StoredReminder
from pathways.stays import PathwayFactType
from tests import scenario as sc


def test_an_unassessed_stay_gets_one_reminder_however_often_it_is_evaluated(
    session: Session, clock: FixedClock
) -> None:
    world = sc.build(session, clock)
    first = evaluate_pathways(session, clock, [world.pathway.id])
    again = evaluate_pathways(session, clock, [world.pathway.id])
    found = sc.reminders_by_key(session)
    assert list(found) == ["requirement_not_assessed|assessment"]
    reminder = found["requirement_not_assessed|assessment"]
    assert reminder.owner_organisation_id == world.ward.id
    assert reminder.escalate_to_person_id == world.chief.id
    # made after its deadline (admitted long before): overdue, not a warning, and mailed at once
    assert reminder.due_at < clock.now()
    assert reminder.severity is Severity.URGENT
    mailed = session.scalars(sa.select(OutboxMessage.idempotency_key)).all()
    assert mailed == [f"reminder:{reminder.id}:urgent"]
    assert (first.created, again.created, again.updated) == (1, 0, 0)


def test_the_assessment_and_a_draft_close_the_gaps(session: Session, clock: FixedClock) -> None:
    world = sc.build(session, clock)
    evaluate_pathways(session, clock, [world.pathway.id])
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    evaluate_pathways(session, clock, [world.pathway.id])
    found = sc.reminders_by_key(session)
    assert found["requirement_not_assessed|assessment"].status is ReminderStatus.RESOLVED
    assert found["plan_not_started|plan_start"].status is ReminderStatus.OPEN
    plans.create_draft(
        session, world.nurse, clock, pathway_id=world.pathway.id, kind=PlanKind.DISCHARGE_AGREEMENT
    )
    summary = evaluate_pathways(session, clock, [world.pathway.id])
    assert summary.resolved == 1
    assert (
        sc.reminders_by_key(session)["plan_not_started|plan_start"].status
        is ReminderStatus.RESOLVED
    )


def test_discharge_without_an_agreed_plan_is_a_breach_mailed_at_once(
    session: Session, clock: FixedClock
) -> None:
    world = sc.build(session, clock)
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    sc.discharge(session, clock, world, by=world.nurse, key="discharge-1", ago=timedelta(hours=1))
    evaluate_pathways(session, clock, [world.pathway.id])
    found = sc.reminders_by_key(session)
    breach = found["discharged_without_plan|plan_before_discharge"]
    assert breach.severity is Severity.BREACH
    assert breach.escalate_to_person_id == world.chief.id
    assert {k.split("|")[1] for k in found if k.startswith("contact_person_missing")} == {
        "sector:region",
        "sector:municipality",
        "sector:general_practice",
    }
    mails = session.scalars(sa.select(OutboxMessage)).all()
    assert [m.recipient for m in mails if m.reminder_id == breach.id] == ["afsnit1@test.example"]
    mail = next(m for m in mails if m.reminder_id == breach.id)
    assert "0101701235" not in mail.body
    assert "Mette" not in mail.body
    assert f"R-{breach.id}" in mail.subject
    # Evaluating again queues no second mail.
    evaluate_pathways(session, clock, [world.pathway.id])
    assert session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == len(mails)


def test_a_new_contact_person_closes_that_sector_gap_through_the_commit_trigger(
    session: Session, clock: FixedClock
) -> None:
    world = sc.build(session, clock)
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    sc.discharge(session, clock, world, by=world.nurse, key="discharge-2", ago=timedelta(hours=1))
    session.commit()  # the trigger evaluates before the commit
    assert sc.reminders_by_key(session)["contact_person_missing|sector:municipality"].status is (
        ReminderStatus.OPEN
    )
    assign_contact(
        session,
        world.case_worker,
        clock,
        patient_id=world.patient.id,
        organisation_id=world.municipality.id,
        person_id=world.case_worker.id,
        valid_from=clock.now().date(),
    )
    session.commit()
    found = sc.reminders_by_key(session)
    assert found["contact_person_missing|sector:municipality"].status is ReminderStatus.RESOLVED
    assert found["contact_person_missing|sector:general_practice"].status is ReminderStatus.OPEN


def test_the_inbox_shows_the_ward_its_reminders_and_nobody_else(
    session: Session, clock: FixedClock
) -> None:
    world = sc.build(session, clock)
    evaluate_pathways(session, clock, [world.pathway.id])
    query = inbox.ReminderQuery()
    mine = inbox.list_reminders(session, world.nurse, clock, query)
    assert [r.rule for r in mine] == [GapRule.REQUIREMENT_NOT_ASSESSED.value]
    assert inbox.list_reminders(session, world.other_case_worker, clock, query) == []
    with pytest.raises(NotFound):
        inbox.get_reminder(session, world.other_case_worker, clock, mine[0].id)
    audited = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.resource_type == "Reminder", AuditEntry.actor_id == world.nurse.id
        )
    ).all()
    assert [a.patient_id for a in audited] == [world.patient.id]


def test_acknowledge_snooze_and_dismiss(session: Session, clock: FixedClock) -> None:
    world = sc.build(session, clock)
    evaluate_pathways(session, clock, [world.pathway.id])
    [reminder] = inbox.list_reminders(session, world.nurse, clock, inbox.ReminderQuery())
    inbox.acknowledge_reminder(session, world.nurse, clock, reminder_id=reminder.id)
    assert reminder.status is ReminderStatus.ACKNOWLEDGED
    assert reminder.acknowledged_by_id == world.nurse.id
    with pytest.raises(ValidationFailed) as bad:
        inbox.snooze_reminder(
            session, world.nurse, clock, reminder_id=reminder.id, until=clock.now() - timedelta(1)
        )
    assert bad.value.fields == ("snoozed_until",)
    inbox.snooze_reminder(
        session, world.nurse, clock, reminder_id=reminder.id, until=clock.now() + timedelta(days=1)
    )
    assert reminder.status is ReminderStatus.SNOOZED
    with pytest.raises(ValidationFailed):
        inbox.dismiss_reminder(session, world.nurse, clock, reminder_id=reminder.id, reason=" ")
    inbox.dismiss_reminder(
        session, world.nurse, clock, reminder_id=reminder.id, reason="assessed on paper"
    )
    assert reminder.status is ReminderStatus.DISMISSED
    assert reminder.dismissed_by_id == world.nurse.id
    # Dismissed stays dismissed while the gap persists.
    evaluate_pathways(session, clock, [world.pathway.id])
    assert reminder.status is ReminderStatus.DISMISSED
    purposes = session.scalars(
        sa.select(AuditEntry.purpose).where(
            AuditEntry.resource_type == "Reminder", AuditEntry.resource_id == str(reminder.id)
        )
    ).all()
    assert purposes == ["acknowledge", "snooze", "dismiss"]


def test_administrators_have_no_inbox(session: Session, clock: FixedClock) -> None:
    world = sc.build(session, clock)

    admin = sc.staff_member(
        session, clock, organisation_id=world.ward.id, role="org_admin", name="Admin"
    )
    with pytest.raises(PermissionDenied):
        inbox.list_reminders(session, admin, clock, inbox.ReminderQuery())


def test_a_network_meeting_fact_raises_and_its_holding_closes_the_gap(
    session: Session, clock: FixedClock
) -> None:
    world = sc.build(session, clock)
    asked = clock.now() - timedelta(days=10)
    inbox.record_pathway_fact(
        session,
        world.case_worker,
        clock,
        pathway_id=world.pathway.id,
        fact=PathwayFactType.NETWORK_MEETING_REQUESTED,
        occurred_at=asked if asked > world.pathway.admitted_at else world.pathway.admitted_at,
        idempotency_key="meeting-1",
    )
    assert "network_meeting_not_held|network_meeting" in sc.reminders_by_key(session)
    inbox.record_pathway_fact(
        session,
        world.case_worker,
        clock,
        pathway_id=world.pathway.id,
        fact=PathwayFactType.NETWORK_MEETING_HELD,
        occurred_at=clock.now(),
        idempotency_key="meeting-2",
    )
    found = sc.reminders_by_key(session)["network_meeting_not_held|network_meeting"]
    assert found.status is ReminderStatus.RESOLVED
    with pytest.raises(ValidationFailed):
        inbox.record_pathway_fact(
            session,
            world.case_worker,
            clock,
            pathway_id=world.pathway.id,
            fact=PathwayFactType.NETWORK_MEETING_HELD,
            occurred_at=clock.now() + timedelta(days=1),
            idempotency_key="meeting-3",
        )


def test_a_fact_is_evaluated_with_the_sessions_local_deadlines_and_not_again_at_the_commit(
    session: Session, clock: FixedClock
) -> None:
    world = sc.build(session, clock)
    relaxed = {"municipalities": {"0101": {"network_meeting_working_days": 30}}}
    session.info[CONFIG_INFO] = {"REMINDER_RULES_OVERRIDES": relaxed}
    asked = max(clock.now() - timedelta(days=10), world.pathway.admitted_at)
    requested = PathwayFactType.NETWORK_MEETING_REQUESTED
    fact = {"fact": requested, "occurred_at": asked, "idempotency_key": "meeting-local"}
    inbox.record_pathway_fact(
        session, world.case_worker, clock, pathway_id=world.pathway.id, **fact
    )
    # Copenhagen's 30 working days, not the region's 5: not due for weeks, so no reminder yet.
    assert "network_meeting_not_held|network_meeting" not in sc.reminders_by_key(session)
    # Evaluated once: the commit hook has nothing left to do for this pathway.
    assert world.pathway.id not in session.info.get(triggers.PENDING_KEY, set())


def test_a_cancelled_discharge_withdraws_the_breach_instead_of_alerting_again(
    session: Session, clock: FixedClock
) -> None:
    from coordinator.care_pathways.corrections import Correction, correct_pathway_event

    world = sc.build(session, clock)
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    sc.discharge(session, clock, world, by=world.nurse, key="discharge-3", ago=timedelta(hours=1))
    session.commit()
    breach = sc.reminders_by_key(session)["discharged_without_plan|plan_before_discharge"]
    assert breach.status is ReminderStatus.OPEN
    mails = session.scalar(sa.select(sa.func.count(OutboxMessage.id)))
    correct_pathway_event(
        session,
        world.nurse,
        clock,
        corrects_key="discharge-3",
        correction=Correction.CANCEL,
        idempotency_key="cancel-discharge-3",
    )
    session.commit()
    session.refresh(breach)
    assert breach.status is ReminderStatus.RESOLVED
    # Discharged again (revised time): the same reminder reopens, no second row, no second mail.
    sc.discharge(
        session, clock, world, by=world.nurse, key="discharge-4", ago=timedelta(minutes=30)
    )
    session.commit()
    session.refresh(breach)
    assert breach.status is ReminderStatus.OPEN
    rows = session.scalars(sa.select(Reminder).where(Reminder.rule == breach.rule)).all()
    assert len(rows) == 1
    keys = list(session.scalars(sa.select(OutboxMessage.idempotency_key).offset(mails)))
    # The breach is not mailed again. The stay, admitted again by the cancellation, lacks a plan past
    # its deadline: that new reminder is overdue on arrival, mailed once.
    late = sc.reminders_by_key(session)["plan_not_started|plan_start"]
    assert late.severity is Severity.URGENT
    assert keys == [f"reminder:{late.id}:urgent"]


def test_local_deadlines_come_from_configuration_and_are_checked_at_start(
    session: Session, clock: FixedClock, database_url: str
) -> None:
    from coordinator import create_app

    with pytest.raises(ValidationFailed) as bad:
        create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "REMINDER_RULES_OVERRIDES": {"defaults": {"follow_up_days": -1}},
            }
        )
    assert bad.value.fields == ("defaults.follow_up_days",)
    world = sc.build(session, clock)
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    evaluate_pathways(session, clock, [world.pathway.id])
    assert "plan_not_started|plan_start" in sc.reminders_by_key(session)
    relaxed = {"municipalities": {"0101": {"plan_start_working_days": 30}}}
    evaluate_pathways(
        session, clock, [world.pathway.id], config={"REMINDER_RULES_OVERRIDES": relaxed}
    )
    # Copenhagen's local deadline is 30 working days: the reminder is withdrawn (not due for weeks).
    assert (
        sc.reminders_by_key(session)["plan_not_started|plan_start"].status
        is ReminderStatus.RESOLVED
    )


def test_a_client_whose_id_matches_a_staff_id_sees_nothing_of_that_persons(
    session: Session, clock: FixedClock
) -> None:
    from pathways.people import Actor, ActorKind, Role

    world = sc.build(session, clock)
    evaluate_pathways(session, clock, [world.pathway.id])
    reminder = next(iter(sc.reminders_by_key(session).values()))
    reminder.owner_person_id = world.nurse.id
    session.flush()
    client = Actor(
        kind=ActorKind.CLIENT,
        name="other EHR",
        id=world.nurse.id,  # a client id is no user id
        organisation_id=world.other_municipality.id,
        role=Role.CASE_WORKER,
        scopes=frozenset({"system/Task.write"}),
    )
    assert client.user_id is None
    assert inbox.list_reminders(session, client, clock, inbox.ReminderQuery()) == []


def test_the_stored_columns_are_the_lifecycle_fields_in_order() -> None:
    """scan.evaluate_pathways builds StoredReminder from a row by position."""
    assert [c.key for c in _STORED_COLUMNS] == [f.name for f in fields(StoredReminder)]


def test_a_plan_proposed_to_the_municipality_is_in_the_case_workers_inbox_at_once(
    session: Session, clock: FixedClock
) -> None:
    world = sc.build(session, clock)
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    sc.plan_discharge(session, clock, world, in_days=1)
    plan = sc.proposed_plan(session, clock, world)
    evaluate_pathways(session, clock, [world.pathway.id])
    mine = inbox.list_reminders(session, world.case_worker, clock, inbox.ReminderQuery())
    assert sorted((r.rule, r.obligation_key, r.owner_organisation_id) for r in mine) == [
        ("contact_person_missing", "sector:municipality", world.municipality.id),
        ("municipality_not_notified", "municipality:party:municipality", world.municipality.id),
        (
            "party_not_answered",
            f"plan:{plan.id}:party:municipality",
            world.municipality.id,
        ),
        ("plan_not_agreed", "plan_before_discharge:party:municipality", world.municipality.id),
    ]
    answer = next(r for r in mine if r.rule == "party_not_answered")
    # due before the discharge (tomorrow), when the agreed plan is due, not three working days on
    assert answer.due_at <= clock.now() + timedelta(days=1)
    assert (
        inbox.list_reminders(session, world.other_case_worker, clock, inbox.ReminderQuery()) == []
    )
