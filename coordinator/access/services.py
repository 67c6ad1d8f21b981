"""Care relations from the database, access decisions, and emergency access.

``require_patient_access`` is the one gate every use case on patient data passes. A refusal raises
``AccessDenied`` carrying the audit entry to keep: the edge (view, API, FHIR) rolls back the unit of work and
then persists the denial, so a refused attempt is logged even though nothing else is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.models import EmergencyAccess
from coordinator.audit.services import record
from coordinator.care_pathways.models import Pathway
from coordinator.contacts.models import ContactAssignment
from coordinator.organisations.lineage import acts_for
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.plans.models import Plan, PlanParticipant
from pathways.access import (
    MAX_EMERGENCY,
    MIN_REASON_LENGTH,
    AccessDecision,
    CareRelation,
    RelationKind,
    decide,
)
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import COPENHAGEN, Clock
from pathways.errors import ErrorCollector, NotFound, PermissionDenied
from pathways.organisations import OrganisationKind
from pathways.people import Actor, ActorKind, Role
from pathways.permissions import Permission

DEFAULT_GRACE = timedelta(days=30)
_EMERGENCY_ROLES = frozenset(
    {Role.DISCHARGE_NURSE, Role.CHIEF_PHYSICIAN, Role.WARD_STAFF, Role.CASE_WORKER, Role.GP}
)
# One message for "no such patient" and "not your patient": a refusal never reveals who is registered.
NO_ACCESS = "you have no care relation to this patient"


class AccessDenied(PermissionDenied):
    """A refused access to patient data, with what the audit log must keep about it."""

    code = "access-denied"

    def __init__(
        self,
        message: str,
        *,
        actor: Actor,
        patient_id: int | None,
        permission: Permission,
        reason: str,
        at: datetime,
    ) -> None:
        super().__init__(message)
        self.actor = actor
        self.patient_id = patient_id
        self.permission = permission
        self.reason = reason
        self.at = at


def persist_denial(session: Session, exc: AccessDenied) -> None:
    """Write the denial after the caller rolled back its unit of work (then the caller commits)."""
    record(
        session,
        actor=exc.actor,
        at=exc.at,
        action=_action_for(exc.permission),
        resource_type="Patient",
        resource_id=exc.patient_id or "",
        patient_id=exc.patient_id,
        outcome=AuditOutcome.DENIED,
        purpose=exc.permission.value,
        details={"reason": exc.reason},
    )


def _action_for(permission: Permission) -> AuditAction:
    return AuditAction.READ if permission is Permission.READ_PLAN else AuditAction.UPDATE


def care_relations(session: Session, actor: Actor, patient: Patient) -> list[CareRelation]:
    """Every relation between the actor's organisation and the patient, current or ended."""
    relations: list[CareRelation] = []

    def add(
        kind: RelationKind,
        org_id: int | None,
        started: datetime,
        ended: datetime | None,
        reference: str,
    ) -> None:
        if acts_for(session, actor, org_id):
            relations.append(CareRelation(kind, org_id, started, ended, reference))

    for pathway in session.scalars(sa.select(Pathway).where(Pathway.patient_id == patient.id)):
        add(
            RelationKind.WARD_STAY,
            pathway.ward_id,
            pathway.admitted_at,
            pathway.closed_at,
            f"pathway {pathway.id}",
        )
    municipalities = session.scalars(
        sa.select(Organisation).where(
            Organisation.kind == OrganisationKind.MUNICIPALITY,
            Organisation.kommunekode == patient.kommunekode,
        )
    )
    for municipality in municipalities:
        add(
            RelationKind.MUNICIPAL_CASE,
            municipality.id,
            patient.created_at,
            None,
            f"kommunekode {patient.kommunekode}",
        )
    if patient.gp_organisation_id is not None:
        add(
            RelationKind.GENERAL_PRACTICE,
            patient.gp_organisation_id,
            patient.created_at,
            None,
            "patient's GP",
        )
    parties = session.execute(
        sa.select(PlanParticipant.organisation_id, Plan.id, Plan.created_at, Plan.ended_at)
        .join(Plan, Plan.id == PlanParticipant.plan_id)
        .where(Plan.patient_id == patient.id, PlanParticipant.organisation_id.is_not(None))
    )
    for org_id, plan_id, created_at, ended_at in parties:
        add(RelationKind.PLAN_PARTY, org_id, created_at, ended_at, f"plan {plan_id}")
    for contact in session.scalars(
        sa.select(ContactAssignment).where(ContactAssignment.patient_id == patient.id)
    ):
        ended = (
            datetime.combine(
                contact.valid_to + timedelta(days=1), datetime.min.time(), tzinfo=COPENHAGEN
            )
            if contact.valid_to
            else None
        )
        started = datetime.combine(contact.valid_from, datetime.min.time(), tzinfo=COPENHAGEN)
        add(
            RelationKind.CONTACT_PERSON,
            contact.organisation_id,
            started,
            ended,
            f"contact {contact.id}",
        )
    if actor.kind is ActorKind.USER and actor.id is not None:
        grants = session.scalars(
            sa.select(EmergencyAccess).where(
                EmergencyAccess.patient_id == patient.id, EmergencyAccess.user_id == actor.id
            )
        )
        relations.extend(
            CareRelation(
                RelationKind.EMERGENCY,
                g.organisation_id,
                g.granted_at,
                g.expires_at,
                f"emergency access {g.id}: {g.reason}",
            )
            for g in grants
        )
    return relations


def _grace(session: Session) -> timedelta:
    return session.info.get("access_grace", DEFAULT_GRACE)  # type: ignore[no-any-return]


def check_patient_access(
    session: Session, actor: Actor, clock: Clock, patient_id: int, permission: Permission
) -> AccessDecision:
    patient = session.get(Patient, patient_id)
    if patient is None:
        if actor.kind is ActorKind.SYSTEM:
            raise NotFound("patient", patient_id)
        return AccessDecision(False, "no such patient")
    return decide(
        actor,
        permission,
        care_relations(session, actor, patient),
        now=clock.now(),
        grace=_grace(session),
    )


def require_patient_access(
    session: Session, actor: Actor, clock: Clock, patient_id: int, permission: Permission
) -> AccessDecision:
    """The gate: allowed -> the decision (its ``purpose`` goes into the audit entry); refused -> AccessDenied."""
    decision = check_patient_access(session, actor, clock, patient_id, permission)
    if not decision.allowed:
        raise AccessDenied(
            NO_ACCESS,
            actor=actor,
            patient_id=patient_id,
            permission=permission,
            reason=decision.reason,
            at=clock.now(),
        )
    return decision


# ---------------------------------------------------------------------------- emergency access
def grant_emergency_access(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    patient_id: int,
    reason: str,
    duration: timedelta = timedelta(hours=4),
) -> EmergencyAccess:
    """Break the glass: a clinician without a relation gets time-limited access, flagged for review."""
    errors = ErrorCollector()
    text = errors.text("reason", reason, max_length=500)
    if text and len(text) < MIN_REASON_LENGTH:
        errors.add(
            "reason",
            f"explain the emergency in at least {MIN_REASON_LENGTH} characters",
            "too-short",
        )
    if not timedelta(0) < duration <= MAX_EMERGENCY:
        errors.add(
            "duration",
            f"emergency access lasts at most {int(MAX_EMERGENCY.total_seconds() // 3600)} hours",
        )
    errors.raise_if_any()
    now = clock.now()
    if actor.kind is not ActorKind.USER or actor.role not in _EMERGENCY_ROLES or actor.id is None:
        raise AccessDenied(
            "only clinical staff can use emergency access",
            actor=actor,
            patient_id=patient_id,
            permission=Permission.READ_PLAN,
            reason="emergency access refused by role",
            at=now,
        )
    if session.get(Patient, patient_id) is None:
        raise AccessDenied(
            NO_ACCESS,
            actor=actor,
            patient_id=patient_id,
            permission=Permission.READ_PLAN,
            reason="no such patient",
            at=now,
        )
    assert actor.organisation_id is not None
    grant = EmergencyAccess(
        user_id=actor.id,
        organisation_id=actor.organisation_id,
        patient_id=patient_id,
        reason=text,
        granted_at=now,
        expires_at=now + duration,
    )
    session.add(grant)
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.CREATE,
        resource_type="EmergencyAccess",
        resource_id=grant.id,
        patient_id=patient_id,
        purpose=f"emergency: {text}",
        details={"expires_at": grant.expires_at.isoformat(), "needs_review": True},
    )
    return grant


def review_emergency_access(
    session: Session, actor: Actor, clock: Clock, *, grant_id: int, note: str
) -> EmergencyAccess:
    if actor.kind is not ActorKind.SYSTEM and actor.role not in (Role.AUDITOR, Role.SYSTEM_ADMIN):
        raise PermissionDenied("only auditors review emergency access")
    grant = session.get(EmergencyAccess, grant_id)
    if grant is None:
        raise NotFound("emergency access", grant_id)
    errors = ErrorCollector()
    text = errors.text("note", note, max_length=500)
    errors.raise_if_any()
    now = clock.now()
    grant.reviewed_at = now
    grant.reviewed_by_id = actor.id
    grant.review_note = text
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="EmergencyAccess",
        resource_id=grant.id,
        patient_id=grant.patient_id,
        purpose="review emergency access",
    )
    return grant


def unreviewed_emergency_access(session: Session) -> list[EmergencyAccess]:
    return list(
        session.scalars(
            sa.select(EmergencyAccess)
            .where(EmergencyAccess.reviewed_at.is_(None))
            .order_by(EmergencyAccess.granted_at)
        )
    )
