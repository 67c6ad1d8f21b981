"""Use cases for patients."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from coordinator.access.services import check_patient_access, require_patient_access
from coordinator.audit.services import record
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.plans.parties import follow_general_practitioner
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import Clock
from pathways.errors import (
    Conflict,
    ErrorCollector,
    NotFound,
    StaleVersion,
    ValidationFailed,
    VersionRequired,
)
from pathways.identifiers import validate_cpr
from pathways.organisations import OrganisationKind
from pathways.patients import new_patient
from pathways.people import Actor
from pathways.permissions import Permission, require
from pathways.plans import MAX_MISSING_PARTY_REASON


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
    gp = _gp_clinic(session, gp_organisation_id) if gp_organisation_id is not None else None
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


def _gp_clinic(session: Session, organisation_id: object) -> Organisation:
    gp = (
        session.get(Organisation, organisation_id)
        if isinstance(organisation_id, int) and not isinstance(organisation_id, bool)
        else None
    )
    if gp is None or gp.kind is not OrganisationKind.GP_CLINIC or not gp.is_active:
        raise ValidationFailed.single(
            "gp_organisation_id",
            f"organisation {organisation_id} is not a known GP clinic",
            "unknown",
        )
    return gp


def patient_for_update(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    patient_id: int,
    expected_version: int | None = None,
) -> Patient:
    """The patient, for a caller who may change the registration (the access gate first, then the
    version: a stale version never tells a stranger the current one). Not audited: the change is."""
    require_patient_access(session, actor, clock, patient_id, Permission.REGISTER_PATIENT)
    patient = session.get(Patient, patient_id)
    if patient is None:  # pragma: no cover - the gate refuses unknown patients
        raise NotFound("patient", patient_id)
    if expected_version is None:  # told only after access
        raise VersionRequired("patient")
    if patient.version != expected_version:
        raise StaleVersion("patient", expected_version, patient.version)
    return patient


def set_general_practitioner(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    patient_id: int,
    gp_organisation_id: int | None,
    reason: object = "",
    expected_version: int | None = None,
    version_required: bool = False,
) -> Patient:
    """Set, change or clear the patient's GP clinic (a patient admitted by MedCom arrives without one).

    Needs a care relation that allows keeping the patient's registration (the access gate, audited when
    refused). Clearing needs the reason the patient has no GP ("patienten har ingen egen læge"), which is
    kept and recorded on the plans that then lack their GP party. The plans not agreed yet follow the
    change (``plans.parties.follow_general_practitioner``). An unchanged GP changes nothing."""
    decision = require_patient_access(
        session, actor, clock, patient_id, Permission.REGISTER_PATIENT
    )
    patient = session.get(Patient, patient_id)
    if patient is None:  # pragma: no cover - the gate refuses unknown patients
        raise NotFound("patient", patient_id)
    if version_required and expected_version is None:  # told only after access
        raise VersionRequired("patient")
    errors = ErrorCollector()
    text = errors.text("reason", reason, required=False, max_length=MAX_MISSING_PARTY_REASON)
    if gp_organisation_id is None and not text:
        errors.add(
            "reason",
            "say why the patient has no GP (e.g. the patient has no GP of their own)",
            "required",
        )
    if gp_organisation_id is not None and text:
        errors.add("reason", "a reason is given only when the patient has no GP")
    errors.raise_if_any()
    gp = _gp_clinic(session, gp_organisation_id) if gp_organisation_id is not None else None
    if expected_version is not None and patient.version != expected_version:
        raise StaleVersion("patient", expected_version, patient.version)
    new_id = gp.id if gp is not None else None
    if (patient.gp_organisation_id, patient.gp_absent_reason) == (new_id, text):
        return patient
    now = clock.now()
    previous = patient.gp_organisation_id
    patient.gp_organisation = gp
    patient.gp_organisation_id = new_id
    patient.gp_absent_reason = text
    patient.updated_at = now
    try:
        session.flush()
    except StaleDataError:
        raise StaleVersion("patient", expected_version or 0, (expected_version or 0) + 1) from None
    plans = follow_general_practitioner(session, actor, now, patient)
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="Patient",
        resource_id=patient.id,
        patient_id=patient.id,
        purpose=decision.purpose,
        details={
            "field": "general_practitioner",
            "from": previous,
            "to": new_id,
            "has_reason": bool(text),
            "plans": [p.id for p in plans],
        },
    )
    return patient


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
