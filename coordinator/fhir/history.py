"""FHIR version history of CarePlans: a copy of the resource at every version of the plan row.

Whatever door a plan change comes through (web, REST, FHIR, the discharge that activates it), the copy is
written in the same transaction, just before the commit; ``vread`` and ``_history`` read these copies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from coordinator.db import Base, IntPK, install_commit_hook
from coordinator.plans.models import Plan, PlanParticipant, PlanVersion

PENDING_KEY = "fhir.plans_changed"


class PlanResourceVersion(Base):
    """The CarePlan resource as it was at one version of the plan (``meta.versionId``)."""

    __tablename__ = "plan_resource_versions"

    id: Mapped[IntPK]
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id"))
    version: Mapped[int]
    resource: Mapped[dict[str, Any]]
    recorded_at: Mapped[datetime]

    __table_args__ = (sa.UniqueConstraint("plan_id", "version"),)


def _note(session: Session, _context: Any) -> None:
    changed: set[int] = session.info.setdefault(PENDING_KEY, set())
    for obj in (*session.new, *session.dirty):
        match obj:
            case Plan():
                changed.add(obj.id)
            case PlanParticipant() | PlanVersion():
                changed.add(obj.plan_id)


def _snapshot(session: Session) -> None:
    from coordinator.fhir.render import plan_json  # noqa: PLC0415 - the mappers import the plan models

    changed: set[int | None] = session.info.pop(PENDING_KEY, set())
    changed.discard(None)  # a plan flushed before it had an id
    if not changed:
        return
    have = {
        (row.plan_id, row.version)
        for row in session.execute(
            sa.select(PlanResourceVersion.plan_id, PlanResourceVersion.version).where(
                PlanResourceVersion.plan_id.in_(changed)
            )
        )
    }
    for plan in session.scalars(sa.select(Plan).where(Plan.id.in_(changed))):
        if (plan.id, plan.version) in have:
            continue
        resource = plan_json(plan)
        session.add(
            PlanResourceVersion(
                plan_id=plan.id,
                version=plan.version,
                resource=resource,
                recorded_at=plan.updated_at,
            )
        )
    session.flush()
    session.info.pop(PENDING_KEY, None)


def install() -> None:
    install_commit_hook("fhir.history", note=_note, act=_snapshot, keys=(PENDING_KEY,))


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
