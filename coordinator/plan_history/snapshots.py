"""A copy of the CarePlan resource at every version of the plan row.

Whatever door a plan change comes through (web, REST, FHIR, the discharge that activates it), the copy is
written in the same transaction, just before the commit; ``vread`` and ``_history`` read these copies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.db import CommitHook
from coordinator.plan_history.models import PlanResourceVersion
from coordinator.plans.models import Plan, PlanParticipant, PlanVersion

PENDING_KEY = "fhir.plans_changed"

# The FHIR JSON of a plan, given by the FHIR door (create_app wires it): a feature does not import a door.
Render = Callable[[Plan], dict[str, Any]]


def _note(session: Session, _context: Any) -> None:
    changed: set[int] = session.info.setdefault(PENDING_KEY, set())
    for obj in (*session.new, *session.dirty):
        match obj:
            case Plan():
                changed.add(obj.id)
            case PlanParticipant() | PlanVersion():
                changed.add(obj.plan_id)


def _snapshot(session: Session, render: Render) -> None:
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
        resource = render(plan)
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


def hook(render: Render) -> CommitHook:
    """The commit hook that copies every changed plan, as ``render`` builds its FHIR JSON."""

    def act(session: Session) -> None:
        _snapshot(session, render)

    return CommitHook("plan_history.snapshots", note=_note, act=act, keys=(PENDING_KEY,))
