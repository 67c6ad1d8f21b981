"""A patient's pathway as one timeline: the stays' events (admission, leave, return, discharge,
readmission...), the coordination facts (plan shared, delivered, read), and the MedCom messages in and
out with their acknowledgement state. For anyone with a care relation (§13c); the read is audited.

MedCom messages themselves are not stored (they hold a CPR number): what is shown is what carepath kept
of them (the inbound message's event and activity and our acknowledgement; the outbound message's
subject and delivery state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from coordinator.access.services import require_patient_access
from coordinator.audit.services import record
from coordinator.care_pathways.models import Pathway, PathwayFact
from coordinator.messaging.models import InboundMessage
from coordinator.outbox.models import OutboxChannel, OutboxMessage, OutboxStatus
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.people import Actor
from pathways.permissions import Permission
from pathways.stays import PathwayFactType


class EntryKind(StrEnum):
    EVENT = "event"  # a stay's event (PathwayEventType)
    FACT = "fact"  # a coordination fact (PathwayFactType)
    MESSAGE_IN = "message_in"  # a MedCom message received
    MESSAGE_OUT = "message_out"  # a MedCom message sent


class MessageState(StrEnum):
    """Where a MedCom message stands (labels: ``message_state``)."""

    RECEIVED = "received"  # processed, answered with a positive acknowledgement
    REJECTED = "rejected"  # answered with a negative acknowledgement (fatal error)
    QUEUED = "queued"  # waiting in the outbox
    SENT = "sent"  # handed to the gateway, no acknowledgement yet
    ACKNOWLEDGED = "acknowledged"  # the receiver's system acknowledged it
    DEAD = "dead"  # given up after the last attempt


_OUT_STATES = {
    OutboxStatus.PENDING: MessageState.QUEUED,
    OutboxStatus.SENDING: MessageState.QUEUED,
    OutboxStatus.SENT: MessageState.SENT,
    OutboxStatus.DELIVERED: MessageState.ACKNOWLEDGED,
    OutboxStatus.DEAD: MessageState.DEAD,
}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: EntryKind
    code: str  # the event or fact type; a message's event (and activity)
    pathway_id: int | None
    ward_name: str = ""
    state: MessageState | None = None  # messages only
    detail: str = ""  # an outbound message's subject, a planned discharge date...
    is_annulled: bool = False


@dataclass(frozen=True, slots=True)
class PatientTimeline:
    entries: list[TimelineEntry]  # oldest first
    # (plan id, organisation id) of each party whose system said it read the plan (PLAN_READ facts)
    plans_read: frozenset[tuple[int | None, int | None]]


def patient_timeline(
    session: Session, actor: Actor, clock: Clock, *, patient_id: int
) -> PatientTimeline:
    """Every stay's events and facts and the MedCom messages about the patient, oldest first."""
    decision = require_patient_access(session, actor, clock, patient_id, Permission.READ_PLAN)
    stays = list(
        session.scalars(
            sa.select(Pathway)
            .options(selectinload(Pathway.events), selectinload(Pathway.ward))
            .where(Pathway.patient_id == patient_id)
        )
    )
    wards = {s.id: s.ward.name for s in stays}
    entries = [
        TimelineEntry(
            at=e.occurred_at,
            kind=EntryKind.EVENT,
            code=e.type.value,
            pathway_id=s.id,
            ward_name=wards[s.id],
            detail=str(e.payload.get("planned_discharge_on", "")),
            is_annulled=e.is_annulled,
        )
        for s in stays
        for e in s.events
    ]
    facts = list(
        session.scalars(
            sa.select(PathwayFact)
            .where(PathwayFact.pathway_id.in_(wards))
            .order_by(PathwayFact.occurred_at)
        )
    )
    entries += [
        TimelineEntry(
            f.occurred_at, EntryKind.FACT, f.type.value, f.pathway_id, wards[f.pathway_id]
        )
        for f in facts
    ]
    for message in session.scalars(
        sa.select(InboundMessage).where(InboundMessage.pathway_id.in_(wards))
    ):
        code = f"{message.event} {message.activity}".strip()
        state = MessageState.RECEIVED if message.outcome == "ok" else MessageState.REJECTED
        entries.append(
            TimelineEntry(
                message.received_at,
                EntryKind.MESSAGE_IN,
                code,
                message.pathway_id,
                wards.get(message.pathway_id or 0, ""),
                state,
            )
        )
    # Columns only: the payload is the message bundle, which holds the CPR number.
    for created_at, status, subject in session.execute(
        sa.select(OutboxMessage.created_at, OutboxMessage.status, OutboxMessage.subject).where(
            OutboxMessage.patient_id == patient_id,
            OutboxMessage.channel == OutboxChannel.FHIR_MESSAGE,
        )
    ):
        entries.append(
            TimelineEntry(
                created_at,
                EntryKind.MESSAGE_OUT,
                "CareCommunication",
                None,
                state=_OUT_STATES[status],
                detail=subject,
            )
        )
    entries.sort(key=lambda e: e.at)
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type="Pathway",
        patient_id=patient_id,
        purpose=decision.purpose,
        details={"timeline": [s.id for s in stays]},
    )
    read = frozenset(
        (f.plan_id, f.organisation_id) for f in facts if f.type is PathwayFactType.PLAN_READ
    )
    return PatientTimeline(entries, read)
