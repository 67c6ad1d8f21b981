from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base, IntPK
from coordinator.organisations.models import Organisation


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[IntPK]
    cpr: Mapped[str | None] = mapped_column(sa.String(10), unique=True)
    replacement_cpr: Mapped[str | None] = mapped_column(sa.String(10), unique=True)
    given_name: Mapped[str] = mapped_column(sa.String(100))
    family_name: Mapped[str] = mapped_column(sa.String(100))
    kommunekode: Mapped[str] = mapped_column(sa.String(3), index=True)
    gp_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id"), index=True
    )
    is_protected: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    gp_organisation: Mapped[Organisation | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("cpr IS NOT NULL OR replacement_cpr IS NOT NULL", name="has_identifier"),
    )

    def __repr__(self) -> str:  # never the CPR number: reprs end up in logs
        return f"<Patient {self.id}>"
