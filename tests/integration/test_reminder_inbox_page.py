"""The inbox as people see it (reminders.services.inbox_page, reminder_details): most urgent first,
numbered pages, each with its patient, audited; and whom a reminder may be shared with."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.reminders import services as inbox
from coordinator.reminders.models import Reminder
from coordinator.reminders.scan import evaluate_pathways
from pathways.audit import AuditAction
from pathways.clock import FixedClock
from pathways.errors import NotFound, PermissionDenied, ValidationFailed
from pathways.reminders import ReminderStatus
from tests import scenario as sc


def _municipality_inbox(session: Session, clock: FixedClock, world: sc.Scenario) -> list[Reminder]:
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    sc.plan_discharge(session, clock, world, in_days=1)
    sc.proposed_plan(session, clock, world)
    evaluate_pathways(session, clock, [world.pathway.id])
    found = list(
        session.scalars(
            sa.select(Reminder)
            .where(Reminder.owner_organisation_id == world.municipality.id)
            .order_by(Reminder.id)
        )
    )
    now = clock.now()
    for days, reminder in zip((2, -3, -1, 3), found, strict=True):
        reminder.due_at = now + timedelta(days=days)
        reminder.owner_person_id = None
    found[1].status = ReminderStatus.SNOOZED  # overdue, but snoozed until tomorrow: last
    found[1].snoozed_until = now + timedelta(days=1)
    found[3].owner_person_id = world.case_worker.id
    session.flush()
    return found


def test_most_urgent_first_in_numbered_pages_with_the_patient(
    session: Session, clock: FixedClock
) -> None:
    world = sc.build(session, clock)
    found = _municipality_inbox(session, clock, world)
    first = inbox.inbox_page(session, world.case_worker, clock, page=1, page_size=3)
    assert [row.reminder.id for row in first.rows] == [found[2].id, found[0].id, found[3].id]
    assert {row.patient.id for row in first.rows} == {world.patient.id}
    assert (first.total, first.pages) == (4, 2)
    second = inbox.inbox_page(session, world.case_worker, clock, page=2, page_size=3)
    assert [row.reminder.id for row in second.rows] == [found[1].id]
    mine = inbox.inbox_page(session, world.case_worker, clock, mine_only=True)
    assert [row.reminder.id for row in mine.rows] == [found[3].id]
    assert inbox.inbox_page(session, world.other_case_worker, clock).total == 0
    audited = sc.audit_entries(
        session, actor_id=world.case_worker.id, action=AuditAction.SEARCH, resource_type="Reminder"
    )
    assert [sorted(a.details["reminders"]) for a in audited] == [
        sorted([found[2].id, found[0].id, found[3].id]),
        [found[1].id],
        [found[3].id],
    ]


def test_closed_reminders_are_not_in_the_inbox(session: Session, clock: FixedClock) -> None:
    world = sc.build(session, clock)
    found = _municipality_inbox(session, clock, world)
    inbox.dismiss_reminder(
        session, world.case_worker, clock, reminder_id=found[0].id, reason="ikke relevant"
    )
    page = inbox.inbox_page(session, world.case_worker, clock)
    assert found[0].id not in {row.reminder.id for row in page.rows}
    assert page.total == 3


@pytest.mark.parametrize(
    ("page", "size", "field"), [(0, 25, "page"), (1, 0, "page_size"), (1, 101, "page_size")]
)
def test_page_and_size_are_checked(
    session: Session, clock: FixedClock, page: int, size: int, field: str
) -> None:
    world = sc.build(session, clock)
    with pytest.raises(ValidationFailed) as bad:
        inbox.inbox_page(session, world.case_worker, clock, page=page, page_size=size)
    assert bad.value.fields == (field,)


def test_administrators_have_no_inbox_page(session: Session, clock: FixedClock) -> None:
    world = sc.build(session, clock)
    admin = sc.staff_member(
        session, clock, organisation_id=world.municipality.id, role="org_admin", name="Admin"
    )
    with pytest.raises(PermissionDenied):
        inbox.inbox_page(session, admin, clock)


def test_details_offer_the_parties_in_the_patients_care_with_a_messaging_address(
    session: Session, clock: FixedClock
) -> None:
    world = sc.build(session, clock)
    found = _municipality_inbox(session, clock, world)
    for org, sor, gln in (
        (world.gp_clinic, "90000000000010", "5790000000029"),
        (world.other_gp_clinic, "90000000000011", "5790000000036"),  # not in this patient's care
        (world.municipality, "90000000000012", "5790000000043"),  # the owner itself
    ):
        org.sor_code, org.gln = sor, gln
    session.flush()
    details = inbox.reminder_details(session, world.case_worker, clock, found[0].id)
    assert details.reminder.id == found[0].id
    assert details.patient.id == world.patient.id
    assert [org.id for org in details.share_with] == [world.gp_clinic.id]
    read = sc.audit_entries(
        session, actor_id=world.case_worker.id, action=AuditAction.READ, resource_type="Reminder"
    )
    assert [a.details["reminders"] for a in read] == [[found[0].id]]
    with pytest.raises(NotFound):
        inbox.reminder_details(session, world.other_case_worker, clock, found[0].id)
