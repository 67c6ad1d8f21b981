from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.db import Base, IntPK


class OutboxChannel(StrEnum):
    EMAIL = "email"
    FHIR_MESSAGE = "fhir_message"  # a MedCom message Bundle posted to the messaging gateway
    REST_HOOK = "rest_hook"  # a FHIR Subscription notification posted to the subscriber's endpoint


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a sender until ``lease_until``
    SENT = "sent"  # handed over to the SMTP server or gateway
    DELIVERED = "delivered"  # a MedCom Acknowledgement said "technically received" (not read)
    DEAD = "dead"  # gave up after the last attempt: shown to administrators


class OutboxMessage(Base):
    """A message written in the same transaction as the change that caused it, sent after commit.

    ``idempotency_key`` makes enqueueing the same message twice a no-op; ``message_id`` stays the same on
    every attempt, so a retried mail carries the Message-ID of the first (see coordinator/outbox/sender.py
    for the delivery guarantee).
    """

    __tablename__ = "outbox_messages"

    id: Mapped[IntPK]
    channel: Mapped[OutboxChannel]
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    message_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[OutboxStatus] = mapped_column(default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str] = mapped_column(sa.String(100), default="")
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    # What the message is about, for the admin view and for access checks (never shown in the mail).
    reminder_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reminders.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (sa.Index("ix_outbox_messages_due", "status", "next_attempt_at"),)
