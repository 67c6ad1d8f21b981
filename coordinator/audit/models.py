from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.db import Base
from pathways.audit import AuditAction, AuditOutcome
from pathways.people import ActorKind

BigIntPK = sa.BigInteger().with_variant(
    sa.Integer(), "sqlite"
)  # SQLite autoincrements INTEGER only


class AuditEntry(Base):
    """Append-only record of one access to patient data: who, what, why, with what outcome.

    No foreign keys on purpose: the log must outlive (and never block the correction of) what it describes.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[ActorKind]
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(sa.String(200))
    actor_organisation_id: Mapped[int | None]
    patient_id: Mapped[int | None] = mapped_column(index=True)
    resource_type: Mapped[str] = mapped_column(sa.String(64))
    resource_id: Mapped[str] = mapped_column(sa.String(64), default="")
    action: Mapped[AuditAction]
    purpose: Mapped[str] = mapped_column(sa.String(200), default="")
    outcome: Mapped[AuditOutcome]
    channel: Mapped[str] = mapped_column(
        sa.String(16), default=""
    )  # web, rest, fhir, oauth, scheduler, cli
    request_id: Mapped[str] = mapped_column(sa.String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
