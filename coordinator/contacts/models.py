from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.accounts.models import User
from coordinator.db import Base, IntPK
from coordinator.organisations.models import Organisation
from pathways.organisations import Sector


class ContactAssignment(Base):
    """The fixed contact person (fast kontaktperson) of one sector for one patient, for a period."""

    __tablename__ = "contact_assignments"

    id: Mapped[IntPK]
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"))
    sector: Mapped[Sector]
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    backup_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    team_inbox: Mapped[str] = mapped_column(sa.String(254), default="")
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]  # inclusive; None: until further notice
    ended_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime]

    organisation: Mapped[Organisation] = relationship()
    person: Mapped[User | None] = relationship(foreign_keys=[person_id])
    backup_person: Mapped[User | None] = relationship(foreign_keys=[backup_person_id])

    __table_args__ = (
        sa.Index("ix_contact_assignments_patient_sector", "patient_id", "sector", "valid_from"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period_order"),
    )
