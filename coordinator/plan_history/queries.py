"""The stored CarePlan versions, as ``vread`` and ``_history`` read them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.plan_history.models import PlanResourceVersion


def versions(session: Session, plan_id: int) -> list[dict[str, Any]]:
    """The stored versions of the plan, newest first."""
    return list(
        session.scalars(
            sa.select(PlanResourceVersion.resource)
            .where(PlanResourceVersion.plan_id == plan_id)
            .order_by(PlanResourceVersion.version.desc())
        )
    )


def version(session: Session, plan_id: int, number: int) -> dict[str, Any] | None:
    found: dict[str, Any] | None = session.scalar(
        sa.select(PlanResourceVersion.resource).where(
            PlanResourceVersion.plan_id == plan_id, PlanResourceVersion.version == number
        )
    )
    return found
