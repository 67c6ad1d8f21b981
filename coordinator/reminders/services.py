"""Use cases on reminders: the inbox (a person's and their team's), acknowledge, snooze, dismiss.

A reminder belongs to its owner organisation (the team inbox) and, where a fixed contact person is known,
to that person. Everyone acting for the owner organisation may see and handle it (organisation scope, as
for plans); the audit log records each patient whose reminders were read.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import (
    refuse_unknown,
    related_organisations,
    require_patient_access,
)
from coordinator.audit.services import record, record_per_patient
from coordinator.care_pathways.models import Pathway, PathwayFact
from coordinator.db import session_config
from coordinator.organisations.lineage import organisation_scope
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.plans.models import Plan
from coordinator.reminders import triggers
from coordinator.reminders.facts import among
from coordinator.reminders.models import Reminder, stored, sync_state
from coordinator.reminders.scan import due_no_later_than, evaluate_pathways
from pathways import reminders as rules
from pathways.access import NO_CLINICAL_CONTENT
from pathways.audit import AuditAction
from pathways.clock import Clock, ensure_utc
from pathways.errors import ErrorCollector, NotFound, PermissionDenied, StaleVersion
from pathways.people import Actor, ActorKind
from pathways.permissions import Permission, require
from pathways.stays import EventSource, PathwayFactType

MAX_PAGE_SIZE = 100
OPEN_STATES = frozenset(
    {rules.ReminderStatus.OPEN, rules.ReminderStatus.ACKNOWLEDGED, rules.ReminderStatus.SNOOZED}
)


@dataclass(frozen=True, slots=True)
class ReminderQuery:
    statuses: frozenset[rules.ReminderStatus] = OPEN_STATES
    mine_only: bool = False  # only those addressed to me personally (not the team's)
    patient_id: int | None = None
    severity: rules.Severity | None = None
    due_before: datetime | None = None
    after_id: int | None = None
    limit: int = 50


def _visible(session: Session, actor: Actor) -> sa.ColumnElement[bool]:
    if actor.kind is ActorKind.SYSTEM:
        return sa.true()
    mine = Reminder.owner_person_id == actor.user_id if actor.user_id is not None else sa.false()
    team = Reminder.owner_organisation_id.in_(organisation_scope(session, actor))
    escalated = (
        Reminder.escalate_to_person_id == actor.user_id if actor.user_id is not None else sa.false()
    )
    return sa.or_(mine, team, escalated)


def in_inbox(session: Session, actor: Actor, reminder_id: int) -> bool:
    """Whether the reminder is in the actor's inbox (their own, their organisation's, escalated to
    them): who may be told of it (a FHIR Subscription to Task)."""
    found = session.scalar(
        sa.select(Reminder.id).where(Reminder.id == reminder_id, _visible(session, actor))
    )
    return found is not None


def _audit_read(
    session: Session, actor: Actor, at: datetime, reminders: list[Reminder], action: AuditAction
) -> None:
    record_per_patient(
        session,
        actor=actor,
        at=at,
        action=action,
        resource_type="Reminder",
        purpose="reminder owner: inbox",
        shown=[(r.patient_id, r.id) for r in reminders],
        key="reminders",
    )


def _require_inbox(actor: Actor) -> None:
    require(actor, Permission.HANDLE_REMINDERS)
    if actor.role in NO_CLINICAL_CONTENT and actor.kind is not ActorKind.SYSTEM:
        raise PermissionDenied(f"role {actor.role} does not read clinical content")


def list_reminders(
    session: Session, actor: Actor, clock: Clock, query: ReminderQuery
) -> list[Reminder]:
    """One page of the inbox, most urgent first within due time order (keyset by id for paging)."""
    _require_inbox(actor)
    errors = ErrorCollector()
    if not 1 <= query.limit <= MAX_PAGE_SIZE:
        errors.add("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
    errors.raise_if_any()
    statement = (
        sa.select(Reminder)
        .where(_visible(session, actor), Reminder.status.in_(query.statuses))
        .order_by(Reminder.id)
        .limit(query.limit)
    )
    if query.mine_only:
        statement = statement.where(Reminder.owner_person_id == actor.user_id)
    if query.patient_id is not None:
        statement = statement.where(Reminder.patient_id == query.patient_id)
    if query.severity is not None:
        statement = statement.where(Reminder.severity == query.severity)
    if query.due_before is not None:
        statement = statement.where(Reminder.due_at < ensure_utc(query.due_before))
    if query.after_id is not None:
        statement = statement.where(Reminder.id > query.after_id)
    found = list(session.scalars(statement))
    _audit_read(session, actor, clock.now(), found, AuditAction.SEARCH)
    return found


@dataclass(frozen=True, slots=True)
class OpenReminders:
    """A pathway's open reminders in one reader's inbox: how many, and the earliest deadline."""

    count: int
    earliest_due_at: datetime


def open_reminders_by_pathway(
    session: Session, actor: Actor, patient_ids: Collection[int]
) -> dict[int, OpenReminders]:
    """The open reminders in the actor's inbox, counted by pathway with their earliest deadline, for
    these patients (one grouped query; read through the patients, whose column is indexed). No audit
    entry: for a list that audits the patients it shows."""
    if not patient_ids or (
        actor.role in NO_CLINICAL_CONTENT and actor.kind is not ActorKind.SYSTEM
    ):
        return {}
    rows = session.execute(
        sa.select(Reminder.pathway_id, sa.func.count(), sa.func.min(Reminder.due_at))
        .where(
            among(session, Reminder.patient_id, patient_ids),
            Reminder.status.in_(OPEN_STATES),
            _visible(session, actor),
        )
        .group_by(Reminder.pathway_id)
    )
    return {pathway_id: OpenReminders(count, due_at) for pathway_id, count, due_at in rows}


def get_reminder(session: Session, actor: Actor, clock: Clock, reminder_id: int) -> Reminder:
    _require_inbox(actor)
    reminder = session.scalar(
        sa.select(Reminder).where(Reminder.id == reminder_id, _visible(session, actor))
    )
    if reminder is None:
        raise NotFound("reminder", reminder_id)  # also when it is someone else's: no oracle
    _audit_read(session, actor, clock.now(), [reminder], AuditAction.READ)
    return reminder


@dataclass(frozen=True, slots=True)
class InboxRow:
    """A reminder as a person's inbox lists it: with whom it concerns."""

    reminder: Reminder
    patient: Patient


@dataclass(frozen=True, slots=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def inbox_page(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    mine_only: bool = False,
    page: int = 1,
    page_size: int = 25,
) -> InboxPage:
    """One numbered page of the open inbox for people, the most urgent first: by deadline (so the
    overdue come first), a reminder snoozed until later after the rest; each with its patient. Audited
    per patient shown, as ``list_reminders``."""
    _require_inbox(actor)
    errors = ErrorCollector()
    if page < 1:
        errors.add("page", "must be 1 or more")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        errors.add("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
    errors.raise_if_any()
    now = clock.now()
    where = [_visible(session, actor), Reminder.status.in_(OPEN_STATES)]
    if mine_only:
        where.append(
            Reminder.owner_person_id == actor.user_id if actor.user_id is not None else sa.false()
        )
    total = session.scalar(sa.select(sa.func.count(Reminder.id)).where(*where)) or 0
    snoozed_on = sa.case(
        (
            sa.and_(Reminder.status == rules.ReminderStatus.SNOOZED, Reminder.snoozed_until > now),
            1,
        ),
        else_=0,
    )
    found = session.execute(
        sa.select(Reminder, Patient)
        .join(Patient, Patient.id == Reminder.patient_id)
        .where(*where)
        .order_by(snoozed_on, Reminder.due_at, Reminder.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    rows = [InboxRow(reminder, patient) for reminder, patient in found]
    _audit_read(session, actor, now, [row.reminder for row in rows], AuditAction.SEARCH)
    return InboxPage(rows=rows, total=total, page=page, page_size=page_size)


@dataclass(frozen=True, slots=True)
class ReminderDetails:
    """One reminder as its page shows it: the patient, and whom it may be shared with."""

    reminder: Reminder
    patient: Patient
    share_with: list[Organisation]


def reminder_details(
    session: Session, actor: Actor, clock: Clock, reminder_id: int
) -> ReminderDetails:
    """A reminder in the actor's inbox (``get_reminder``: audited, NotFound when it is not theirs) with
    its patient and the organisations it may be shared with by MedCom: those with a part in the
    patient's care (the rule ``share_reminder`` applies) and a messaging address, the owner's own left
    out."""
    reminder = get_reminder(session, actor, clock, reminder_id)
    patient = session.get_one(Patient, reminder.patient_id)
    related = related_organisations(session, patient) - {
        reminder.owner_organisation_id,
        actor.organisation_id,
    }
    share_with = list(
        session.scalars(
            sa.select(Organisation)
            .where(
                Organisation.id.in_(related),
                Organisation.is_active,
                Organisation.sor_code.is_not(None),
                Organisation.gln.is_not(None),
                Organisation.gln != "",
            )
            .order_by(Organisation.name, Organisation.id)
        )
    )
    return ReminderDetails(reminder=reminder, patient=patient, share_with=share_with)


def _change(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    reminder_id: int,
    expected_version: int | None,
    change: str,
    apply: Any,
    details: Mapping[str, Any] | None = None,
) -> Reminder:
    _require_inbox(actor)
    reminder = session.scalar(
        sa.select(Reminder).where(Reminder.id == reminder_id, _visible(session, actor))
    )
    if reminder is None:
        raise NotFound("reminder", reminder_id)
    if expected_version is not None and expected_version != reminder.version:
        raise StaleVersion("reminder", expected_version, reminder.version)
    now = clock.now()
    sync_state(reminder, apply(stored(reminder), now), now)
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.TRANSITION,
        resource_type="Reminder",
        resource_id=reminder.id,
        patient_id=reminder.patient_id,
        purpose=change,
        details=dict(details or {}),
    )
    return reminder


def acknowledge_reminder(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    reminder_id: int,
    expected_version: int | None = None,
) -> Reminder:
    """ "I have seen it and I am on it": it stays in the inbox until the gap closes."""
    reminder = _change(
        session,
        actor,
        clock,
        reminder_id=reminder_id,
        expected_version=expected_version,
        change="acknowledge",
        apply=lambda r, now: rules.acknowledge(r, now=now, by_id=actor.user_id),
    )
    reminder.acknowledged_by_id = actor.user_id
    return reminder


def snooze_reminder(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    reminder_id: int,
    until: datetime,
    expected_version: int | None = None,
) -> Reminder:
    until = ensure_utc(until)
    reminder = _change(
        session,
        actor,
        clock,
        reminder_id=reminder_id,
        expected_version=expected_version,
        change="snooze",
        apply=lambda r, now: rules.snooze(r, until=until, now=now),
        details={"until": until.isoformat()},
    )
    # The reminder reopens when the snooze ends: the tick must look at its pathway then.
    due_no_later_than(session, reminder.pathway_id, until)
    return reminder


def dismiss_reminder(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    reminder_id: int,
    reason: str,
    expected_version: int | None = None,
) -> Reminder:
    """Not relevant for this patient (with a reason, kept in the audit log); it stays dismissed while the
    gap persists and is resolved when the gap closes."""
    reminder = _change(
        session,
        actor,
        clock,
        reminder_id=reminder_id,
        expected_version=expected_version,
        change="dismiss",
        apply=lambda r, now: rules.dismiss(r, reason=reason),
        details={"reason": reason},
    )
    reminder.dismissed_by_id = actor.user_id
    return reminder


# ---------------------------------------------------------------------------- coordination facts
def record_pathway_fact(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    pathway_id: int,
    fact: PathwayFactType,
    occurred_at: datetime,
    idempotency_key: str,
    source: EventSource = EventSource.USER,
    plan_id: int | None = None,
    organisation_id: int | None = None,
    payload: dict[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
) -> PathwayFact:
    """Record that the municipality was told, a network meeting was requested or held, a plan was shared,
        delivered or read; then re-evaluate the pathway's reminders at once (once: not again at the commit), with
    the session's settings unless ``config`` is given. Replays change nothing.

        For anyone whose care relation to the patient lets their role handle reminders (§13c); an unknown
        pathway id gets the refusal someone else's stay gets."""
    permission = Permission.HANDLE_REMINDERS
    previous = session.scalar(
        sa.select(PathwayFact).where(PathwayFact.idempotency_key == idempotency_key)
    )
    if previous is not None:  # told only to someone who may record facts on that stay
        known = session.get_one(Pathway, previous.pathway_id)
        require_patient_access(
            session, actor, clock, known.patient_id, permission, resource=("Pathway", known.id)
        )
        return previous
    pathway = session.get(Pathway, pathway_id)
    if pathway is None:
        raise refuse_unknown(
            session,
            actor,
            clock,
            permission,
            entity="pathway",
            resource_type="Pathway",
            key=pathway_id,
        )
    decision = require_patient_access(
        session, actor, clock, pathway.patient_id, permission, resource=("Pathway", pathway.id)
    )
    occurred_at = ensure_utc(occurred_at)
    now = clock.now()
    errors = ErrorCollector()
    if occurred_at < pathway.admitted_at:
        errors.add("occurred_at", "the fact cannot be older than the admission")
    if occurred_at > now:
        errors.add("occurred_at", "the fact cannot lie in the future")
    if not pathway.status.is_open:
        errors.add("pathway_id", f"the pathway is {pathway.status.value}", "closed")
    # A fact points only at this patient's plans and at known organisations: never at another
    # patient's plan (whose existence it would confirm by being accepted).
    plan = session.get(Plan, plan_id) if plan_id is not None else None
    if plan_id is not None and (plan is None or plan.patient_id != pathway.patient_id):
        errors.add("plan_id", "is not one of this patient's plans", "unknown")
    if organisation_id is not None and session.get(Organisation, organisation_id) is None:
        errors.add("organisation_id", f"organisation {organisation_id} does not exist", "unknown")
    errors.raise_if_any()
    row = PathwayFact(
        pathway_id=pathway.id,
        type=fact,
        occurred_at=occurred_at,
        recorded_at=now,
        source=source,
        idempotency_key=idempotency_key,
        plan_id=plan_id,
        organisation_id=organisation_id,
        recorded_by_id=actor.user_id,
        payload=payload or {},
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="Pathway",
        resource_id=pathway.id,
        patient_id=pathway.patient_id,
        purpose=decision.purpose,
        details={"fact": fact.value},
    )
    # Evaluated here, so the caller sees the effect before its commit; the commit hook then skips it.
    evaluate_pathways(
        session, clock, [pathway.id], config=session_config(session) if config is None else config
    )
    triggers.evaluated(session, pathway.id)
    return row
