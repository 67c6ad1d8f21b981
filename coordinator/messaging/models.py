from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.db import Base, IntPK

# None is SQL NULL here (not JSON null): a cleared body is gone, and ``body IS NULL`` finds it.
NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class InboxStatus(StrEnum):
    PENDING = (
        "pending"  # stored, waiting to be processed (or to be retried after a failure of ours)
    )
    DONE = "done"  # processed: ``outcome`` and ``acknowledgement`` are the answer; the body is gone
    DEAD = "dead"  # gave up after the last attempt: shown to administrators, replayable


class InboundMessage(Base):
    """The MedCom inbox (ADR 0013): every message is stored here, by its MessageHeader id, before it is
    processed, so a resend is recognised at once and a message accepted is never lost.

    A resent message (same id, same ``fingerprint``: fhir_adapters.medcom.message_fingerprint, sha256 of the
    content without transmission details) gets the same answer and changes nothing; another message reusing
    the id is refused. ``fingerprint`` is None for messages processed before fingerprints were kept.

    ``body`` is the message itself (it holds a CPR number: health data at rest). It is kept only while it is
    needed: cleared in the transaction that processes the message (what it did is in the pathway's events and
    the audit log), and on a dead letter kept for replay until ``INBOX_DEAD_RETENTION_DAYS`` have passed,
    when the inbox job clears it (the row and its error stay). ``actor`` is who sent it, as resolved at
    receipt (the worker acts as that client). ``order_key`` (a hash of the patient's identifier, never the
    identifier) keeps one patient's messages in the order they arrived."""

    __tablename__ = "inbound_messages"

    id: Mapped[IntPK]
    message_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    event: Mapped[str] = mapped_column(sa.String(60))
    activity: Mapped[str] = mapped_column(sa.String(60), default="")
    sender_sor: Mapped[str] = mapped_column(sa.String(20), default="")
    fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    outcome: Mapped[str] = mapped_column(sa.String(20))  # ok | fatal-error | "" while pending
    pathway_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pathways.id"), index=True)
    acknowledgement: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime]
    status: Mapped[InboxStatus] = mapped_column(
        default=InboxStatus.DONE, server_default=InboxStatus.DONE.value
    )
    body: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)
    actor: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)
    order_key: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    processed_at: Mapped[datetime | None]

    __table_args__ = (
        sa.Index("ix_inbound_messages_due", "status", "next_attempt_at"),
        sa.Index("ix_inbound_messages_order", "order_key", "status"),
    )
