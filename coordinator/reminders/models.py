from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.db import Base, IntPK
from pathways import reminders as rules
from pathways.reminders import ReminderStatus, Severity
from pathways.worklists import WorkState


class Reminder(Base):
    """A gap in a transition that somebody must close. One row per (rule, pathway, obligation)."""

    __tablename__ = "reminders"

    id: Mapped[IntPK]
    rule: Mapped[str] = mapped_column(sa.String(64))
    pathway_id: Mapped[int] = mapped_column(sa.ForeignKey("pathways.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plans.id"))
    obligation_key: Mapped[str] = mapped_column(sa.String(100), default="")
    status: Mapped[ReminderStatus] = mapped_column(default=ReminderStatus.OPEN)
    severity: Mapped[Severity]
    legal_basis: Mapped[str] = mapped_column(sa.String(200), default="")
    message: Mapped[str] = mapped_column(sa.Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    due_at: Mapped[datetime]
    owner_organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    owner_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Who hears of it when nobody answers (backup person, team or chief physician).
    escalate_to_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id")
    )
    escalate_to_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    escalation_level: Mapped[int] = mapped_column(default=0)
    snoozed_until: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    dismissed_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    dismissed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    __table_args__ = (
        sa.UniqueConstraint("rule", "pathway_id", "obligation_key"),
        sa.Index("ix_reminders_owner_open", "owner_organisation_id", "status", "due_at"),
        sa.Index("ix_reminders_person_open", "owner_person_id", "status"),
    )


class QueuedEvaluation(Base):
    """A pathway whose gaps must be evaluated again. A change that defers its evaluation (a MedCom message,
    see coordinator.reminders.triggers) writes it in its own transaction; the scheduler's ``evaluate_queued``
    job drains the queue every few seconds. One row per pathway, however many changes wait."""

    __tablename__ = "gap_evaluation_queue"

    pathway_id: Mapped[int] = mapped_column(sa.ForeignKey("pathways.id"), primary_key=True)
    queued_at: Mapped[datetime]


class NextDue(Base):
    """When a pathway's gaps next change by time alone (``pathways.reminders.assess``): every evaluation
    writes it, and the scheduler's tick evaluates the pathways whose time has passed. Only pathways with
    such a time have a row (a closed pathway has none), so the table and its index stay the size of the
    open pathways. A side table, not a column of ``pathways``: the tick locks these rows (SKIP LOCKED),
    never a pathway a clinician is changing, and a new due time is no new version of the pathway."""

    __tablename__ = "gap_next_due"

    pathway_id: Mapped[int] = mapped_column(sa.ForeignKey("pathways.id"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(index=True)


class StoredRank(Base):
    """A stay's worklist rank (``pathways.worklists.StayRank``: the obligation's state and its own
    deadline), written by every evaluation beside the next due time, only where it changed. It changes
    only with the stay's facts, so it is as fresh as the reminders; a worklist ranks all the stays in its
    scope from these rows and reads full facts only for the page it shows (ADR 0015). A stay without a row
    (never evaluated) or waiting in ``gap_evaluation_queue`` is ranked from its facts instead."""

    __tablename__ = "stay_ranks"

    pathway_id: Mapped[int] = mapped_column(sa.ForeignKey("pathways.id"), primary_key=True)
    state: Mapped[WorkState]
    due_at: Mapped[datetime | None]


class ScanRun(Base):
    """One nightly full scan (the safety net), shared by every scheduler process that runs it: the first
    cuts the pathways into ranges (``ScanRange``), each process claims ranges with SKIP LOCKED."""

    __tablename__ = "gap_scan_runs"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    started_at: Mapped[datetime]
    ranges: Mapped[int] = mapped_column(default=0)


class ScanRange(Base):
    """Pathway ids ``first_id`` up to ``last_id`` (None: no upper end) of one full scan; ``done_at`` once
    a process has scanned them (in the same transaction that claimed the row)."""

    __tablename__ = "gap_scan_ranges"

    run_key: Mapped[str] = mapped_column(
        sa.ForeignKey("gap_scan_runs.key", ondelete="CASCADE"), primary_key=True
    )
    first_id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int | None]
    done_at: Mapped[datetime | None]


# The row as the lifecycle rules (pathways.reminders) see it (the columns of the same names), and their
# result copied back.
_STORED_FIELDS = tuple(f.name for f in fields(rules.StoredReminder))


def stored(row: Reminder) -> rules.StoredReminder:
    return rules.StoredReminder(**{name: getattr(row, name) for name in _STORED_FIELDS})


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
