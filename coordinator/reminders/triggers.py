"""Re-evaluate reminders in the same transaction as any change that can open or close a gap.

Every flush notes the pathways whose facts changed (a pathway, its events and facts, a plan and its
participants, a contact person of the patient, the patient's GP, a network meeting and its actions); just
before the commit, their gaps are evaluated and the reminders reconciled. So a discharge, an agreed plan,
a new contact person or a meeting action marked done resolves or raises reminders at once, whichever
door (web, REST, FHIR, MedCom, CLI) the change came through; the
scheduler's scan catches what time alone changes (deadlines passing).

A session marked with ``defer_evaluation`` (the MedCom ingest, where the gateway waits and the throughput
counts) queues the pathways instead (``gap_evaluation_queue``, in the same transaction): the scheduler's
``evaluate_queued`` job evaluates them within seconds, in batches, with the same rules.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from coordinator.care_pathways.models import LeavePeriod, Pathway, PathwayEvent, PathwayFact
from coordinator.contacts.models import ContactAssignment
from coordinator.db import CommitHook, session_clock, session_config
from coordinator.meetings.models import MeetingAction, NetworkMeeting
from coordinator.patients.models import Patient
from coordinator.plans.models import Plan, PlanParticipant
from coordinator.reminders.models import QueuedEvaluation
from coordinator.reminders.scan import evaluate_pathways
from pathways.clock import Clock

log = structlog.get_logger("carepath.reminders")
PENDING_KEY = "reminders.pending_pathways"
PENDING_PATIENTS_KEY = "reminders.pending_patients"
DEFER_KEY = "reminders.defer_evaluation"


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
            case NetworkMeeting() | MeetingAction() if obj.pathway_id is not None:
                pathways.add(obj.pathway_id)  # a request, a held meeting, an action and its closing
            case ContactAssignment():
                patients.add(obj.patient_id)
            case Patient() if (
                obj in session.dirty
            ):  # the GP (rule gp_unknown); new ones have no stay
                patients.add(obj.id)


def defer_evaluation(session: Session) -> None:
    """From now on this session's commits queue the touched pathways instead of evaluating them."""
    session.info[DEFER_KEY] = True


def _queue(session: Session, pathway_ids: list[int], clock: Clock) -> None:
    """Queue the pathways once each: a pathway already waiting keeps its place (ON CONFLICT DO NOTHING)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = clock.now()
    session.execute(
        insert(QueuedEvaluation)
        .values([{"pathway_id": p, "queued_at": now} for p in pathway_ids])
        .on_conflict_do_nothing(index_elements=["pathway_id"])
    )


def _evaluate(session: Session) -> None:
    noted: set[int | None] = session.info.pop(PENDING_KEY, set())
    patients: set[int] = session.info.pop(PENDING_PATIENTS_KEY, set())
    # A pathway flushed before it had an id was noted as None: its id is known by now.
    pathways = {p for p in noted if p is not None}
    if patients:
        pathways |= set(
            session.scalars(sa.select(Pathway.id).where(Pathway.patient_id.in_(patients)))
        )
    if not pathways:
        return
    if session.info.get(DEFER_KEY):
        _queue(session, sorted(pathways), session_clock(session))
        return
    try:
        with session.begin_nested():
            evaluate_pathways(
                session, session_clock(session), sorted(pathways), config=session_config(session)
            )
    except Exception:  # a fault in gap detection must never block a clinical change
        log.exception("reminders.evaluation_failed", pathways=sorted(pathways))
    session.info.pop(PENDING_KEY, None)
    session.info.pop(PENDING_PATIENTS_KEY, None)


def evaluated(session: Session, pathway_id: int) -> None:
    """The use case has just evaluated this pathway itself: the commit need not evaluate it again (a
    later change to it in the same transaction notes it anew)."""
    pending: set[int | None] = session.info.get(PENDING_KEY, set())
    pending.discard(pathway_id)


# Installed by whoever sets up the database (create_app, the test fixtures), first of the hooks.
HOOK = CommitHook(
    "reminders.triggers", note=_note, act=_evaluate, keys=(PENDING_KEY, PENDING_PATIENTS_KEY)
)
