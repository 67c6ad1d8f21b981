"""The authorisation matrix through the service layer: role x sector x relation state x resource x action.

The expected outcome is written out here, independently of pathways/permissions.py and pathways/access.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from itertools import product

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import AccessDenied, grant_emergency_access
from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.services import admit_patient, record_pathway_event
from coordinator.contacts import services as contacts
from coordinator.contacts.models import ContactAssignment
from coordinator.organisations.models import Organisation
from coordinator.organisations.services import create_organisation
from coordinator.patients.models import Patient
from coordinator.patients.services import register_patient
from coordinator.plans import queries as plan_queries
from pathways.access import RelationState
from pathways.audit import AuditOutcome
from pathways.clock import FixedClock
from pathways.errors import ValidationFailed
from pathways.people import Actor, Role
from pathways.stays import PathwayEventType
from tests import scenario as sc

READ_PLANS, READ_CONTACTS, WRITE_CONTACTS = "plans.read", "contacts.read", "contacts.write"
ALL = {READ_PLANS, READ_CONTACTS, WRITE_CONTACTS}
READS = {READ_PLANS, READ_CONTACTS}

# What each role may do to a patient it has a current relation to.
ALLOWED_WITH_RELATION: dict[Role, set[str]] = {
    Role.DISCHARGE_NURSE: ALL,
    Role.CHIEF_PHYSICIAN: ALL,
    Role.WARD_STAFF: READS,
    Role.CASE_WORKER: ALL,
    Role.SUPPORT_WORKER: READS,
    Role.GP: ALL,
    Role.PRACTICE_STAFF: READS,
    Role.ORG_ADMIN: set(),
    Role.SYSTEM_ADMIN: set(),
    Role.AUDITOR: set(),
}
# Who may break the glass.
EMERGENCY_ROLES = {
    Role.DISCHARGE_NURSE,
    Role.CHIEF_PHYSICIAN,
    Role.WARD_STAFF,
    Role.CASE_WORKER,
    Role.GP,
}
# Where each role works in the test world.
HOME: dict[Role, str] = {
    Role.DISCHARGE_NURSE: "ward",
    Role.CHIEF_PHYSICIAN: "ward",
    Role.WARD_STAFF: "ward",
    Role.CASE_WORKER: "municipality",
    Role.SUPPORT_WORKER: "municipal_unit",
    Role.GP: "gp_clinic",
    Role.PRACTICE_STAFF: "gp_clinic",
    Role.ORG_ADMIN: "region",
    Role.SYSTEM_ADMIN: "region",
    Role.AUDITOR: "region",
}
STATES = (RelationState.NONE, RelationState.ACTIVE, RelationState.EXPIRED, RelationState.EMERGENCY)


def expected(role: Role, state: RelationState, operation: str) -> bool:
    if operation not in ALLOWED_WITH_RELATION[role]:
        return False
    return state is RelationState.ACTIVE or (
        state is RelationState.EMERGENCY and role in EMERGENCY_ROLES
    )


def _patient(
    session: Session,
    clock: FixedClock,
    w: sc.Scenario,
    *,
    n: int,
    kommunekode: str,
    gp: Organisation,
) -> Patient:
    return register_patient(
        session,
        sc.SYSTEM,
        clock,
        given_name="M",
        family_name=f"Matrix{n}",
        kommunekode=kommunekode,
        cpr=f"0202802{n:03d}",
        gp_organisation_id=gp.id,
    )


def _sector_org(w: sc.Scenario, home: str) -> Organisation:
    return {"ward": w.ward, "municipality": w.municipality, "gp_clinic": w.gp_clinic}.get(
        home, w.ward
    )


def arrange(
    session: Session, clock: FixedClock, w: sc.Scenario, role: Role, state: RelationState
) -> Patient:
    """A patient standing in ``state`` to the actor's organisation."""
    home = HOME[role]
    related = state is RelationState.ACTIVE
    kommunekode = "101" if related and home.startswith("municipal") else "851"
    gp = w.gp_clinic if related and home == "gp_clinic" else w.other_gp_clinic
    count = len(session.scalars(sa.select(Patient.id)).all())
    patient = _patient(session, clock, w, n=count, kommunekode=kommunekode, gp=gp)
    ward = w.ward if related and home in ("ward", "region") else w.other_ward
    if home in ("ward", "region") and state is RelationState.EXPIRED:
        ward = w.ward
    pathway = admit_patient(
        session,
        sc.SYSTEM,
        clock,
        patient_id=patient.id,
        ward_id=ward.id,
        admitted_at=clock.now() - timedelta(days=100),
        idempotency_key=f"m{patient.id}",
    )
    if state is RelationState.EXPIRED:
        if home in ("ward", "region"):
            for i, event in enumerate((PathwayEventType.DISCHARGED, PathwayEventType.CLOSED)):
                record_pathway_event(
                    session,
                    sc.SYSTEM,
                    clock,
                    pathway_id=pathway.id,
                    event_type=event,
                    occurred_at=clock.now() - timedelta(days=60 - i),
                    idempotency_key=f"e{patient.id}{i}",
                )
        else:  # the organisation was the contact sector until two months ago
            session.add(
                ContactAssignment(
                    patient_id=patient.id,
                    sector=_sector_org(w, home).sector,
                    organisation=_sector_org(w, home),
                    team_inbox="x@example.org",
                    valid_from=date(2026, 1, 1),
                    valid_to=date(2026, 9, 20),
                    created_at=clock.now(),
                )
            )
            session.flush()
    return patient


def _operations(
    w: sc.Scenario, clock: FixedClock
) -> dict[str, Callable[[Session, Actor, int], object]]:
    return {
        READ_PLANS: lambda s, a, p: plan_queries.list_patient_plans(s, a, clock, patient_id=p),
        READ_CONTACTS: lambda s, a, p: contacts.list_contacts(s, a, clock, patient_id=p),
        WRITE_CONTACTS: lambda s, a, p: contacts.assign_contact(
            s,
            a,
            clock,
            patient_id=p,
            organisation_id=_sector_org(w, HOME_FOR[a.role]).id,
            person_id=None,
            valid_from=date(2026, 11, 26),
            team_inbox="team@example.org",
        ),
    }


HOME_FOR = {r: HOME[r] for r in Role}


def setup_case(
    session: Session, clock: FixedClock, role: Role, state: RelationState
) -> tuple[sc.Scenario, Actor, Patient]:
    """A world, a user of ``role`` in its home organisation, and a patient in ``state`` to it."""
    w = sc.build(session, clock)
    home_org = {
        "ward": w.ward,
        "municipality": w.municipality,
        "gp_clinic": w.gp_clinic,
        "region": w.region,
    }.get(HOME[role])
    if HOME[role] == "municipal_unit":
        home_org = create_organisation(
            session,
            sc.SYSTEM,
            clock,
            name="Socialpsykiatrien",
            kind="municipal_unit",
            parent_id=w.municipality.id,
        )
    assert home_org is not None
    actor = sc.staff_member(
        session, clock, organisation_id=home_org.id, role=role.value, name=f"{role} user"
    )
    patient = arrange(session, clock, w, role, state)
    if state is RelationState.EMERGENCY:
        try:
            grant_emergency_access(
                session,
                actor,
                clock,
                patient_id=patient.id,
                reason="acute suicide risk, patient unknown to us",
            )
        except AccessDenied:
            assert role not in EMERGENCY_ROLES
    return w, actor, patient


@pytest.mark.parametrize(("role", "state"), list(product(Role, STATES)))
def test_authorisation_matrix(
    session: Session, clock: FixedClock, role: Role, state: RelationState
) -> None:
    w, actor, patient = setup_case(session, clock, role, state)
    outcomes = {}
    for name, operation in _operations(w, clock).items():
        with session.begin_nested() as savepoint:
            try:
                operation(session, actor, patient.id)
                outcomes[name] = True
            except AccessDenied:
                outcomes[name] = False
            savepoint.rollback()
    assert outcomes == {
        op: expected(role, state, op) for op in (READ_PLANS, READ_CONTACTS, WRITE_CONTACTS)
    }


def test_emergency_access_is_logged_and_flagged(session: Session, clock: FixedClock) -> None:
    w = sc.build(session, clock)
    stranger = _patient(session, clock, w, n=1, kommunekode="851", gp=w.other_gp_clinic)
    with pytest.raises(AccessDenied):
        plan_queries.list_patient_plans(session, w.gp, clock, patient_id=stranger.id)
    grant = grant_emergency_access(
        session, w.gp, clock, patient_id=stranger.id, reason="patient in my waiting room, psychotic"
    )
    assert grant.expires_at == clock.now() + timedelta(hours=4)
    plan_queries.list_patient_plans(session, w.gp, clock, patient_id=stranger.id)
    read = session.scalars(sa.select(AuditEntry).where(AuditEntry.resource_type == "Plan")).one()
    assert read.purpose.startswith("emergency: emergency access")
    assert read.outcome is AuditOutcome.ALLOWED
    clock.advance(timedelta(hours=4, seconds=1))
    with pytest.raises(AccessDenied):  # expired: no grace after emergency access
        plan_queries.list_patient_plans(session, w.gp, clock, patient_id=stranger.id)


@pytest.mark.parametrize(
    ("reason", "hours", "field"),
    [("", 4, "reason"), ("too short", 4, "reason"), ("a good long reason", 13, "duration")],
)
def test_emergency_access_needs_a_reason_and_a_short_duration(
    session: Session, clock: FixedClock, reason: str, hours: int, field: str
) -> None:
    w = sc.build(session, clock)
    with pytest.raises(ValidationFailed) as caught:
        grant_emergency_access(
            session,
            w.gp,
            clock,
            patient_id=w.patient.id,
            reason=reason,
            duration=timedelta(hours=hours),
        )
    assert caught.value.fields == (field,)
