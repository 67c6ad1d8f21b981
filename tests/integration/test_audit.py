"""Audit log: the auditors' query and CSV export, and the citizen's plain-language access log."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import AccessDenied, persist_denial
from coordinator.audit.models import AuditEntry
from coordinator.audit.queries import (
    AuditFilter,
    audit_csv,
    citizen_access_log,
    citizen_log_csv,
    query_audit,
)
from coordinator.audit.services import record
from coordinator.plans import queries as plan_queries
from coordinator.plans import services as plans
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from pathways.errors import PermissionDenied, ValidationFailed
from tests import scenario as sc


@pytest.fixture
def world(session: Session, clock: FixedClock) -> sc.Scenario:
    w = sc.build(session, clock)
    clock.advance(timedelta(hours=1))
    plans.create_draft(session, w.nurse, clock, pathway_id=w.pathway.id)
    clock.advance(timedelta(hours=1))
    plan_queries.list_patient_plans(session, w.gp, clock, patient_id=w.patient.id)
    clock.advance(timedelta(hours=1))
    try:
        plan_queries.list_patient_plans(
            session, w.other_case_worker, clock, patient_id=w.patient.id
        )
    except AccessDenied as denied:
        persist_denial(session, denied)
    return w


def _auditor(
    session: Session, clock: FixedClock, w: sc.Scenario, role: str = "auditor"
) -> sc.Actor:
    return sc.staff_member(session, clock, organisation_id=w.region.id, role=role, name=role)


def test_auditor_queries_the_patient_trail(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    auditor = _auditor(session, clock, world)
    entries = query_audit(session, auditor, clock, AuditFilter(patient_id=world.patient.id))
    assert [(e.resource_type, e.action, e.outcome, e.actor_name) for e in entries[:3]] == [
        ("Patient", AuditAction.READ, AuditOutcome.DENIED, "Other Case Worker"),
        ("Plan", AuditAction.SEARCH, AuditOutcome.ALLOWED, "Gp"),
        ("Plan", AuditAction.CREATE, AuditOutcome.ALLOWED, "Nurse"),
    ]
    denied = query_audit(session, auditor, clock, AuditFilter(outcome=AuditOutcome.DENIED))
    assert [e.actor_id for e in denied] == [world.other_case_worker.id]
    assert denied[0].details == {"reason": "no current care relation to the patient"}
    logged = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.resource_type == "AuditLog")
    ).all()
    assert len(logged) == 2  # reading the log is logged too
    assert logged[0].details["filters"] == {"patient_id": str(world.patient.id)}


def test_only_auditors_and_admins_read_the_log(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    with pytest.raises(PermissionDenied):
        query_audit(session, world.nurse, clock, AuditFilter())
    with pytest.raises(ValidationFailed) as caught:
        query_audit(session, _auditor(session, clock, world), clock, AuditFilter(limit=0))
    assert caught.value.fields == ("limit",)


def test_org_admin_sees_own_organisation_only(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    admin = sc.staff_member(
        session, clock, organisation_id=world.gp_clinic.id, role="org_admin", name="Admin"
    )
    entries = query_audit(session, admin, clock, AuditFilter(patient_id=world.patient.id))
    assert {e.actor_organisation_id for e in entries} == {world.gp_clinic.id}


@pytest.mark.parametrize("role", ["org_admin", "system_admin"])
def test_region_administrators_see_the_region_only(
    session: Session, clock: FixedClock, world: sc.Scenario, role: str
) -> None:
    """The world's trail has the ward's nurse, the GP, and a refused municipal case worker: a region's
    administrator sees the ward's entries (a unit below the region), not the municipal or GP access."""
    admin = _auditor(session, clock, world, role)
    entries = query_audit(session, admin, clock, AuditFilter(patient_id=world.patient.id))
    assert {e.actor_organisation_id for e in entries} == {world.ward.id}
    assert [e.actor_id for e in entries] == [world.nurse.id]
    by_actor = query_audit(session, admin, clock, AuditFilter(actor_id=world.gp.id))
    assert by_actor == []
    logged = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.resource_type == "AuditLog", AuditEntry.actor_id == admin.id)
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.details["count"], e.details["scope"]) for e in logged] == [
        (1, f"organisation {world.region.id}"),
        (0, f"organisation {world.region.id}"),
    ]


def test_auditors_see_every_organisation(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    auditor = _auditor(session, clock, world)
    entries = query_audit(session, auditor, clock, AuditFilter(patient_id=world.patient.id))
    assert {e.actor_organisation_id for e in entries} >= {
        world.ward.id,
        world.gp_clinic.id,
        world.other_municipality.id,
    }
    logged = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.resource_type == "AuditLog", AuditEntry.actor_id == auditor.id
        )
    ).one()
    assert logged.details["scope"] == "all"


def test_an_administrator_without_an_organisation_sees_nothing(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    admin = _auditor(session, clock, world, "system_admin")
    homeless = sc.Actor(kind=admin.kind, name=admin.name, id=admin.id, role=admin.role)
    assert query_audit(session, homeless, clock, AuditFilter(patient_id=world.patient.id)) == []


def test_csv_export(session: Session, clock: FixedClock, world: sc.Scenario) -> None:
    entries = query_audit(
        session, _auditor(session, clock, world), clock, AuditFilter(patient_id=world.patient.id)
    )
    rows = list(csv.reader(io.StringIO(audit_csv(entries))))
    assert rows[0][:4] == ["id", "occurred_at", "actor_kind", "actor_id"]
    assert len(rows) == len(entries) + 1
    assert rows[1][7:12] == ["Patient", str(world.patient.id), "read", "read_plan", "denied"]


def test_citizen_log_in_plain_danish(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    lines = citizen_access_log(session, world.nurse, clock, patient_id=world.patient.id)
    assert [(line.organisation, line.role, line.what) for line in lines[:2]] == [
        ("Lægehuset", "praktiserende læge", "så din udskrivningsaftale eller koordinationsplan"),
        ("Afsnit 1", "sygeplejerske", "oprettede din udskrivningsaftale eller koordinationsplan"),
    ]
    assert all(line.staff_name is None for line in lines)  # names only where the policy allows
    assert all(
        "Aalborg" not in line.organisation for line in lines
    )  # refused attempts are not accesses
    assert lines[0].at.utcoffset() == timedelta(hours=1)  # Copenhagen time in November
    named = citizen_access_log(
        session,
        world.nurse,
        clock,
        patient_id=world.patient.id,
        language="en",
        show_staff_names=True,
    )
    assert (named[0].staff_name, named[0].role, named[0].what) == (
        "Gp",
        "general practitioner",
        "viewed your discharge agreement or coordination plan",
    )
    exported = list(csv.reader(io.StringIO(citizen_log_csv(lines))))
    assert exported[0] == ["Tidspunkt", "Organisation", "Rolle", "Medarbejder", "Hvad"]


def test_citizen_log_names_every_resource_in_the_reader_s_language(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    for resource_type in ("Reminder", "SomethingNew"):
        clock.advance(timedelta(minutes=1))
        record(
            session,
            actor=world.gp,
            at=clock.now(),
            action=AuditAction.READ,
            resource_type=resource_type,
            patient_id=world.patient.id,
        )
    clock.advance(timedelta(minutes=1))
    danish = citizen_access_log(session, world.nurse, clock, patient_id=world.patient.id)
    assert [line.what for line in danish[:2]] == [
        "så dine oplysninger",
        "så en påmindelse om dit forløb",
    ]
    english = citizen_access_log(
        session, world.nurse, clock, patient_id=world.patient.id, language="en"
    )
    assert [line.what for line in english[:2]] == [
        "viewed your data",
        "viewed a reminder about your care",
    ]


def test_citizen_log_needs_a_relation(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    with pytest.raises(AccessDenied):
        citizen_access_log(session, world.other_gp, clock, patient_id=world.patient.id)
