from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base, IntPK
from coordinator.organisations.models import Organisation
from pathways.meetings import ActionStatus, MeetingStatus


class NetworkMeeting(Base):
    """A network meeting about one patient: requested, scheduled, held (with who took part and the
    citizen's own words) or cancelled. Tied to the patient's open stay when it was requested (the gap
    rules read it per pathway); None when the patient had none."""

    __tablename__ = "network_meetings"

    id: Mapped[IntPK]
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    pathway_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pathways.id"), index=True)
    status: Mapped[MeetingStatus] = mapped_column(default=MeetingStatus.REQUESTED)
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    requested_at: Mapped[datetime]
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    requesting_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id")
    )
    scheduled_for: Mapped[datetime | None]
    place: Mapped[str] = mapped_column(sa.String(200), default="")
    held_on: Mapped[date | None]
    participants: Mapped[list[Any]] = mapped_column(default=list)
    citizen_took_part: Mapped[bool | None]
    citizen_words: Mapped[str] = mapped_column(sa.Text, default="")
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    cancelled_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    requesting_organisation: Mapped[Organisation | None] = relationship(lazy="raise")
    actions: Mapped[list[MeetingAction]] = relationship(
        back_populates="meeting", lazy="raise", order_by="MeetingAction.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class MeetingAction(Base):
    """An action agreed at a held meeting: what, which organisation owns it, by when; done or not done.
    ``pathway_id`` is the meeting's, kept here so the gap rules read the actions of a batch in one query."""

    __tablename__ = "meeting_actions"

    id: Mapped[IntPK]
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("network_meetings.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"))
    pathway_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pathways.id"), index=True)
    description: Mapped[str] = mapped_column(sa.String(500))
    owner_organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    due_on: Mapped[date]
    status: Mapped[ActionStatus] = mapped_column(default=ActionStatus.OPEN)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    meeting: Mapped[NetworkMeeting] = relationship(back_populates="actions", lazy="raise")
    owner_organisation: Mapped[Organisation] = relationship(lazy="raise")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
