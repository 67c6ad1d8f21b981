"""Putting messages into the outbox and reading it (administrators see failures and dead letters).

Enqueueing happens inside the caller's transaction: the message exists exactly when the change that
caused it was committed. ``coordinator.outbox.sender`` delivers it afterwards.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.services import record
from coordinator.outbox.models import OutboxChannel, OutboxMessage, OutboxStatus
from pathways.audit import AuditAction
from pathways.errors import Conflict, NotFound
from pathways.people import Actor
from pathways.permissions import Permission, require


def enqueue(
    session: Session,
    *,
    channel: OutboxChannel,
    idempotency_key: str,
    recipient: str,
    now: datetime,
    subject: str = "",
    body: str = "",
    payload: dict[str, Any] | None = None,
    message_id: str | None = None,
    reminder_id: int | None = None,
    patient_id: int | None = None,
) -> OutboxMessage:
    """Queue a message once: the same idempotency key returns the message queued before."""
    existing = session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    )
    if existing is not None:
        return existing
    message = _new_message(
        now,
        channel=channel,
        idempotency_key=idempotency_key,
        message_id=message_id,
        recipient=recipient,
        subject=subject,
        body=body,
        payload=payload,
        reminder_id=reminder_id,
        patient_id=patient_id,
    )
    session.add(message)
    session.flush()
    return message


def enqueue_new(session: Session, *, now: datetime, **fields: Any) -> OutboxMessage:
    """Queue a message whose idempotency key is new by construction (it holds a fresh message id): no
    lookup first. ``fields`` are ``enqueue``'s keyword arguments but ``now``."""
    message = _new_message(now, **fields)
    session.add(message)
    return message


def _new_message(now: datetime, **fields: Any) -> OutboxMessage:
    """A pending message, due at once; ``fields`` are ``enqueue``'s keyword arguments."""
    return OutboxMessage(
        channel=fields["channel"],
        idempotency_key=fields["idempotency_key"],
        message_id=fields.get("message_id") or str(uuid.uuid4()),
        recipient=fields["recipient"],
        subject=fields.get("subject", ""),
        body=fields.get("body", ""),
        payload=fields.get("payload") or {},
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        claimed_by="",
        last_error="",
        reminder_id=fields.get("reminder_id"),
        patient_id=fields.get("patient_id"),
        created_at=now,
    )


def enqueue_many(session: Session, messages: list[dict[str, Any]], *, now: datetime) -> int:
    """Queue many messages at once (the gap scan's urgent mails): one query for the keys already queued,
    one batched insert for the rest. Each dict holds ``enqueue``'s keyword arguments but ``now``.
    Returns how many were new."""
    if not messages:
        return 0
    keys = [m["idempotency_key"] for m in messages]
    queued = set(
        session.scalars(
            sa.select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(keys))
        )
    )
    fresh: dict[str, OutboxMessage] = {}
    for m in messages:
        key = m["idempotency_key"]
        if key in queued or key in fresh:
            continue
        fresh[key] = _new_message(now, **m)
    session.add_all(fresh.values())
    session.flush()
    return len(fresh)


def record_delivery(session: Session, *, message_id: str, at: datetime) -> OutboxMessage | None:
    """A MedCom Acknowledgement (code ok) for one of our messages: delivered, which is not read."""
    message = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.message_id == message_id))
    if message is None:
        return None
    if message.status in (OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.PENDING):
        message.status = OutboxStatus.DELIVERED
        message.delivered_at = at
    return message


def list_problem_messages(
    session: Session, actor: Actor, *, limit: int = 100
) -> list[OutboxMessage]:
    """Dead letters and messages that failed at least once, newest first (administrators only)."""
    require(actor, Permission.MANAGE_OUTBOX)
    return list(
        session.scalars(
            sa.select(OutboxMessage)
            .where(
                sa.or_(
                    OutboxMessage.status == OutboxStatus.DEAD,
                    sa.and_(
                        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.attempts > 0
                    ),
                )
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def requeue(session: Session, actor: Actor, *, message_id: int, now: datetime) -> OutboxMessage:
    """Give a dead letter another round of attempts after the cause was fixed."""
    require(actor, Permission.MANAGE_OUTBOX)
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("outbox message", message_id)
    if message.status is not OutboxStatus.DEAD:
        raise Conflict(f"only dead letters can be requeued; this one is {message.status.value}")
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = now
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="OutboxMessage",
        resource_id=message.id,
        patient_id=message.patient_id,
        details={"requeued": True, "channel": message.channel.value},
    )
    return message
