"""Re-evaluate reminders in the same transaction as any change that can open or close a gap.

Every flush notes the pathways whose facts changed (a pathway, its events and facts, a plan and its
participants, a contact person of the patient); just before the commit, their gaps are evaluated and the
reminders reconciled. So a discharge, an agreed plan or a new contact person resolves or raises reminders at
once, whichever door (web, REST, FHIR, MedCom, CLI) the change came through; the scheduler's scan catches
what time alone changes (deadlines passing).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import structlog
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from coordinator.care_pathways.models import LeavePeriod, Pathway, PathwayEvent, PathwayFact
from coordinator.contacts.models import ContactAssignment
from coordinator.plans.models import Plan, PlanParticipant
from coordinator.security import get_clock
from pathways.clock import Clock, SystemClock

log = structlog.get_logger("carepath.reminders")
PENDING_KEY = "reminders.pending_pathways"
PENDING_PATIENTS_KEY = "reminders.pending_patients"
_installed = False


def _note(session: Session, _context: Any) -> None:
    pathways: set[int] = session.info.setdefault(PENDING_KEY, set())
    patients: set[int] = session.info.setdefault(PENDING_PATIENTS_KEY, set())
    for obj in (*session.new, *session.dirty):
        match obj:
            case Pathway():
                pathways.add(obj.id)
            case PathwayEvent() | PathwayFact() | LeavePeriod():
                pathways.add(obj.pathway_id)
            case Plan() if obj.pathway_id is not None:
                pathways.add(obj.pathway_id)
            case PlanParticipant():
                plan = obj.plan if "plan" in obj.__dict__ else session.get(Plan, obj.plan_id)
                if plan is not None and plan.pathway_id is not None:
                    pathways.add(plan.pathway_id)
            case ContactAssignment():
                patients.add(obj.patient_id)


def _clock() -> Clock:
    """The app's clock inside an app context (a request, a job, a CLI command), else the wall clock."""
    return get_clock() if has_app_context() else SystemClock()


def _evaluate(session: Session) -> None:
    from coordinator.reminders.scan import evaluate_pathways  # noqa: PLC0415 - scan imports models

    pathways: set[int] = session.info.pop(PENDING_KEY, set())
    patients: set[int] = session.info.pop(PENDING_PATIENTS_KEY, set())
    if patients:
        pathways |= set(
            session.scalars(sa.select(Pathway.id).where(Pathway.patient_id.in_(patients)))
        )
    pathways.discard(None)  # type: ignore[arg-type]
    if not pathways:
        return
    config = current_app.config if has_app_context() else {}
    try:
        with session.begin_nested():
            evaluate_pathways(session, _clock(), sorted(pathways), config=config)
    except Exception:  # a fault in gap detection must never block a clinical change
        log.exception("reminders.evaluation_failed", pathways=sorted(pathways))
    session.info.pop(PENDING_KEY, None)
    session.info.pop(PENDING_PATIENTS_KEY, None)


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(PENDING_KEY, None)
    session.info.pop(PENDING_PATIENTS_KEY, None)


def install() -> None:
    """Listen on every Session (once per process)."""
    global _installed  # noqa: PLW0603 - process-wide, idempotent registration
    if _installed:
        return
    event.listen(Session, "after_flush", _note)
    event.listen(Session, "before_commit", _evaluate)
    event.listen(Session, "after_rollback", _forget)
    _installed = True
