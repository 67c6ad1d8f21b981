"""Use cases for a patient's pathway: admission, leave, discharge, follow-up."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from coordinator.access.services import refuse_unknown, require_acting_for, require_patient_access
from coordinator.audit.services import record
from coordinator.care_pathways.models import LeavePeriod, Pathway, PathwayEvent
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.plans.services import activate_agreed_plans
from pathways.audit import AuditAction
from pathways.clock import Clock, ensure_utc
from pathways.errors import Conflict, NotFound, ValidationFailed
from pathways.organisations import OrganisationKind
from pathways.people import Actor, ActorKind
from pathways.permissions import Permission
from pathways.stays import (
    EncounterClass,
    EventSource,
    PathwayEventType,
    PathwayStatus,
    next_status,
)

# Plans activated by a discharge are activated by the system on the strength of the discharge event.
_DISCHARGE_ACTOR = Actor.system("discharge")
# The one answer for someone else's stay and for an id that names no stay: it never tells which exist.
STAY_WARD_ONLY = "only staff acting for the stay's ward may record events on the stay"


def _require_stay_ward(
    session: Session, actor: Actor, clock: Clock, pathway_id: int, pathway: Pathway | None
) -> Pathway:
    """The stay, once ``actor`` may record events on it: by role, then by acting for the stay's ward (or a
    unit above it). An unknown id gets the refusal someone else's stay gets (audited DENIED with the real
    reason); jobs and commands are told it does not exist."""
    if pathway is None and actor.kind is ActorKind.SYSTEM:
        raise NotFound("pathway", pathway_id)
    require_acting_for(
        session,
        actor,
        clock,
        Permission.RECORD_PATHWAY_EVENT,
        organisation_id=pathway.ward_id if pathway else None,
        refusal=STAY_WARD_ONLY,
        reason=f"does not act for the stay's ward {pathway.ward_id}"
        if pathway
        else "no such pathway",
        patient_id=pathway.patient_id if pathway else None,
        resource=("Pathway", pathway_id),
    )
    assert pathway is not None  # refused above otherwise
    return pathway


def _existing_event(session: Session, idempotency_key: str) -> PathwayEvent | None:
    return session.scalar(
        sa.select(PathwayEvent).where(PathwayEvent.idempotency_key == idempotency_key)
    )


def admit_patient(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    patient_id: int,
    ward_id: int,
    admitted_at: datetime,
    idempotency_key: str,
    source: EventSource = EventSource.USER,
    episode_system: str | None = None,
    episode_value: str | None = None,
    readmission_of_id: int | None = None,
    encounter_class: EncounterClass = EncounterClass.INPATIENT,
) -> Pathway:
    """Open a pathway for a stay. Replaying the same idempotency key returns the pathway it made.

    A readmission (``readmission_of_id``: the patient's previous, discharged stay) cannot start before
    that stay's discharge: one of the two times is wrong, and guessing which would rewrite the history of
    the previous stay, so it is refused (``admitted_at``) until the discharge or the admission is
    corrected."""
    previous = _existing_event(session, idempotency_key)
    if previous is not None:
        return _require_stay_ward(session, actor, clock, previous.pathway_id, previous.pathway)
    # The ward first (organisations are a public directory), then the patient: a refusal by ward never
    # tells whether the patient id names anyone.
    ward = session.get(Organisation, ward_id)
    if ward is None or ward.kind is not OrganisationKind.WARD:
        raise ValidationFailed.single(
            "ward_id", f"organisation {ward_id} is not a known ward", "unknown"
        )
    patient = session.get(Patient, patient_id)
    require_acting_for(
        session,
        actor,
        clock,
        Permission.RECORD_PATHWAY_EVENT,
        organisation_id=ward.id,
        refusal=f"only staff acting for the ward {ward.name} may admit patients to it",
        reason=f"does not act for the ward {ward.id}",
        patient_id=patient.id if patient else None,
        resource=("Patient", patient_id),
    )
    if patient is None:
        raise refuse_unknown(
            session,
            actor,
            clock,
            Permission.RECORD_PATHWAY_EVENT,
            entity="patient",
            resource_type="Patient",
            key=patient_id,
        )
    if (episode_system is None) != (episode_value is None):
        raise ValidationFailed.single("episode", "an episode id needs both system and value")
    if episode_value is not None:
        clash = session.scalar(
            sa.select(Pathway.id).where(
                Pathway.episode_system == episode_system, Pathway.episode_value == episode_value
            )
        )
        if clash is not None:
            raise Conflict(f"episode of care {episode_value} already belongs to pathway {clash}")
    now = clock.now()
    admitted_at = ensure_utc(admitted_at)
    previous_stay = None
    if readmission_of_id is not None:
        previous_stay = session.get(Pathway, readmission_of_id)
        if previous_stay is None or previous_stay.patient_id != patient.id:
            raise ValidationFailed.single(
                "readmission_of_id", "the earlier pathway is not one of this patient's", "unknown"
            )
        ended = previous_stay.discharged_at
        if ended is not None and admitted_at < ended:
            raise ValidationFailed.single(
                "admitted_at",
                f"the readmission at {admitted_at.isoformat()} would start before the discharge "
                f"from the previous stay (pathway {previous_stay.id}) at {ended.isoformat()}",
                "inconsistent",
            )
        # The earlier stay ends here; its plan and contacts carry over (handled by the plan rules).
        previous_stay.status = next_status(previous_stay.status, PathwayEventType.READMITTED)
        previous_stay.closed_at = admitted_at
        previous_stay.updated_at = now
    pathway = Pathway(
        patient=patient,
        ward=ward,
        status=PathwayStatus.ADMITTED,
        encounter_class=encounter_class,
        admitted_at=admitted_at,
        episode_system=episode_system,
        episode_value=episode_value,
        readmission_of_id=readmission_of_id,
        created_at=now,
        updated_at=now,
    )
    session.add(pathway)
    event_type = PathwayEventType.ADMITTED
    if previous_stay is not None:
        event_type = PathwayEventType.READMITTED
        _add_event(
            session,
            actor,
            previous_stay,
            PathwayEventType.READMITTED,
            occurred_at=admitted_at,
            recorded_at=now,
            source=source,
            idempotency_key=f"{idempotency_key}:earlier-stay",
            payload={"readmission_episode": episode_value},
        )
    _add_event(
        session,
        actor,
        pathway,
        event_type,
        occurred_at=admitted_at,
        recorded_at=now,
        source=source,
        idempotency_key=idempotency_key,
        payload={},
    )
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.CREATE,
        resource_type="Pathway",
        resource_id=pathway.id,
        patient_id=patient.id,
        purpose="admission",
    )
    return pathway


def _add_event(
    session: Session,
    actor: Actor,
    pathway: Pathway,
    event_type: PathwayEventType,
    *,
    occurred_at: datetime,
    recorded_at: datetime,
    source: EventSource,
    idempotency_key: str,
    payload: dict[str, Any],
) -> PathwayEvent:
    event = PathwayEvent(
        pathway=pathway,
        type=event_type,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        source=source,
        idempotency_key=idempotency_key,
        recorded_by_id=actor.user_id,
        payload=payload,
    )
    session.add(event)
    return event


def record_pathway_event(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    pathway_id: int,
    event_type: PathwayEventType,
    occurred_at: datetime,
    idempotency_key: str,
    source: EventSource = EventSource.USER,
    planned_discharge_on: date | None = None,
    payload: dict[str, Any] | None = None,
) -> PathwayEvent:
    """Apply one event to a pathway, for staff acting for the stay's ward (or a unit above it). A replayed
    idempotency key returns the first event, changing nothing."""
    previous = _existing_event(session, idempotency_key)
    if previous is not None:  # told only to someone who may record events on that stay
        _require_stay_ward(session, actor, clock, previous.pathway_id, previous.pathway)
        return previous
    pathway = _require_stay_ward(
        session, actor, clock, pathway_id, session.get(Pathway, pathway_id)
    )
    if event_type in (PathwayEventType.ADMITTED, PathwayEventType.READMITTED):
        raise ValidationFailed.single(
            "event_type", "admissions open a new pathway: use admit_patient"
        )
    if event_type is PathwayEventType.DISCHARGE_PLANNED and planned_discharge_on is None:
        raise ValidationFailed.single(
            "planned_discharge_on", "a planned discharge needs a date", "required"
        )
    occurred_at = ensure_utc(occurred_at)
    if occurred_at < pathway.admitted_at:
        raise ValidationFailed.single("occurred_at", "the event cannot happen before the admission")
    new_status = next_status(pathway.status, event_type)
    now = clock.now()
    if event_type is PathwayEventType.LEAVE_STARTED:
        pathway.leave_periods.append(LeavePeriod(started_at=occurred_at))
    elif event_type is PathwayEventType.LEAVE_ENDED:
        pathway.leave_periods[-1].ended_at = occurred_at
    elif event_type is PathwayEventType.DISCHARGE_PLANNED:
        pathway.planned_discharge_on = planned_discharge_on
    elif event_type is PathwayEventType.DISCHARGED:
        pathway.discharged_at = occurred_at
    elif event_type in (PathwayEventType.CLOSED, PathwayEventType.READMITTED):
        pathway.closed_at = occurred_at
    pathway.status = new_status
    pathway.updated_at = now
    body = dict(payload or {})
    if planned_discharge_on is not None:
        body["planned_discharge_on"] = planned_discharge_on.isoformat()
    event = _add_event(
        session,
        actor,
        pathway,
        event_type,
        occurred_at=occurred_at,
        recorded_at=now,
        source=source,
        idempotency_key=idempotency_key,
        payload=body,
    )
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="Pathway",
        resource_id=pathway.id,
        patient_id=pathway.patient_id,
        purpose=event_type.value,
    )
    if event_type is PathwayEventType.DISCHARGED:
        # An agreed agreement/plan takes effect at discharge (§13a: agreed before, active from then on).
        activate_agreed_plans(session, _DISCHARGE_ACTOR, clock, pathway)
    return event


def get_pathway(session: Session, actor: Actor, clock: Clock, *, pathway_id: int) -> Pathway:
    """One stay, for an actor with a care relation to the patient (audited)."""
    pathway = session.get(Pathway, pathway_id)
    if pathway is None:  # the refusal someone else's stay gets: no oracle for pathway ids
        raise refuse_unknown(
            session,
            actor,
            clock,
            Permission.READ_PLAN,
            entity="pathway",
            resource_type="Pathway",
            key=pathway_id,
        )
    decision = require_patient_access(
        session,
        actor,
        clock,
        pathway.patient_id,
        Permission.READ_PLAN,
        resource=("Pathway", pathway.id),
    )
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.READ,
        resource_type="Pathway",
        resource_id=pathway.id,
        patient_id=pathway.patient_id,
        purpose=decision.purpose,
    )
    return pathway


def list_patient_pathways(
    session: Session, actor: Actor, clock: Clock, *, patient_id: int
) -> list[Pathway]:
    """The patient's stays, newest first, with their leave periods: for anyone with a care relation (§13c).
    The search is audited."""
    decision = require_patient_access(session, actor, clock, patient_id, Permission.READ_PLAN)
    pathways = list(
        session.scalars(
            sa.select(Pathway)
            .options(selectinload(Pathway.leave_periods))
            .where(Pathway.patient_id == patient_id)
            .order_by(Pathway.admitted_at.desc(), Pathway.id.desc())
        )
    )
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type="Pathway",
        patient_id=patient_id,
        purpose=decision.purpose,
        details={"pathways": [p.id for p in pathways]},
    )
    return pathways
