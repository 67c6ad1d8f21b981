"""Care relations from the database, access decisions, and emergency access.

``require_patient_access`` is the one gate every use case on patient data passes. A refusal raises
``AccessDenied`` carrying the audit entry to keep: the edge (view, API, FHIR) rolls back the unit of work and
then persists the denial, so a refused attempt is logged even though nothing else is written.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.models import EmergencyAccess
from coordinator.accounts.models import User
from coordinator.audit.services import record
from coordinator.care_pathways.models import Pathway
from coordinator.contacts.models import ContactAssignment
from coordinator.db import UTCDateTime, from_json_day, from_json_time, json_rows
from coordinator.organisations.lineage import acts_for
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.plans.models import Plan, PlanParticipant
from pathways.access import (
    MAX_EMERGENCY,
    MIN_REASON_LENGTH,
    AccessDecision,
    CareRelation,
    Refusal,
    RelationKind,
    decide,
    role_refusal,
)
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import COPENHAGEN, Clock
from pathways.errors import (
    DomainError,
    ErrorCollector,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
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
    """A refused access to patient data, with what the audit log must keep about it: the patient (None
    when the id named none), what was asked for (the patient itself unless ``resource_type`` says
    otherwise) and the real reason, which the caller is not always told."""

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
        resource_type: str = "Patient",
        resource_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.actor = actor
        self.patient_id = patient_id
        self.permission = permission
        self.reason = reason
        self.at = at
        self.resource_type = resource_type
        self.resource_id = resource_id if resource_id is not None else patient_id


class RecipientRefused(ValidationFailed, AccessDenied):
    """§13c: information about a patient may be shared only with an organisation that has a part in the
    patient's care. The caller is told which field is wrong (422, like any bad input); the refusal is kept
    in the audit log as DENIED, like every refused access (the edge records it after the rollback)."""

    code = "recipient-refused"

    def __init__(
        self,
        *,
        actor: Actor,
        patient_id: int,
        organisation_id: int,
        organisation_name: str,
        resource_type: str,
        resource_id: int,
        at: datetime,
    ) -> None:
        message = (
            f"{organisation_name} has no part in this patient's care: nothing may be shared (§13c)"
        )
        AccessDenied.__init__(
            self,
            message,
            actor=actor,
            patient_id=patient_id,
            permission=Permission.READ_PLAN,
            reason=f"share with organisation {organisation_id}, which has no part in the care",
            at=at,
            resource_type=resource_type,
            resource_id=resource_id,
        )
        self.errors = (FieldError("organisation_id", message, "forbidden"),)


def require_share_recipient(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    patient: Patient,
    organisation_id: int,
    organisation_name: str,
    resource_type: str,
    resource_id: int,
) -> None:
    """The one rule for every disclosure to another organisation (a plan, a reminder): the receiver must
    have a part in the patient's care (``related_organisations``); else ``RecipientRefused``."""
    if organisation_id not in related_organisations(session, patient):
        raise RecipientRefused(
            actor=actor,
            patient_id=patient.id,
            organisation_id=organisation_id,
            organisation_name=organisation_name,
            resource_type=resource_type,
            resource_id=resource_id,
            at=clock.now(),
        )


def persist_denial(session: Session, exc: AccessDenied) -> None:
    """Write the denial after the caller rolled back its unit of work (then the caller commits)."""
    record(
        session,
        actor=exc.actor,
        at=exc.at,
        action=AuditAction.EXPORT
        if isinstance(exc, RecipientRefused)
        else _action_for(exc.permission),
        resource_type=exc.resource_type,
        resource_id=exc.resource_id or "",
        patient_id=exc.patient_id,
        outcome=AuditOutcome.DENIED,
        purpose=exc.permission.value,
        details={"reason": exc.reason},
    )


def _action_for(permission: Permission) -> AuditAction:
    return AuditAction.READ if permission is Permission.READ_PLAN else AuditAction.UPDATE


@functools.cache
def _relations_query(with_emergency: bool, *, correlated: bool = False) -> sa.CompoundSelect:
    """Every organisation related to a patient, in one UNION ALL (one round trip per access check). Built
    once per variant, with the patient, its municipality and the user as bound parameters; ``correlated``
    takes the patient and its municipality from the ``patients`` row of an enclosing statement instead."""
    patient_id: Any = Patient.id if correlated else sa.bindparam("patient_id", type_=sa.Integer)
    kommunekode: Any = (
        Patient.kommunekode if correlated else sa.bindparam("kommunekode", type_=sa.String)
    )
    no_time = sa.cast(sa.null(), UTCDateTime())
    no_day = sa.cast(sa.null(), sa.Date())
    no_text = sa.cast(sa.null(), sa.String())

    def kind(value: RelationKind) -> sa.ColumnElement[str]:
        return sa.cast(sa.literal(value.value), sa.String(20))

    stays = sa.select(
        kind(RelationKind.WARD_STAY).label("kind"),
        Pathway.ward_id.label("org_id"),
        Pathway.admitted_at.label("started"),
        Pathway.closed_at.label("ended"),
        no_day.label("valid_from"),
        no_day.label("valid_to"),
        Pathway.id.label("ref"),
        no_text.label("note"),
    ).where(Pathway.patient_id == patient_id)
    municipalities = sa.select(
        kind(RelationKind.MUNICIPAL_CASE),
        Organisation.id,
        no_time,
        no_time,
        no_day,
        no_day,
        Organisation.id,
        no_text,
    ).where(
        Organisation.kind == OrganisationKind.MUNICIPALITY,
        Organisation.kommunekode == kommunekode,
    )
    parties = (
        sa.select(
            kind(RelationKind.PLAN_PARTY),
            PlanParticipant.organisation_id,
            Plan.created_at,
            Plan.ended_at,
            no_day,
            no_day,
            Plan.id,
            no_text,
        )
        .join(Plan, Plan.id == PlanParticipant.plan_id)
        .where(Plan.patient_id == patient_id, PlanParticipant.organisation_id.is_not(None))
    )
    contacts = sa.select(
        kind(RelationKind.CONTACT_PERSON),
        ContactAssignment.organisation_id,
        no_time,
        no_time,
        ContactAssignment.valid_from,
        ContactAssignment.valid_to,
        ContactAssignment.id,
        no_text,
    ).where(ContactAssignment.patient_id == patient_id)
    parts = [stays, municipalities, parties, contacts]
    if with_emergency:
        parts.append(
            sa.select(
                kind(RelationKind.EMERGENCY),
                EmergencyAccess.organisation_id,
                EmergencyAccess.granted_at,
                EmergencyAccess.expires_at,
                no_day,
                no_day,
                EmergencyAccess.id,
                EmergencyAccess.reason,
            ).where(
                EmergencyAccess.patient_id == patient_id,
                EmergencyAccess.user_id == sa.bindparam("user_id", type_=sa.Integer),
            )
        )
    if correlated:
        parts = [part.correlate(Patient) for part in parts]
    return sa.union_all(*parts)


def _relation_rows(session: Session, actor: Actor, patient: Patient) -> sa.Result[Any]:
    """Every organisation related to the patient (emergency access only for a user: it is personal)."""
    personal = actor.kind is ActorKind.USER and actor.id is not None
    return session.execute(
        _relations_query(personal),
        {"patient_id": patient.id, "kommunekode": patient.kommunekode, "user_id": actor.id},
    )


def related_organisations(session: Session, patient: Patient) -> set[int]:
    """Every organisation with a part in the patient's care, current or ended (stays, the home
    municipality, plan parties, fixed contacts, the GP): whom information about the patient may be
    shared with (§13c), before the purpose is weighed."""
    rows = session.execute(
        _relations_query(False), {"patient_id": patient.id, "kommunekode": patient.kommunekode}
    )
    found = {row.org_id for row in rows if row.org_id is not None}
    if patient.gp_organisation_id is not None:
        found.add(patient.gp_organisation_id)
    return found


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=COPENHAGEN)


class PatientFacts(Protocol):
    """What the access decision reads of a patient: a ``Patient`` row, or the same columns read beside
    the data (coordinator.plans.reads)."""

    @property
    def id(self) -> int: ...
    @property
    def kommunekode(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def gp_organisation_id(self) -> int | None: ...


class RelationRow(NamedTuple):
    """One organisation related to a patient, as ``_relations_query`` answers it."""

    kind: str
    org_id: int | None
    started: datetime | None
    ended: datetime | None
    valid_from: date | None
    valid_to: date | None
    ref: int
    note: str | None


def care_relations(session: Session, actor: Actor, patient: Patient) -> list[CareRelation]:
    """Every relation between the actor's organisation and the patient, current or ended."""
    return relations_from_rows(session, actor, patient, _relation_rows(session, actor, patient))


def relations_from_rows(
    session: Session, actor: Actor, patient: PatientFacts, rows: Iterable[Any]
) -> list[CareRelation]:
    """The actor's relations to the patient among the patient's related organisations (``rows``: the
    shape of ``RelationRow``, from ``_relations_query`` or from ``relation_rows_json``)."""
    relations: list[CareRelation] = []
    for row in rows:
        relation_kind = RelationKind(row.kind)
        if relation_kind is not RelationKind.EMERGENCY and not acts_for(session, actor, row.org_id):
            continue  # emergency access is personal: it counts whatever the organisation
        started, ended, reference = row.started, row.ended, ""
        match relation_kind:
            case RelationKind.WARD_STAY:
                reference = f"pathway {row.ref}"
            case RelationKind.MUNICIPAL_CASE:
                started, reference = patient.created_at, f"kommunekode {patient.kommunekode}"
            case RelationKind.PLAN_PARTY:
                reference = f"plan {row.ref}"
            case RelationKind.CONTACT_PERSON:
                started = _local_midnight(row.valid_from)
                ended = _local_midnight(row.valid_to + timedelta(days=1)) if row.valid_to else None
                reference = f"contact {row.ref}"
            case RelationKind.EMERGENCY:
                reference = f"emergency access {row.ref}: {row.note}"
        relations.append(CareRelation(relation_kind, row.org_id, started, ended, reference))
    if patient.gp_organisation_id is not None and acts_for(
        session, actor, patient.gp_organisation_id
    ):
        relations.append(
            CareRelation(
                RelationKind.GENERAL_PRACTICE,
                patient.gp_organisation_id,
                patient.created_at,
                None,
                "patient's GP",
            )
        )
    relations.sort(key=lambda r: _RELATION_ORDER.index(r.kind))
    return relations


@functools.cache
def relations_json(with_emergency: bool) -> sa.ScalarSelect[Any]:
    """The patient's related organisations as one JSON column (``db.json_rows``) of a statement that
    has ``patients`` in its FROM: the same rows as ``_relations_query`` (emergency access only
    ``with_emergency``: for a user, with ``user_id`` bound), correlated to that patient, so that the
    access decision needs no round trip of its own. Read back with ``relation_rows_json``."""
    related = _relations_query(with_emergency, correlated=True).subquery("related")
    c = related.c
    return (
        sa.select(
            json_rows(
                "kind", c.kind, "org_id", c.org_id, "started", c.started, "ended", c.ended,
                "valid_from", c.valid_from, "valid_to", c.valid_to, "ref", c.ref, "note", c.note,
            )
        )
        .select_from(related)
        .scalar_subquery()
    )  # fmt: skip


def relation_rows_json(found: list[dict[str, Any]] | None) -> list[RelationRow]:
    """The rows of ``relations_json`` as ``RelationRow``s (timestamps and days parsed back)."""
    return [
        RelationRow(
            kind=item["kind"],
            org_id=item["org_id"],
            started=from_json_time(item["started"]),
            ended=from_json_time(item["ended"]),
            valid_from=from_json_day(item["valid_from"]),
            valid_to=from_json_day(item["valid_to"]),
            ref=item["ref"],
            note=item["note"],
        )
        for item in found or ()
    ]


# The order in which relations are named (the first current one is the one the audit entry cites).
_RELATION_ORDER = (
    RelationKind.WARD_STAY,
    RelationKind.MUNICIPAL_CASE,
    RelationKind.GENERAL_PRACTICE,
    RelationKind.PLAN_PARTY,
    RelationKind.CONTACT_PERSON,
    RelationKind.EMERGENCY,
)


def _grace(session: Session) -> timedelta:
    grace: timedelta = session.info.get("access_grace", DEFAULT_GRACE)
    return grace


def check_patient_access(
    session: Session, actor: Actor, clock: Clock, patient_id: int, permission: Permission
) -> AccessDecision:
    patient = session.get(Patient, patient_id)
    if patient is None:
        if actor.kind is ActorKind.SYSTEM:
            raise NotFound("patient", patient_id)
        return _unknown(session, actor, clock, permission, "no such patient")
    return decide(
        actor,
        permission,
        care_relations(session, actor, patient),
        now=clock.now(),
        grace=_grace(session),
    )


def unknown_patient(
    session: Session, actor: Actor, clock: Clock, patient_id: int, permission: Permission
) -> DomainError:
    """What ``require_patient_access`` raises for a patient id that names no one: NotFound for jobs and
    commands, else the refusal someone else's patient gets (the audit entry keeps the real reason)."""
    if actor.kind is ActorKind.SYSTEM:
        return NotFound("patient", patient_id)
    decision = _unknown(session, actor, clock, permission, "no such patient")
    return AccessDenied(
        refusal_message(actor, permission, decision),
        actor=actor,
        patient_id=patient_id,
        permission=permission,
        reason=decision.reason,
        at=clock.now(),
        resource_type="Patient",
        resource_id=patient_id,
    )


def _unknown(
    session: Session, actor: Actor, clock: Clock, permission: Permission, reason: str
) -> AccessDecision:
    """The decision for an id that names nothing: what the actor would be told for someone else's
    patient (the role first, then 'no relation'), with the real reason kept for the audit log."""
    decision = decide(actor, permission, (), now=clock.now(), grace=_grace(session))
    if decision.refusal is Refusal.RELATION:
        return replace(decision, reason=reason)
    return decision


def refusal_message(actor: Actor, permission: Permission, decision: AccessDecision) -> str:
    """What the caller is told: the rule about the caller (role, token scope) when that is why, else the
    one message for 'no such patient' and 'not your patient'."""
    if decision.refusal is Refusal.ROLE:
        return role_refusal(actor, permission)
    if decision.refusal is Refusal.SCOPE:
        return decision.reason
    return NO_ACCESS


def require_patient_access(
    session: Session,
    actor: Actor,
    clock: Clock,
    patient_id: int,
    permission: Permission,
    *,
    resource: tuple[str, int] | None = None,
) -> AccessDecision:
    """The gate: allowed -> the decision (its ``purpose`` goes into the audit entry); refused -> AccessDenied.
    ``resource`` names what was asked for (type and id) when it is not the patient itself."""
    decision = check_patient_access(session, actor, clock, patient_id, permission)
    return _allowed(actor, clock, patient_id, decision, permission=permission, resource=resource)


def require_access_from_rows(
    session: Session,
    actor: Actor,
    clock: Clock,
    patient: PatientFacts,
    relations: Iterable[Any],
    *,
    permission: Permission,
    resource: tuple[str, int] | None = None,
) -> AccessDecision:
    """``require_patient_access`` for a read that fetched the patient's related organisations
    (``relations_json``) in the same statement as its data: the same decision, the same refusal."""
    decision = decide(
        actor,
        permission,
        relations_from_rows(session, actor, patient, relations),
        now=clock.now(),
        grace=_grace(session),
    )
    return _allowed(actor, clock, patient.id, decision, permission=permission, resource=resource)


def _allowed(
    actor: Actor,
    clock: Clock,
    patient_id: int,
    decision: AccessDecision,
    *,
    permission: Permission,
    resource: tuple[str, int] | None,
) -> AccessDecision:
    if not decision.allowed:
        resource_type, resource_id = resource or ("Patient", patient_id)
        raise AccessDenied(
            refusal_message(actor, permission, decision),
            actor=actor,
            patient_id=patient_id,
            permission=permission,
            reason=decision.reason,
            at=clock.now(),
            resource_type=resource_type,
            resource_id=resource_id,
        )
    return decision


def refuse_unknown(
    session: Session,
    actor: Actor,
    clock: Clock,
    permission: Permission,
    *,
    entity: str,
    resource_type: str,
    key: int,
) -> DomainError:
    """The error for an id that names no record of a patient (plan, pathway...): for people and system
    clients the very refusal they would get for someone else's record, so that a refusal never tells
    which ids exist; the audit entry keeps the real reason. Jobs and commands (system actors) may see
    everything, so they are simply told it does not exist."""
    if actor.kind is ActorKind.SYSTEM:
        return NotFound(entity, key)
    decision = _unknown(session, actor, clock, permission, f"no such {entity}")
    return AccessDenied(
        refusal_message(actor, permission, decision),
        actor=actor,
        patient_id=None,
        permission=permission,
        reason=decision.reason,
        at=clock.now(),
        resource_type=resource_type,
        resource_id=key,
    )


def require_acting_for(
    session: Session,
    actor: Actor,
    clock: Clock,
    permission: Permission,
    *,
    organisation_id: int | None,
    refusal: str,
    reason: str,
    patient_id: int | None,
    resource: tuple[str, int],
) -> None:
    """The gate for a write that belongs to one organisation (a stay's events belong to its ward): the
    role and token scope first (named, as by require_patient_access), then acting for the organisation
    (its own staff, a unit above or below it: ``acts_for``). ``organisation_id`` None (the record does not
    exist) gets the very ``refusal`` someone else's record gets; the audit entry keeps ``reason``. Jobs
    and commands (system actors) pass."""
    if actor.kind is ActorKind.SYSTEM:
        return
    decision = decide(actor, permission, (), now=clock.now(), grace=_grace(session))
    if decision.refusal in (Refusal.ROLE, Refusal.SCOPE):
        message, why = refusal_message(actor, permission, decision), decision.reason
    elif organisation_id is None or not acts_for(session, actor, organisation_id):
        message, why = refusal, reason
    else:
        return
    resource_type, resource_id = resource
    raise AccessDenied(
        message,
        actor=actor,
        patient_id=patient_id,
        permission=permission,
        reason=why,
        at=clock.now(),
        resource_type=resource_type,
        resource_id=resource_id,
    )


# ---------------------------------------------------------------------------- emergency access
def may_take_emergency_access(actor: Actor) -> bool:
    """Whether the actor's role allows breaking the glass (a person, clinical staff): what a page offers."""
    return actor.kind is ActorKind.USER and actor.role in _EMERGENCY_ROLES and actor.id is not None


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
    if not may_take_emergency_access(actor):
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
    grant.reviewed_by_id = actor.user_id
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


@dataclass(frozen=True, slots=True)
class EmergencyAccessForReview:
    """One unreviewed emergency access as the reviewer sees it: who, where, which patient (by id), why."""

    id: int
    user_name: str
    organisation_name: str
    patient_id: int
    reason: str
    granted_at: datetime
    expires_at: datetime


def emergency_access_for_review(
    session: Session, actor: Actor, clock: Clock
) -> list[EmergencyAccessForReview]:
    """The emergency accesses no auditor has reviewed yet, oldest first, for auditors and system
    administrators; reading the list (it names patients) is audited."""
    if actor.kind is not ActorKind.SYSTEM and actor.role not in (Role.AUDITOR, Role.SYSTEM_ADMIN):
        raise PermissionDenied("only auditors review emergency access")
    rows = session.execute(
        sa.select(EmergencyAccess, User.name, Organisation.name)
        .join(User, User.id == EmergencyAccess.user_id)
        .join(Organisation, Organisation.id == EmergencyAccess.organisation_id)
        .where(EmergencyAccess.reviewed_at.is_(None))
        .order_by(EmergencyAccess.granted_at, EmergencyAccess.id)
    ).all()
    found = [
        EmergencyAccessForReview(
            id=grant.id,
            user_name=user_name,
            organisation_name=organisation_name,
            patient_id=grant.patient_id,
            reason=grant.reason,
            granted_at=grant.granted_at,
            expires_at=grant.expires_at,
        )
        for grant, user_name, organisation_name in rows
    ]
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type="EmergencyAccess",
        purpose="review emergency access",
        details={"unreviewed": True, "count": len(found)},
    )
    return found
