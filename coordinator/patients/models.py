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
    kommunekode: Mapped[str] = mapped_column(sa.String(3))
    gp_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id"), index=True
    )
    # Why the patient has no GP (e.g. not registered with one): the GP party may then be missing from
    # plans. Empty while the GP is known, or unknown without a reason (a gap, rule gp_unknown).
    gp_absent_reason: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    is_protected: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The optimistic-lock counter: the ETag of the REST API and meta.versionId of FHIR Patient.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    gp_organisation: Mapped[Organisation | None] = relationship()

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        sa.CheckConstraint("cpr IS NOT NULL OR replacement_cpr IS NOT NULL", name="has_identifier"),
        # a municipality's citizens as an index-only scan (the worklist's and the REST lists' scope)
        sa.Index("ix_patients_kommunekode_id", "kommunekode", "id"),
    )

    def __repr__(self) -> str:  # never the CPR number: reprs end up in logs
        return f"<Patient {self.id}>"
