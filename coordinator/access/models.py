from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.db import Base, IntPK


class EmergencyAccess(Base):
    """'Break the glass': a named user's time-limited access to one patient, with a reason, for review."""

    __tablename__ = "emergency_access"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(500))
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    review_note: Mapped[str] = mapped_column(sa.String(500), default="")
