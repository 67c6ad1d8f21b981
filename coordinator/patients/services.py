"""Use cases for patients."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import check_patient_access, require_patient_access
from coordinator.audit.services import record
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import Clock
from pathways.errors import Conflict, NotFound, ValidationFailed
from pathways.identifiers import validate_cpr
from pathways.organisations import OrganisationKind
from pathways.patients import new_patient
from pathways.people import Actor
from pathways.permissions import Permission, require


def register_patient(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    given_name: object,
    family_name: object,
    kommunekode: object,
    cpr: object = None,
    replacement_cpr: object = None,
    gp_organisation_id: int | None = None,
    is_protected: bool = False,
    purpose: str = "registration",
) -> Patient:
    require(actor, Permission.REGISTER_PATIENT)
    patient = new_patient(
        given_name=given_name,
        family_name=family_name,
        kommunekode=kommunekode,
        cpr=cpr,
        replacement_cpr=replacement_cpr,
        is_protected=is_protected,
    )
    gp = None
    if gp_organisation_id is not None:
        gp = session.get(Organisation, gp_organisation_id)
        if gp is None or gp.kind is not OrganisationKind.GP_CLINIC:
            raise ValidationFailed.single(
                "gp_organisation_id",
                f"organisation {gp_organisation_id} is not a known GP clinic",
                "unknown",
            )
    for field, value in (("cpr", patient.cpr), ("replacement_cpr", patient.replacement_cpr)):
        if value is not None:
            existing = session.scalar(sa.select(Patient.id).where(getattr(Patient, field) == value))
            if existing is not None:
                # The id is safe to show: only staff allowed to register patients get here.
                raise Conflict(
                    f"a patient with this {field.replace('_', ' ')} already exists (id {existing})"
                )
    now = clock.now()
    row = Patient(
        cpr=patient.cpr,
        replacement_cpr=patient.replacement_cpr,
        given_name=patient.given_name,
        family_name=patient.family_name,
        kommunekode=patient.kommunekode,
        gp_organisation=gp,
        is_protected=patient.is_protected,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.CREATE,
        resource_type="Patient",
        resource_id=row.id,
        patient_id=row.id,
        purpose=purpose,
    )
    return row


def registered_patient_id(
    session: Session, actor: Actor, clock: Clock, *, cpr: object
) -> int | None:
    """Whether a CPR number is registered, for those who may register patients (a conditional
    registration, If-None-Exist): the id only, which a second registration's conflict shows them
    too; no care relation needed, none given. Audited, without the number."""
    require(actor, Permission.REGISTER_PATIENT)
    clean = validate_cpr(cpr)
    patient_id = session.scalar(sa.select(Patient.id).where(Patient.cpr == clean))
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type="Patient",
        resource_id=patient_id if patient_id is not None else "",
        patient_id=patient_id,
        purpose="registration: is the CPR number registered",
        details={"found": patient_id is not None},
    )
    return patient_id


def get_patient(session: Session, actor: Actor, clock: Clock, *, patient_id: int) -> Patient:
    """One patient, for an actor with a care relation; the read is audited with the relation used."""
    decision = require_patient_access(session, actor, clock, patient_id, Permission.READ_PLAN)
    patient = session.get(Patient, patient_id)
    if patient is None:  # pragma: no cover - the gate refuses unknown patients
        raise NotFound("patient", patient_id)
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.READ,
        resource_type="Patient",
        resource_id=patient.id,
        patient_id=patient.id,
        purpose=decision.purpose,
    )
    return patient


def find_patient_by_cpr(
    session: Session, actor: Actor, clock: Clock, *, cpr: object
) -> Patient | None:
    """Look a patient up by CPR. Without a care relation the answer is the same as for an unknown number,
    so a search never reveals who is registered; every search is audited."""
    clean = validate_cpr(cpr)
    patient_id = session.scalar(sa.select(Patient.id).where(Patient.cpr == clean))
    return _found(session, actor, clock, patient_id, "search by CPR")


def find_patient_by_id(
    session: Session, actor: Actor, clock: Clock, *, patient_id: int
) -> Patient | None:
    """A search by id (the links of a CPR search name the patient this way): like a search by CPR,
    nothing without a care relation, as for an unknown id; audited."""
    known = session.scalar(sa.select(Patient.id).where(Patient.id == patient_id))
    return _found(session, actor, clock, known, "search by id")


def _found(
    session: Session, actor: Actor, clock: Clock, patient_id: int | None, purpose: str
) -> Patient | None:
    now = clock.now()
    allowed = (
        patient_id is not None
        and check_patient_access(session, actor, clock, patient_id, Permission.READ_PLAN).allowed
    )
    if not allowed:
        # A registered patient without a relation: refused (auditors see it); unknown: nothing to refuse.
        record(
            session,
            actor=actor,
            at=now,
            action=AuditAction.SEARCH,
            resource_type="Patient",
            patient_id=patient_id,
            purpose=purpose,
            details={"found": False},
            outcome=AuditOutcome.DENIED if patient_id is not None else AuditOutcome.ALLOWED,
        )
        return None
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.SEARCH,
        resource_type="Patient",
        resource_id=patient_id,
        patient_id=patient_id,
        purpose=purpose,
        details={"found": True},
    )
    return session.get(Patient, patient_id)
