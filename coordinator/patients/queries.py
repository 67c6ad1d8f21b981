"""The read side of a patient for the people who care for them: the header of the patient page (name, age,
home municipality, GP clinic) and the audited reveal of the whole CPR number.

Both pass the access gate (§13c) and are audited; the whole CPR number is read only on purpose, so each
reveal is its own audit row ("reveal CPR")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import require_patient_access
from coordinator.audit.services import record
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.patients.services import get_patient
from pathways.audit import AuditAction
from pathways.clock import COPENHAGEN, Clock
from pathways.errors import NotFound
from pathways.geography import MUNICIPALITIES
from pathways.identifiers import cpr_birth_date
from pathways.organisations import OrganisationKind
from pathways.people import Actor
from pathways.permissions import Permission

REVEAL_CPR = "reveal CPR"


@dataclass(frozen=True, slots=True)
class PatientHeader:
    """Who the patient is, as the top of the patient page shows it (the CPR number masked there)."""

    patient: Patient
    age: int | None  # from the CPR number's birth date; None with a replacement number only
    municipality_name: str
    gp_name: str  # empty when the GP clinic is unknown


def age_on(birth_date: date, today: date) -> int:
    """Whole years lived on ``today``."""
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


def patient_header(
    session: Session, actor: Actor, clock: Clock, *, patient_id: int
) -> PatientHeader:
    """The patient page's header, for an actor with a care relation (the read is audited by get_patient)."""
    patient = get_patient(session, actor, clock, patient_id=patient_id)
    today = clock.now().astimezone(COPENHAGEN).date()
    age = age_on(cpr_birth_date(patient.cpr), today) if patient.cpr else None
    municipality_name = session.scalar(
        sa.select(Organisation.name)
        .where(
            Organisation.kind == OrganisationKind.MUNICIPALITY,
            Organisation.kommunekode == patient.kommunekode,
        )
        .order_by(Organisation.id)
        .limit(1)
    )
    if municipality_name is None:
        known = MUNICIPALITIES.get(patient.kommunekode)
        municipality_name = known.name if known is not None else patient.kommunekode
    gp = patient.gp_organisation
    return PatientHeader(patient, age, municipality_name, gp.name if gp is not None else "")


def reveal_cpr(session: Session, actor: Actor, clock: Clock, *, patient_id: int) -> str:
    """The patient's whole CPR number (or replacement number), for an actor with a care relation who
    asks for it; every reveal is audited with the purpose "reveal CPR"."""
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
        purpose=REVEAL_CPR,
        details={"field": "cpr", "relation": decision.purpose},
    )
    return patient.cpr or patient.replacement_cpr or ""
