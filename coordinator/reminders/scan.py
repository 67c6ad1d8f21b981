"""Gap detection against the database: evaluate pathways, reconcile with the stored reminders.

``evaluate_pathways`` runs inside the caller's transaction (a pathway event re-evaluates its pathway at
once); ``scan_all`` walks every open pathway (and every closed one that still has an open reminder) in
keyset batches, one transaction per batch, so memory stays flat however many pathways there are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.care_pathways.models import Pathway
from coordinator.db import Database
from coordinator.reminders.delivery import notify_now
from coordinator.reminders.facts import load_facts
from coordinator.reminders.models import Reminder
from pathways import reminders as rules
from pathways.calendar_dk import WorkingCalendar, default_calendar
from pathways.clock import Clock
from pathways.stays import PathwayStatus

OPEN_REMINDER = (
    rules.ReminderStatus.OPEN,
    rules.ReminderStatus.ACKNOWLEDGED,
    rules.ReminderStatus.SNOOZED,
)
OPEN_PATHWAY = (PathwayStatus.ADMITTED, PathwayStatus.ON_LEAVE, PathwayStatus.DISCHARGED)
URGENT = (rules.Severity.URGENT, rules.Severity.BREACH)


@dataclass(slots=True)
class ScanSummary:
    pathways: int = 0
    gaps: int = 0
    created: int = 0
    updated: int = 0
    reopened: int = 0
    resolved: int = 0
    notified: int = 0

    def add(self, other: ScanSummary) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_log(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def stored(row: Reminder) -> rules.StoredReminder:
    return rules.StoredReminder(
        id=row.id,
        pathway_id=row.pathway_id,
        rule=row.rule,
        obligation_key=row.obligation_key,
        status=row.status,
        severity=row.severity,
        due_at=row.due_at,
        owner_organisation_id=row.owner_organisation_id,
        owner_person_id=row.owner_person_id,
        plan_id=row.plan_id,
        legal_basis=row.legal_basis,
        message=row.message,
        escalation_level=row.escalation_level,
        snoozed_until=row.snoozed_until,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by_id=row.acknowledged_by_id,
        resolved_at=row.resolved_at,
        dismissed_reason=row.dismissed_reason,
    )


def _apply_gap(row: Reminder, gap: rules.Gap, now: datetime) -> None:
    row.severity = gap.severity
    row.due_at = gap.due_at
    row.owner_organisation_id = gap.owner.organisation_id
    row.owner_person_id = gap.owner.person_id
    row.escalate_to_organisation_id = gap.escalate_to.organisation_id if gap.escalate_to else None
    row.escalate_to_person_id = gap.escalate_to.person_id if gap.escalate_to else None
    row.plan_id = gap.plan_id
    row.legal_basis = gap.basis
    row.message = gap.message
    row.params = dict(gap.params)
    row.updated_at = now


def sync_state(row: Reminder, state: rules.StoredReminder, now: datetime) -> None:
    """Copy a lifecycle result (pathways.reminders) onto the row."""
    row.status = state.status
    row.escalation_level = state.escalation_level
    row.snoozed_until = state.snoozed_until
    row.acknowledged_at = state.acknowledged_at
    row.acknowledged_by_id = state.acknowledged_by_id
    row.resolved_at = state.resolved_at
    row.dismissed_reason = state.dismissed_reason
    row.updated_at = now


def evaluate_pathways(
    session: Session,
    clock: Clock,
    pathway_ids: Sequence[int],
    *,
    config: Mapping[str, Any] | None = None,
    calendar: WorkingCalendar | None = None,
) -> ScanSummary:
    """Evaluate the gap rules for these pathways and bring their reminders in line, in this transaction."""
    summary = ScanSummary(pathways=len(pathway_ids))
    if not pathway_ids:
        return summary
    now = clock.now()
    calendar = calendar or default_calendar()
    overrides = (config or {}).get("REMINDER_RULES_OVERRIDES")
    gaps: list[rules.Gap] = []
    for facts in load_facts(session, pathway_ids):
        thresholds = rules.thresholds_for(facts.region_code, facts.kommunekode, overrides)
        gaps += rules.evaluate(facts, now, calendar=calendar, thresholds=thresholds)
    summary.gaps = len(gaps)
    rows = {
        row.id: row
        for row in session.scalars(sa.select(Reminder).where(Reminder.pathway_id.in_(pathway_ids)))
    }
    plan = rules.reconcile([stored(r) for r in rows.values()], gaps, now)
    to_notify: list[Reminder] = []
    for gap in plan.create:
        row = Reminder(
            rule=gap.rule.value,
            pathway_id=gap.pathway_id,
            patient_id=gap.patient_id,
            obligation_key=gap.obligation_key,
            status=rules.ReminderStatus.OPEN,
            created_at=now,
        )
        _apply_gap(row, gap, now)
        session.add(row)
        summary.created += 1
        if gap.severity in URGENT:
            to_notify.append(row)
    for reminder_id, gap in plan.update:
        row = rows[reminder_id]
        rising = gap.severity.rank > row.severity.rank
        _apply_gap(row, gap, now)
        summary.updated += 1
        if rising and gap.severity in URGENT:
            to_notify.append(row)
    for reminder_id, gap in plan.reopen:
        row = rows[reminder_id]
        sync_state(row, rules.reopen(stored(row)), now)
        _apply_gap(row, gap, now)
        summary.reopened += 1
        if gap.severity in URGENT:
            to_notify.append(row)
    for reminder_id in plan.resolve:
        row = rows[reminder_id]
        sync_state(row, rules.resolve(stored(row), now=now), now)
        summary.resolved += 1
    session.flush()
    for row in to_notify:
        summary.notified += notify_now(session, row, now, config or {})
    return summary


def _batch(session: Session, after_id: int, size: int) -> list[int]:
    with_open_reminder = sa.select(Reminder.pathway_id).where(Reminder.status.in_(OPEN_REMINDER))
    return list(
        session.scalars(
            sa.select(Pathway.id)
            .where(
                Pathway.id > after_id,
                sa.or_(Pathway.status.in_(OPEN_PATHWAY), Pathway.id.in_(with_open_reminder)),
            )
            .order_by(Pathway.id)
            .limit(size)
        )
    )


def scan_all(
    database: Database, clock: Clock, config: Mapping[str, Any], *, batch_size: int = 2000
) -> ScanSummary:
    """The scheduler's full scan. Each batch commits on its own: a crash loses at most one batch of work,
    and the next scan (idempotent by the reminders' unique key) redoes it."""
    summary = ScanSummary()
    calendar = default_calendar()
    after = 0
    while True:
        with database.transaction() as session:
            ids = _batch(session, after, batch_size)
            if not ids:
                break
            summary.add(evaluate_pathways(session, clock, ids, config=config, calendar=calendar))
        after = ids[-1]
    return summary
