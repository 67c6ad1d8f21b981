from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base, IntPK
from pathways.geography import Region
from pathways.organisations import OrganisationKind, Sector


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[OrganisationKind]
    sector: Mapped[Sector] = mapped_column(index=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    sor_code: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    kommunekode: Mapped[str | None] = mapped_column(sa.String(3), index=True)
    ydernummer: Mapped[str | None] = mapped_column(sa.String(6), unique=True)
    gln: Mapped[str | None] = mapped_column(sa.String(13))
    region_code: Mapped[Region | None]
    email: Mapped[str] = mapped_column(sa.String(254), default="")  # team or messaging inbox
    is_active: Mapped[bool] = mapped_column(default=True)
    # Optimistic concurrency for administrators' edits (the ETag of REST and meta.versionId of FHIR).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    parent: Mapped[Organisation | None] = relationship(
        remote_side="Organisation.id", back_populates="children"
    )
    children: Mapped[list[Organisation]] = relationship(back_populates="parent")

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.kind.value} {self.name!r}>"
