"""Use cases for fixed contact persons: assign, hand over without gap or overlap, end, list."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from coordinator.access.services import check_patient_access, require_patient_access
from coordinator.accounts.models import User
from coordinator.audit.services import record
from coordinator.contacts.models import ContactAssignment
from coordinator.organisations.lineage import acts_for, ancestors_and_self, descendants_and_self
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from pathways import contacts as domain
from pathways.audit import AuditAction
from pathways.clock import COPENHAGEN, Clock
from pathways.errors import ErrorCollector, NotFound, PermissionDenied, ValidationFailed
from pathways.organisations import Sector
from pathways.people import Actor
from pathways.permissions import Permission, require


def _as_domain(row: ContactAssignment) -> domain.ContactAssignment:
    return domain.ContactAssignment(
        sector=row.sector,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        person_id=row.person_id,
        backup_person_id=row.backup_person_id,
        team_inbox=row.team_inbox,
    )


def _assignments(
    session: Session, patient_id: int, sector: Sector | None = None
) -> list[ContactAssignment]:
    query = (
        sa.select(ContactAssignment)
        .options(
            selectinload(ContactAssignment.person),
            selectinload(ContactAssignment.backup_person),
            selectinload(ContactAssignment.organisation),
        )
        .where(ContactAssignment.patient_id == patient_id)
        .order_by(ContactAssignment.sector, ContactAssignment.valid_from)
    )
    if sector is not None:
        query = query.where(ContactAssignment.sector == sector)
    return list(session.scalars(query))


def _check_people(
    session: Session,
    organisation: Organisation,
    person_id: int | None,
    backup_person_id: int | None,
) -> None:
    errors = ErrorCollector()
    for field, user_id in (("person_id", person_id), ("backup_person_id", backup_person_id)):
        if user_id is None:
            continue
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            errors.add(field, f"user {user_id} is not an active member of staff", "unknown")
        elif organisation.id not in ancestors_and_self(session, user.organisation_id):
            errors.add(field, f"{user.name} does not work at {organisation.name}")
    errors.raise_if_any()


def assign_contact(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    patient_id: int,
    organisation_id: int,
    person_id: int | None,
    valid_from: date,
    valid_to: date | None = None,
    backup_person_id: int | None = None,
    team_inbox: str = "",
) -> ContactAssignment:
    """Name the fixed contact person of one sector. The sector follows from the organisation, and its
    staff (or staff above it) make the assignment; periods of one sector never overlap."""
    require_patient_access(session, actor, clock, patient_id, Permission.MANAGE_CONTACTS)
    patient = session.get(Patient, patient_id)
    if patient is None:  # only a system actor gets here for an unknown patient
        raise NotFound("patient", patient_id)
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise ValidationFailed.single(
            "organisation_id", f"organisation {organisation_id} does not exist", "unknown"
        )
    if not acts_for(session, actor, organisation.id):
        raise PermissionDenied(f"{actor.name} cannot name contact persons for {organisation.name}")
    assignment = domain.new_contact_assignment(
        sector=organisation.sector.value,
        valid_from=valid_from,
        valid_to=valid_to,
        person_id=person_id,
        backup_person_id=backup_person_id,
        team_inbox=team_inbox or organisation.email,
    )
    _check_people(session, organisation, person_id, backup_person_id)
    domain.check_no_overlap(
        [_as_domain(r) for r in _assignments(session, patient.id, assignment.sector)], assignment
    )
    now = clock.now()
    row = ContactAssignment(
        patient_id=patient.id,
        sector=assignment.sector,
        organisation_id=organisation.id,
        person_id=person_id,
        backup_person_id=backup_person_id,
        team_inbox=assignment.team_inbox,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by_id=actor.user_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.CREATE,
        resource_type="ContactAssignment",
        resource_id=row.id,
        patient_id=patient.id,
        purpose="assign contact person",
        details={"sector": assignment.sector.value},
    )
    return row


def _load(session: Session, assignment_id: int) -> ContactAssignment:
    row = session.get(ContactAssignment, assignment_id)
    if row is None:
        raise NotFound("contact assignment", assignment_id)
    return row


def hand_over_contact(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    assignment_id: int,
    person_id: int,
    on: date,
    backup_person_id: int | None = None,
    team_inbox: str | None = None,
    reason: str = "handover",
) -> ContactAssignment:
    """The current contact's period ends the day before ``on``; the successor's starts on ``on``."""
    current = _load(session, assignment_id)
    require_patient_access(session, actor, clock, current.patient_id, Permission.MANAGE_CONTACTS)
    organisation = current.organisation
    if not acts_for(session, actor, organisation.id):
        raise PermissionDenied(f"{actor.name} cannot hand over contacts of {organisation.name}")
    successor = domain.new_contact_assignment(
        sector=current.sector.value,
        valid_from=on,
        # The successor inherits a planned end, unless the current period has already ended before ``on``.
        valid_to=current.valid_to if current.valid_to and current.valid_to >= on else None,
        person_id=person_id,
        backup_person_id=backup_person_id,
        team_inbox=current.team_inbox if team_inbox is None else team_inbox,
    )
    _check_people(session, organisation, person_id, backup_person_id)
    closed, successor = domain.hand_over(_as_domain(current), successor)
    others = [
        _as_domain(r)
        for r in _assignments(session, current.patient_id, current.sector)
        if r.id != current.id
    ]
    domain.check_no_overlap(others, successor)
    now = clock.now()
    current.valid_to = closed.valid_to
    current.ended_reason = reason[:200]
    row = ContactAssignment(
        patient_id=current.patient_id,
        sector=current.sector,
        organisation_id=organisation.id,
        person_id=person_id,
        backup_person_id=backup_person_id,
        team_inbox=successor.team_inbox,
        valid_from=successor.valid_from,
        valid_to=successor.valid_to,
        created_by_id=actor.user_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="ContactAssignment",
        resource_id=row.id,
        patient_id=current.patient_id,
        purpose="hand over contact person",
        details={"previous": current.id, "sector": current.sector.value},
    )
    return row


def end_contact(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    assignment_id: int,
    last_day: date,
    reason: str,
) -> ContactAssignment:
    row = _load(session, assignment_id)
    require_patient_access(session, actor, clock, row.patient_id, Permission.MANAGE_CONTACTS)
    if not acts_for(session, actor, row.organisation_id):
        raise PermissionDenied(f"{actor.name} cannot end contacts of {row.organisation.name}")
    errors = ErrorCollector()
    text = errors.text("reason", reason, max_length=200)
    if last_day < row.valid_from:
        errors.add("last_day", "the period cannot end before it starts")
    if row.valid_to is not None and last_day > row.valid_to:
        errors.add("last_day", f"the period already ends on {row.valid_to.isoformat()}")
    errors.raise_if_any()
    now = clock.now()
    row.valid_to = last_day
    row.ended_reason = text
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="ContactAssignment",
        resource_id=row.id,
        patient_id=row.patient_id,
        purpose="end contact person",
    )
    return row


def list_contacts(
    session: Session, actor: Actor, clock: Clock, *, patient_id: int
) -> list[ContactAssignment]:
    """Every contact period of the patient (history included), by sector and date."""
    decision = require_patient_access(session, actor, clock, patient_id, Permission.READ_PLAN)
    rows = _assignments(session, patient_id)
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.READ,
        resource_type="ContactAssignment",
        patient_id=patient_id,
        purpose="list contact persons",
        details={"relation": decision.purpose},
    )
    return rows


def sectors_lacking_contact(
    session: Session, actor: Actor, clock: Clock, *, patient_id: int
) -> list[Sector]:
    """Sectors without a current, active fixed contact person today (Copenhagen calendar)."""
    decision = require_patient_access(session, actor, clock, patient_id, Permission.READ_PLAN)
    rows = _assignments(session, patient_id)
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.READ,
        resource_type="ContactAssignment",
        patient_id=patient_id,
        purpose="sectors lacking a contact person",
        details={"relation": decision.purpose},
    )
    inactive = frozenset(
        r.person.id for r in rows if r.person is not None and not r.person.is_active
    )
    today = clock.now().astimezone(COPENHAGEN).date()
    return domain.sectors_lacking_contact(
        [_as_domain(r) for r in rows], today, inactive_person_ids=inactive
    )


def patients_with_contact(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    person_id: int | None = None,
    organisation_id: int | None = None,
    limit: int = 100,
) -> list[int]:
    """Ids of the patients for whom a person (as contact or backup) or an organisation is a fixed contact,
    limited to patients the actor may read (§13c); others are left out, not refused. No audit entry: the
    caller reads each patient's contacts through ``list_contacts``, which is audited."""
    if person_id is None and organisation_id is None:
        raise ValidationFailed.single("person_id", "a person or an organisation is required")
    query = (
        sa.select(ContactAssignment.patient_id).distinct().order_by(ContactAssignment.patient_id)
    )
    if person_id is not None:
        query = query.where(
            sa.or_(
                ContactAssignment.person_id == person_id,
                ContactAssignment.backup_person_id == person_id,
            )
        )
    if organisation_id is not None:
        query = query.where(ContactAssignment.organisation_id == organisation_id)
    found: list[int] = []
    for patient_id in session.scalars(query).all():
        if check_patient_access(session, actor, clock, patient_id, Permission.READ_PLAN).allowed:
            found.append(patient_id)
            if len(found) >= limit:
                break
    return found


def list_colleagues(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    organisation_id: int | None = None,
    after: int | None = None,
    limit: int = 100,
) -> list[User]:
    """The active staff of the caller's own organisation and the units below it (whom a contact period
    there may name), by id: to find a fixed contact person. ``organisation_id`` narrows the list to one
    of those units; any other organisation is refused, and so is a caller without an organisation."""
    require(actor, Permission.READ_PLAN)
    if actor.organisation_id is None:
        raise PermissionDenied(f"{actor.name} belongs to no organisation")
    own = descendants_and_self(session, actor.organisation_id)
    if organisation_id is not None and organisation_id not in own:
        raise PermissionDenied(
            f"organisation {organisation_id} is not {actor.name}'s own organisation or a unit of it"
        )
    wanted = own if organisation_id is None else {organisation_id}
    query = (
        sa.select(User)
        .options(selectinload(User.organisation))
        .where(User.organisation_id.in_(wanted), User.is_active.is_(True))
        .order_by(User.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(User.id > after)
    people = list(session.scalars(query))
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type="User",
        resource_id=actor.organisation_id,
        purpose="look up colleagues",
        details={"organisation_id": organisation_id, "found": len(people)},
    )
    return people
