from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.db import Base, IntPK
from pathways.people import ActorKind


class SubscriptionStatus(StrEnum):
    REQUESTED = "requested"
    ACTIVE = "active"  # notified of every matching change
    ERROR = "error"
    OFF = "off"  # ended by its owner (or its end passed): never notified again


class Subscription(Base):
    """A FHIR rest-hook subscription, owned by whoever created it (a system client or a user) and their
    organisation: only the owner reads, lists and ends it, and notifications go out only as far as the
    owner may read the resource (coordinator.subscriptions.matching).

    ``headers`` are sent with every notification as given (e.g. Authorization at the receiver): kept
    here only, never logged, never copied into the outbox, shown back redacted.
    """

    __tablename__ = "subscriptions"

    id: Mapped[IntPK]
    owner_kind: Mapped[ActorKind]
    owner_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    owner_client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_clients.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    resource_type: Mapped[str] = mapped_column(sa.String(40))
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    filter_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id"), index=True
    )
    endpoint: Mapped[str] = mapped_column(sa.String(254))
    headers: Mapped[list[Any]] = mapped_column(default=list)
    payload: Mapped[str] = mapped_column(sa.String(40), default="")  # "" = empty notification
    status: Mapped[SubscriptionStatus]
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    end_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (sa.Index("ix_subscriptions_matching", "resource_type", "status"),)
