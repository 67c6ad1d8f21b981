from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.db import Base, IntPK


class PlanResourceVersion(Base):
    """The CarePlan resource as it was at one version of the plan (``meta.versionId``)."""

    __tablename__ = "plan_resource_versions"

    id: Mapped[IntPK]
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id"))
    version: Mapped[int]
    resource: Mapped[dict[str, Any]]
    recorded_at: Mapped[datetime]

    __table_args__ = (sa.UniqueConstraint("plan_id", "version"),)
