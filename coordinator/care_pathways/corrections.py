"""Corrections of pathway events: revise (the time was wrong) and cancel (it did not happen).

MedCom's revise-* and cancel-* HospitalNotifications land here, and so may a user's correction. The earlier
event is kept and marked annulled; the correction is a new event pointing at it. Only the newest event of
the pathway that changed its status can be cancelled: undoing an older one would leave the later ones
without ground, so that is a conflict for a person to sort out.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.services import record
from coordinator.care_pathways.models import Pathway, PathwayEvent
from coordinator.care_pathways.services import _add_event, _existing_event, _require_stay_ward
from pathways.audit import AuditAction
from pathways.clock import Clock, ensure_utc
from pathways.errors import Conflict, NotFound, ValidationFailed
from pathways.people import Actor
from pathways.permissions import Permission, require
from pathways.stays import EventSource, PathwayEventType, PathwayStatus

E = PathwayEventType
_STATUS_EVENTS = (E.ADMITTED, E.READMITTED, E.LEAVE_STARTED, E.LEAVE_ENDED, E.DISCHARGED)


class Correction(StrEnum):
    REVISE = "revise"
    CANCEL = "cancel"


def _latest_status_event(session: Session, pathway_id: int) -> PathwayEvent | None:
    return session.scalar(
        sa.select(PathwayEvent)
        .where(
            PathwayEvent.pathway_id == pathway_id,
            PathwayEvent.is_annulled.is_(False),
            PathwayEvent.type.in_(_STATUS_EVENTS),
        )
        .order_by(PathwayEvent.occurred_at.desc(), PathwayEvent.id.desc())
        .limit(1)
    )


def _revise(pathway: Pathway, event: PathwayEvent, occurred_at: datetime) -> None:
    match event.type:
        case E.ADMITTED | E.READMITTED:
            if pathway.discharged_at is not None and occurred_at > pathway.discharged_at:
                raise ValidationFailed.single(
                    "occurred_at", "the admission would follow the discharge"
                )
            pathway.admitted_at = occurred_at
        case E.DISCHARGED:
            if occurred_at < pathway.admitted_at:
                raise ValidationFailed.single(
                    "occurred_at", "the discharge would precede the admission"
                )
            pathway.discharged_at = occurred_at
        case E.LEAVE_STARTED:
            period = next(p for p in pathway.leave_periods if p.started_at == event.occurred_at)
            period.started_at = occurred_at
        case E.LEAVE_ENDED:
            period = next(p for p in pathway.leave_periods if p.ended_at == event.occurred_at)
            period.ended_at = occurred_at
        case _:
            raise ValidationFailed.single("event", f"a {event.type.value} event cannot be revised")


def _cancel(session: Session, pathway: Pathway, event: PathwayEvent, at: datetime) -> None:
    latest = _latest_status_event(session, pathway.id)
    if latest is None or latest.id != event.id:
        raise Conflict(
            f"only the newest event of pathway {pathway.id} can be cancelled; "
            f"{event.type.value} of {event.occurred_at.isoformat()} has later events"
        )
    match event.type:
        case E.ADMITTED | E.READMITTED:
            pathway.status = PathwayStatus.CANCELLED
            pathway.closed_at = at
        case E.DISCHARGED:
            on_leave = any(p.ended_at is None for p in pathway.leave_periods)
            pathway.status = PathwayStatus.ON_LEAVE if on_leave else PathwayStatus.ADMITTED
            pathway.discharged_at = None
        case E.LEAVE_STARTED:
            period = next(p for p in pathway.leave_periods if p.started_at == event.occurred_at)
            pathway.leave_periods.remove(period)
            pathway.status = PathwayStatus.ADMITTED
        case E.LEAVE_ENDED:
            period = next(p for p in pathway.leave_periods if p.ended_at == event.occurred_at)
            period.ended_at = None
            pathway.status = PathwayStatus.ON_LEAVE


def correct_pathway_event(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    corrects_key: str,
    correction: Correction,
    idempotency_key: str,
    occurred_at: datetime | None = None,
    source: EventSource = EventSource.USER,
    pathway_id: int | None = None,
) -> PathwayEvent:
    """Revise the time of, or cancel, the event recorded under ``corrects_key``. Replays change nothing.

    With ``pathway_id`` the event must be one of that pathway's: a caller that checked who may change
    which stay names the stay it checked, so a key of another stay's event cannot slip through."""
    require(actor, Permission.RECORD_PATHWAY_EVENT)
    previous = _existing_event(session, idempotency_key)
    if previous is not None:
        _require_stay_ward(session, actor, clock, previous.pathway_id, previous.pathway)
        return previous
    event = _existing_event(session, corrects_key)
    if event is None or (pathway_id is not None and event.pathway_id != pathway_id):
        raise NotFound("pathway event", corrects_key)
    # Only the stay's own ward corrects its history (the MedCom door has checked the sender already).
    _require_stay_ward(session, actor, clock, event.pathway_id, event.pathway)
    if event.is_annulled:
        raise Conflict(f"event {event.id} was already corrected")
    pathway = event.pathway
    if pathway.status is PathwayStatus.CANCELLED:
        raise Conflict(f"pathway {pathway.id} is cancelled")
    now = clock.now()
    when = ensure_utc(occurred_at) if occurred_at is not None else event.occurred_at
    if correction is Correction.REVISE:
        _revise(pathway, event, when)
    else:
        _cancel(session, pathway, event, now)
    event.is_annulled = True
    pathway.updated_at = now
    # A revision is the event again at its right time. A cancelled admission cancels the stay (a live
    # CANCELLED event); any other cancellation leaves a record that is itself annulled: nothing happened.
    cancels_stay = correction is Correction.CANCEL and event.type in (E.ADMITTED, E.READMITTED)
    fix = _add_event(
        session,
        actor,
        pathway,
        PathwayEventType.CANCELLED if cancels_stay else event.type,
        occurred_at=when,
        recorded_at=now,
        source=source,
        idempotency_key=idempotency_key,
        payload={"correction": correction.value, "corrects": event.id},
    )
    fix.corrects_event_id = event.id
    fix.is_annulled = correction is Correction.CANCEL and not cancels_stay
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="Pathway",
        resource_id=pathway.id,
        patient_id=pathway.patient_id,
        purpose=f"{correction.value} {event.type.value}",
        details={"event": event.id},
    )
    return fix
