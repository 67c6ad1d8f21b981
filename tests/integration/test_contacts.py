"""Fixed contact persons through the service layer: one per sector, handover without gap or overlap."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import AccessDenied
from coordinator.accounts.services import create_staff_member
from coordinator.audit.models import AuditEntry
from coordinator.contacts import services as contacts
from coordinator.contacts.models import ContactAssignment
from pathways.clock import FixedClock
from pathways.errors import NotFound, PermissionDenied, ValidationFailed
from pathways.organisations import Sector
from tests import scenario as sc

D = date(2026, 11, 1)


def _assign(session: Session, clock: FixedClock, w: sc.Scenario, **kw: object) -> ContactAssignment:
    data: dict[str, object] = {
        "patient_id": w.patient.id,
        "organisation_id": w.municipality.id,
        "person_id": w.case_worker.id,
        "valid_from": D,
    } | kw
    return contacts.assign_contact(session, w.case_worker, clock, **data)  # type: ignore[arg-type]


def _count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count(ContactAssignment.id))) or 0


def test_assign_takes_sector_and_inbox_from_the_organisation(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    row = _assign(session, clock, world)
    assert (row.sector, row.team_inbox, row.valid_to) == (
        Sector.MUNICIPALITY,
        "psyk@kk.example",
        None,
    )
    entry = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.resource_type == "ContactAssignment")
    ).one()
    assert (entry.patient_id, entry.actor_id) == (world.patient.id, world.case_worker.id)


def test_overlapping_period_is_refused(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    _assign(session, clock, world, valid_to=D + timedelta(days=30))
    with pytest.raises(ValidationFailed) as caught:
        _assign(session, clock, world, valid_from=D + timedelta(days=30))
    assert [(e.field, e.code) for e in caught.value.errors] == [("valid_from", "overlap")]
    assert "hand over instead" in caught.value.errors[0].message
    assert _count(session) == 1
    _assign(session, clock, world, valid_from=D + timedelta(days=31))  # the next day is fine
    assert _count(session) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"person_id": "gp"}, "person_id"),  # works elsewhere
        ({"backup_person_id": "case_worker"}, "backup_person_id"),  # backup is the contact himself
        ({"valid_to": D - timedelta(days=1)}, "valid_to"),
        (
            {"person_id": None, "team_inbox": ""},
            None,
        ),  # falls back to the organisation's inbox: fine
    ],
)
def test_invalid_assignments(
    session: Session,
    clock: FixedClock,
    world: sc.Scenario,
    change: dict[str, object],
    field: str | None,
) -> None:
    resolved = {
        k: getattr(world, v).id if isinstance(v, str) and k.endswith("person_id") else v
        for k, v in change.items()
    }
    if field is None:
        assert _assign(session, clock, world, **resolved).person_id is None
        return
    with pytest.raises(ValidationFailed) as caught:
        _assign(session, clock, world, **resolved)
    assert caught.value.fields == (field,)
    assert _count(session) == 0


def test_deactivated_person_cannot_be_named(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    world.users["case_worker"].is_active = False
    with pytest.raises(ValidationFailed) as caught:
        _assign(session, clock, world)
    assert caught.value.fields == ("person_id",)


def test_only_the_sector_names_its_contact(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    with pytest.raises(PermissionDenied):
        contacts.assign_contact(
            session,
            world.case_worker,
            clock,
            patient_id=world.patient.id,
            organisation_id=world.gp_clinic.id,
            person_id=world.gp.id,
            valid_from=D,
        )
    with pytest.raises(AccessDenied):  # for staff, an unknown patient looks like anyone else's
        _assign(session, clock, world, patient_id=424242)
    with pytest.raises(NotFound):
        contacts.assign_contact(
            session,
            sc.SYSTEM,
            clock,
            patient_id=424242,
            organisation_id=world.municipality.id,
            person_id=None,
            valid_from=D,
        )
    with pytest.raises(ValidationFailed) as caught:
        _assign(session, clock, world, organisation_id=424242)
    assert caught.value.fields == ("organisation_id",)


def test_handover_leaves_no_gap_and_no_overlap(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    first = _assign(session, clock, world)
    successor_user = sc.actor(world.users["case_worker"])
    new_user = create_staff_member(
        session,
        sc.SYSTEM,
        clock,
        organisation_id=world.municipality.id,
        name="Ny Sagsbehandler",
        role="case_worker",
    )
    second = contacts.hand_over_contact(
        session,
        successor_user,
        clock,
        assignment_id=first.id,
        person_id=new_user.id,
        on=date(2026, 11, 20),
        backup_person_id=world.case_worker.id,
    )
    assert (first.valid_from, first.valid_to) == (D, date(2026, 11, 19))
    assert (second.valid_from, second.valid_to, second.person_id) == (
        date(2026, 11, 20),
        None,
        new_user.id,
    )
    assert second.backup_person_id == world.case_worker.id
    with pytest.raises(ValidationFailed) as caught:
        contacts.hand_over_contact(
            session,
            successor_user,
            clock,
            assignment_id=second.id,
            person_id=world.case_worker.id,
            on=date(2026, 11, 20),
        )
    assert caught.value.fields == ("valid_from",)


def test_sectors_lacking_a_contact(session: Session, clock: FixedClock, world: sc.Scenario) -> None:
    assert contacts.sectors_lacking_contact(
        session, world.nurse, clock, patient_id=world.patient.id
    ) == list(Sector)
    _assign(session, clock, world)
    contacts.assign_contact(
        session,
        world.nurse,
        clock,
        patient_id=world.patient.id,
        organisation_id=world.ward.id,
        person_id=world.nurse.id,
        valid_from=D,
    )
    gp_row = contacts.assign_contact(
        session,
        world.gp,
        clock,
        patient_id=world.patient.id,
        organisation_id=world.gp_clinic.id,
        person_id=world.gp.id,
        valid_from=D,
    )
    assert (
        contacts.sectors_lacking_contact(session, world.nurse, clock, patient_id=world.patient.id)
        == []
    )
    world.users["case_worker"].is_active = False  # the person left: a stale contact
    assert contacts.sectors_lacking_contact(
        session, world.nurse, clock, patient_id=world.patient.id
    ) == [Sector.MUNICIPALITY]
    contacts.end_contact(
        session,
        world.gp,
        clock,
        assignment_id=gp_row.id,
        last_day=date(2026, 11, 25),
        reason="lægen er gået på pension",
    )
    assert contacts.sectors_lacking_contact(
        session, world.nurse, clock, patient_id=world.patient.id
    ) == [
        Sector.MUNICIPALITY,
        Sector.GENERAL_PRACTICE,
    ]


def test_end_contact_validates_the_day(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    row = _assign(session, clock, world)
    with pytest.raises(ValidationFailed) as caught:
        contacts.end_contact(
            session,
            world.case_worker,
            clock,
            assignment_id=row.id,
            last_day=D - timedelta(days=1),
            reason="x",
        )
    assert caught.value.fields == ("last_day",)
    assert row.valid_to is None
    listed = contacts.list_contacts(session, world.gp, clock, patient_id=world.patient.id)
    assert [r.id for r in listed] == [row.id]


def test_handover_after_a_period_ended_the_day_before(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    ended = _assign(session, clock, world, valid_to=date(2026, 11, 19))
    successor = contacts.hand_over_contact(
        session,
        world.case_worker,
        clock,
        assignment_id=ended.id,
        person_id=world.case_worker.id,
        on=date(2026, 11, 20),
    )
    assert (ended.valid_to, successor.valid_from, successor.valid_to) == (
        date(2026, 11, 19),
        date(2026, 11, 20),
        None,
    )
