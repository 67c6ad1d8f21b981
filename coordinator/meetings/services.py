"""Use cases on network meetings: request, schedule, record, cancel; add an action, mark it done or not
done; list a patient's meetings.

Each passes the one access gate (``require_patient_access``: a care relation to the patient and the
role's permission) and writes its audit entry. The rules live in ``pathways.meetings``. A meeting belongs
to the stay that was open when it was requested; its actions feed the gap rule
``network_meeting_action_overdue`` through ``coordinator.reminders.facts`` (the commit re-evaluates the
stay, see ``coordinator.reminders.triggers``), so marking an action done resolves its reminder at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from coordinator.access.services import (
    refuse_unknown,
    related_organisations,
    require_patient_access,
)
from coordinator.audit.services import record
from coordinator.care_pathways.models import Pathway
from coordinator.meetings.models import MeetingAction, NetworkMeeting
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from pathways import meetings as domain
from pathways.access import AccessDecision
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import ErrorCollector, NotFound, StaleVersion, VersionRequired
from pathways.meetings import ActionStatus, MeetingChange, MeetingStatus
from pathways.people import Actor
from pathways.permissions import Permission
from pathways.stays import PathwayStatus

MEETING = "NetworkMeeting"
ACTION = "MeetingAction"
_OPEN_STAY = (PathwayStatus.ADMITTED, PathwayStatus.ON_LEAVE, PathwayStatus.DISCHARGED)


@dataclass(frozen=True, slots=True)
class PatientMeetings:
    """A patient's network meetings (newest first, each with its actions) and the organisations that may
    own an action (those with a part in the patient's care), by name."""

    patient: Patient
    meetings: list[NetworkMeeting]
    parties: list[Organisation]


# ------------------------------------------------------------------------------------ helpers
def _audit(  # noqa: PLR0917 - one audit entry, spelled out at each use case
    session: Session,
    actor: Actor,
    at: datetime,
    action: AuditAction,
    resource_type: str,
    resource_id: int,
    patient_id: int,
    decision: AccessDecision,
    details: dict[str, Any] | None = None,
) -> None:
    record(
        session,
        actor=actor,
        at=at,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        patient_id=patient_id,
        purpose=decision.purpose,
        details=details or {},
    )


def _load_meeting(
    session: Session, actor: Actor, clock: Clock, meeting_id: int, permission: Permission
) -> tuple[NetworkMeeting, AccessDecision]:
    """The meeting with its actions, once the actor passed the gate for its patient; an unknown id gets
    the refusal someone else's meeting gets."""
    meeting = session.scalar(
        sa.select(NetworkMeeting)
        .options(selectinload(NetworkMeeting.actions))
        .where(NetworkMeeting.id == meeting_id)
    )
    if meeting is None:
        raise refuse_unknown(
            session,
            actor,
            clock,
            permission,
            entity="network meeting",
            resource_type=MEETING,
            key=meeting_id,
        )
    decision = require_patient_access(
        session, actor, clock, meeting.patient_id, permission, resource=(MEETING, meeting.id)
    )
    return meeting, decision


def _check_version(entity: str, expected: int | None, actual: int, *, required: bool) -> None:
    """Looked at once access is settled: a missing version (when the door demands one, If-Match) or a
    stale one is told to someone who may change the record, a stranger gets the refusal."""
    if expected is None:
        if required:
            raise VersionRequired(entity)
    elif expected != actual:
        raise StaleVersion(entity, expected, actual)


def _flush(session: Session, entity: str, expected: int | None) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise StaleVersion(entity, expected or 0, (expected or 0) + 1) from None


def _open_stay(session: Session, patient_id: int) -> int | None:
    """The patient's latest stay that is still open (admitted, on leave, or discharged and followed up)."""
    return session.scalar(
        sa.select(Pathway.id)
        .where(Pathway.patient_id == patient_id, Pathway.status.in_(_OPEN_STAY))
        .order_by(Pathway.admitted_at.desc(), Pathway.id.desc())
        .limit(1)
    )


def _parties(session: Session, patient: Patient) -> list[Organisation]:
    ids = related_organisations(session, patient)
    if not ids:
        return []
    return list(
        session.scalars(
            sa.select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)
        )
    )


# ------------------------------------------------------------------------------------ reads
def list_patient_meetings(
    session: Session, actor: Actor, clock: Clock, *, patient_id: int
) -> PatientMeetings:
    """The patient's meetings with their actions, newest first; audited as one read of the patient."""
    decision = require_patient_access(session, actor, clock, patient_id, Permission.READ_MEETINGS)
    patient = session.get(Patient, patient_id)
    if patient is None:  # only a system actor gets here for an unknown patient
        raise NotFound("patient", patient_id)
    meetings = list(
        session.scalars(
            sa.select(NetworkMeeting)
            .options(
                selectinload(NetworkMeeting.actions).selectinload(MeetingAction.owner_organisation),
                selectinload(NetworkMeeting.requesting_organisation),
            )
            .where(NetworkMeeting.patient_id == patient_id)
            .order_by(NetworkMeeting.requested_at.desc(), NetworkMeeting.id.desc())
        )
    )
    _audit(
        session,
        actor,
        clock.now(),
        AuditAction.READ,
        MEETING,
        patient_id,
        patient_id,
        decision,
        {"list": "network meetings", "count": len(meetings)},
    )
    return PatientMeetings(patient=patient, meetings=meetings, parties=_parties(session, patient))


def get_meeting(session: Session, actor: Actor, clock: Clock, *, meeting_id: int) -> NetworkMeeting:
    meeting, decision = _load_meeting(session, actor, clock, meeting_id, Permission.READ_MEETINGS)
    _audit(
        session,
        actor,
        clock.now(),
        AuditAction.READ,
        MEETING,
        meeting.id,
        meeting.patient_id,
        decision,
    )
    return meeting


# ------------------------------------------------------------------------------------ meetings
def request_meeting(
    session: Session, actor: Actor, clock: Clock, *, patient_id: int, reason: object
) -> NetworkMeeting:
    """Ask for a network meeting about the patient (any party may: the ward, the municipality, the GP).
    The request starts the clock of rule ``network_meeting_not_held`` on the patient's open stay."""
    decision = require_patient_access(session, actor, clock, patient_id, Permission.MANAGE_MEETINGS)
    now = clock.now()
    request = domain.validate_request(reason=reason, now=now)
    meeting = NetworkMeeting(
        patient_id=patient_id,
        pathway_id=_open_stay(session, patient_id),
        status=MeetingStatus.REQUESTED,
        reason=request.reason,
        requested_at=request.requested_at,
        requested_by_id=actor.user_id,
        requesting_organisation_id=actor.organisation_id,
        participants=[],
        actions=[],  # a new meeting has none: no load (lazy="raise") when it is shown
        created_at=now,
        updated_at=now,
    )
    session.add(meeting)
    session.flush()
    _audit(session, actor, now, AuditAction.CREATE, MEETING, meeting.id, patient_id, decision)
    return meeting


def schedule_meeting(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    meeting_id: int,
    scheduled_for: object,
    place: object = "",
    expected_version: int | None = None,
    version_required: bool = False,
) -> NetworkMeeting:
    """Set (or move) the time and place of a requested or scheduled meeting."""
    meeting, decision = _load_meeting(session, actor, clock, meeting_id, Permission.MANAGE_MEETINGS)
    _check_version("network meeting", expected_version, meeting.version, required=version_required)
    status = domain.next_meeting_status(meeting.status, MeetingChange.SCHEDULE)
    now = clock.now()
    schedule = domain.validate_schedule(
        scheduled_for=scheduled_for, place=place, requested_at=meeting.requested_at, now=now
    )
    meeting.status = status
    meeting.scheduled_for = schedule.scheduled_for
    meeting.place = schedule.place
    meeting.updated_at = now
    _flush(session, "network meeting", expected_version)
    _audit(
        session,
        actor,
        now,
        AuditAction.TRANSITION,
        MEETING,
        meeting.id,
        meeting.patient_id,
        decision,
        {"change": "schedule", "scheduled_for": schedule.scheduled_for.isoformat()},
    )
    return meeting


def record_meeting(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    meeting_id: int,
    held_on: object,
    participants: object,
    citizen_took_part: object,
    citizen_words: object = "",
    summary: object = "",
    expected_version: int | None = None,
    version_required: bool = False,
) -> NetworkMeeting:
    """The meeting was held: the day, who took part, the citizen's own words, a short summary. Closes
    rule ``network_meeting_not_held``; the actions agreed are added next (``add_action``)."""
    meeting, decision = _load_meeting(session, actor, clock, meeting_id, Permission.MANAGE_MEETINGS)
    _check_version("network meeting", expected_version, meeting.version, required=version_required)
    status = domain.next_meeting_status(meeting.status, MeetingChange.RECORD)
    now = clock.now()
    held = domain.validate_record(
        held_on=held_on,
        participants=participants,
        citizen_took_part=citizen_took_part,
        citizen_words=citizen_words,
        summary=summary,
        requested_at=meeting.requested_at,
        now=now,
    )
    meeting.status = status
    meeting.held_on = held.held_on
    meeting.participants = list(held.participants)
    meeting.citizen_took_part = held.citizen_took_part
    meeting.citizen_words = held.citizen_words
    meeting.summary = held.summary
    meeting.updated_at = now
    _flush(session, "network meeting", expected_version)
    _audit(
        session,
        actor,
        now,
        AuditAction.TRANSITION,
        MEETING,
        meeting.id,
        meeting.patient_id,
        decision,
        {"change": "record", "held_on": held.held_on.isoformat()},
    )
    return meeting


def cancel_meeting(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    meeting_id: int,
    reason: object,
    expected_version: int | None = None,
    version_required: bool = False,
) -> NetworkMeeting:
    """Call off a meeting that has not been held, with a reason."""
    meeting, decision = _load_meeting(session, actor, clock, meeting_id, Permission.MANAGE_MEETINGS)
    _check_version("network meeting", expected_version, meeting.version, required=version_required)
    status = domain.next_meeting_status(meeting.status, MeetingChange.CANCEL)
    errors = ErrorCollector()
    text = errors.text("reason", reason, max_length=domain.MAX_REASON)
    errors.raise_if_any()
    now = clock.now()
    meeting.status = status
    meeting.cancelled_reason = text
    meeting.updated_at = now
    _flush(session, "network meeting", expected_version)
    _audit(
        session,
        actor,
        now,
        AuditAction.TRANSITION,
        MEETING,
        meeting.id,
        meeting.patient_id,
        decision,
        {"change": "cancel"},
    )
    return meeting


# ------------------------------------------------------------------------------------ actions
def add_action(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    meeting_id: int,
    description: object,
    owner_organisation_id: object,
    due_on: object,
) -> MeetingAction:
    """An action agreed at a held meeting: what, which organisation owns it (one with a part in the
    patient's care, §13c), by when (not before the meeting)."""
    meeting, decision = _load_meeting(
        session, actor, clock, meeting_id, Permission.MANAGE_MEETING_ACTIONS
    )
    patient = session.get_one(Patient, meeting.patient_id)
    new = domain.validate_action(
        description=description,
        owner_organisation_id=owner_organisation_id,
        due_on=due_on,
        meeting_status=meeting.status,
        meeting_day=meeting.held_on,
        parties=related_organisations(session, patient),
    )
    now = clock.now()
    action = MeetingAction(
        meeting_id=meeting.id,
        patient_id=meeting.patient_id,
        pathway_id=meeting.pathway_id,
        description=new.description,
        owner_organisation_id=new.owner_organisation_id,
        due_on=new.due_on,
        status=ActionStatus.OPEN,
        created_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    meeting.actions.append(action)  # loaded with the meeting: keep the collection whole
    session.flush()
    _audit(
        session,
        actor,
        now,
        AuditAction.CREATE,
        ACTION,
        action.id,
        meeting.patient_id,
        decision,
        {"meeting_id": meeting.id, "due_on": new.due_on.isoformat()},
    )
    return action


def mark_action(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    action_id: int,
    status: object,
    expected_version: int | None = None,
    version_required: bool = False,
) -> MeetingAction:
    """Close an open action as done or not done; its overdue reminder resolves at the commit."""
    errors = ErrorCollector()
    target = errors.choice("status", ActionStatus, status)
    errors.raise_if_any()
    assert target is not None
    action = session.get(MeetingAction, action_id)
    if action is None:
        raise refuse_unknown(
            session,
            actor,
            clock,
            Permission.MANAGE_MEETING_ACTIONS,
            entity="meeting action",
            resource_type=ACTION,
            key=action_id,
        )
    decision = require_patient_access(
        session,
        actor,
        clock,
        action.patient_id,
        Permission.MANAGE_MEETING_ACTIONS,
        resource=(ACTION, action.id),
    )
    _check_version("meeting action", expected_version, action.version, required=version_required)
    action.status = domain.next_action_status(action.status, target)
    now = clock.now()
    action.closed_at = now
    action.closed_by_id = actor.user_id
    action.updated_at = now
    _flush(session, "meeting action", expected_version)
    _audit(
        session,
        actor,
        now,
        AuditAction.TRANSITION,
        ACTION,
        action.id,
        action.patient_id,
        decision,
        {"status": target.value},
    )
    return action
