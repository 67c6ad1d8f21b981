"""Use cases for patients."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.services import record
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import Conflict, ValidationFailed
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
