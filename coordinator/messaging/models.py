from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.db import Base, IntPK


class InboundMessage(Base):
    """A MedCom message we processed, by its MessageHeader id: a resent message gets the same answer and
    changes nothing. Transient failures are not kept, so the sender's retry is processed afresh.

    The message itself is not stored (it holds a CPR number); what it did is in the pathway's events. Its
    ``fingerprint`` (fhir_adapters.medcom.message_fingerprint: sha256 of the content without transmission
    details) tells a resend (same answer again) from another message reusing the id (refused); None for
    messages processed before fingerprints were kept."""

    __tablename__ = "inbound_messages"

    id: Mapped[IntPK]
    message_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    event: Mapped[str] = mapped_column(sa.String(60))
    activity: Mapped[str] = mapped_column(sa.String(60), default="")
    sender_sor: Mapped[str] = mapped_column(sa.String(20), default="")
    fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    outcome: Mapped[str] = mapped_column(sa.String(20))  # ok | fatal-error
    pathway_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pathways.id"), index=True)
    acknowledgement: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime]
