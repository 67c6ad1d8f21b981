"""Gap detection against the database: evaluate pathways, reconcile with the stored reminders.

``evaluate_pathways`` runs inside the caller's transaction (a pathway event re-evaluates its pathway at
once) and stores when the pathway's gaps next change by time alone (``gap_next_due``); ``tick`` evaluates
the pathways queued by a change and those whose due time has passed; ``scan_all``, the nightly safety net,
walks every open pathway (and every closed one that still has an open reminder) in claimed ranges, one
transaction each, so memory stays flat and several processes share it (ADR 0012).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.care_pathways.models import Pathway
from coordinator.db import Database
from coordinator.organisations.models import Organisation
from coordinator.reminders.delivery import notify_now
from coordinator.reminders.facts import among, load_facts
from coordinator.reminders.models import (
    NextDue,
    QueuedEvaluation,
    Reminder,
    ScanRange,
    ScanRun,
    StoredRank,
    stored,
    sync_state,
)
from pathways import reminders as rules
from pathways.calendar_dk import CalendarSettings, WorkingCalendar, default_calendar
from pathways.clock import Clock
from pathways.stays import PathwayStatus
from pathways.worklists import StayRank, stay_rank

log = structlog.get_logger("carepath.reminders")
OPEN_REMINDER = (
    rules.ReminderStatus.OPEN,
    rules.ReminderStatus.ACKNOWLEDGED,
    rules.ReminderStatus.SNOOZED,
)
OPEN_PATHWAY = (PathwayStatus.ADMITTED, PathwayStatus.ON_LEAVE, PathwayStatus.DISCHARGED)
URGENT = (rules.Severity.URGENT, rules.Severity.BREACH)
# New reminders up to this many: the ORM's one INSERT beats the bulk path's two statements.
_FEW = 8


@dataclass(slots=True)
class ScanSummary:
    pathways: int = 0
    gaps: int = 0
    created: int = 0
    updated: int = 0
    reopened: int = 0
    resolved: int = 0
    notified: int = 0
    rescheduled: int = 0  # next due times written (new, moved or cleared)
    failed: int = 0  # pathways whose evaluation failed (logged; tried again later)

    @property
    def changes(self) -> int:
        """Reminders made, changed, reopened or resolved: what a safety-net scan must not find."""
        return self.created + self.updated + self.reopened + self.resolved

    def add(self, other: ScanSummary) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_log(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# The columns ``reconcile`` compares, named as rules.StoredReminder's fields.
_STORED_COLUMNS = (
    Reminder.id,
    Reminder.pathway_id,
    Reminder.rule,
    Reminder.obligation_key,
    Reminder.status,
    Reminder.severity,
    Reminder.due_at,
    Reminder.owner_organisation_id,
    Reminder.owner_person_id,
    Reminder.plan_id,
    Reminder.legal_basis,
    Reminder.message,
    Reminder.escalation_level,
    Reminder.snoozed_until,
    Reminder.acknowledged_at,
    Reminder.acknowledged_by_id,
    Reminder.resolved_at,
    Reminder.dismissed_reason,
    Reminder.created_at,
)


class MemoCalendar(WorkingCalendar):
    """A working calendar that remembers its answers (one scan's worth): the same few hundred days are asked
    about tens of thousands of times. The answers are the parent's; only the counting is done once."""

    __slots__ = ("_added", "_between", "_working")

    def __init__(self, settings: CalendarSettings | None = None) -> None:
        super().__init__(settings)
        self._working: dict[date, bool] = {}
        self._between: dict[tuple[date, date], int] = {}
        self._added: dict[tuple[date, int], date] = {}

    def is_working_day(self, d: date) -> bool:
        found = self._working.get(d)
        if found is None:
            found = self._working[d] = super().is_working_day(d)
        return found

    def working_days_between(self, start: date, end: date) -> int:
        found = self._between.get((start, end))
        if found is None:
            found = self._between[(start, end)] = super().working_days_between(start, end)
        return found

    def add_working_days(self, start: date, n: int) -> date:
        found = self._added.get((start, n))
        if found is None:
            found = self._added[(start, n)] = super().add_working_days(start, n)
        return found


def _gap_values(gap: rules.Gap) -> dict[str, Any]:
    """The columns a reminder takes from its gap (on creation, and on every change of the gap)."""
    return {
        "severity": gap.severity,
        "due_at": gap.due_at,
        "owner_organisation_id": gap.owner.organisation_id,
        "owner_person_id": gap.owner.person_id,
        "escalate_to_organisation_id": gap.escalate_to.organisation_id if gap.escalate_to else None,
        "escalate_to_person_id": gap.escalate_to.person_id if gap.escalate_to else None,
        "plan_id": gap.plan_id,
        "legal_basis": gap.basis,
        "message": gap.message,
        "params": dict(gap.params),
    }


def _apply_gap(row: Reminder, gap: rules.Gap, now: datetime) -> None:
    for column, value in _gap_values(gap).items():
        setattr(row, column, value)
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
    patients: set[int] = set()
    next_due: dict[int, datetime | None] = dict.fromkeys(pathway_ids)
    ranks: dict[int, StayRank] = {}
    for facts in load_facts(session, pathway_ids):
        patients.add(facts.patient_id)
        ranks[facts.pathway_id] = stay_rank(facts, now)
        thresholds = rules.thresholds_for(facts.region_code, facts.kommunekode, overrides)
        evaluation = rules.assess(facts, now, calendar=calendar, thresholds=thresholds)
        gaps += evaluation.gaps
        next_due[facts.pathway_id] = evaluation.next_due_at
    summary.gaps = len(gaps)
    # What reconcile needs, as plain rows; ORM objects only for the reminders that change (usually few).
    # reminders has no index on pathway_id: they are read through their patient's (indexed; a reminder's
    # patient is its pathway's, copied when it is made, and a pathway never changes patient), and those of
    # the patients' other pathways dropped here. By pathway_id each batch would read the whole table.
    wanted = set(pathway_ids)
    existing = [
        rules.StoredReminder(*row)  # the columns are the fields, in order (a test holds them so)
        for row in session.execute(
            sa.select(*_STORED_COLUMNS).where(among(session, Reminder.patient_id, patients))
        )
        if row.pathway_id in wanted
    ]
    plan = rules.reconcile(existing, gaps, now)
    # A snoozed reminder that stays snoozed reopens when its snooze ends: that is a due time too.
    changed_now = {i for i, _ in plan.reopen} | set(plan.resolve)
    for pathway_id, wake in _snooze_ends(existing, changed_now, now).items():
        next_due[pathway_id] = rules.earliest(next_due[pathway_id], wake)
    summary.rescheduled = store_next_due(session, next_due)
    store_ranks(session, ranks)
    changing = [i for i, _ in plan.update] + [i for i, _ in plan.reopen] + plan.resolve
    rows = (
        {
            row.id: row
            for row in session.scalars(
                sa.select(Reminder).where(among(session, Reminder.id, changing))
            )
        }
        if changing
        else {}
    )
    to_notify = _create(session, plan.create, now)
    summary.created += len(plan.create)
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
    summary.notified += _notify(session, to_notify, now, config or {})
    return summary


def _notify(
    session: Session, to_notify: list[Reminder], now: datetime, config: Mapping[str, Any]
) -> int:
    """notify_now looks up each owner: the person, else (no usable person) the organisation. Read them
    all up front, one query each, instead of one query per mail; the list holds them, because the
    session's identity map only keeps what is referenced."""
    held: list[Any] = []
    people = {r.owner_person_id for r in to_notify if r.owner_person_id is not None}
    if people:
        held += session.scalars(sa.select(User).where(among(session, User.id, people)))
    usable = {user.id for user in held if user.is_active and user.email}
    orgs = {r.owner_organisation_id for r in to_notify if r.owner_person_id not in usable}
    if orgs:
        held += session.scalars(
            sa.select(Organisation).where(among(session, Organisation.id, orgs))
        )
    notified = notify_now(session, to_notify, now, config)
    held.clear()
    return notified


def _snooze_ends(
    existing: Sequence[rules.StoredReminder], changing: set[int], now: datetime
) -> dict[int, datetime]:
    by_pathway: dict[int, list[rules.StoredReminder]] = {}
    for reminder in existing:
        if reminder.id not in changing:
            by_pathway.setdefault(reminder.pathway_id, []).append(reminder)
    found = {p: rules.next_wake(rs, now) for p, rs in by_pathway.items()}
    return {p: wake for p, wake in found.items() if wake is not None}


def _upsert(session: Session, model: type[NextDue | StoredRank], *columns: str) -> Any:
    """INSERT ... ON CONFLICT (pathway_id) DO UPDATE SET these columns."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(model)
    return statement.on_conflict_do_update(
        index_elements=["pathway_id"], set_={c: statement.excluded[c] for c in columns}
    )


def stored_ranks(
    session: Session, pathway_ids: Sequence[int], *, evaluated_only: bool = False
) -> dict[int, StayRank]:
    """The stored worklist ranks of these stays (ADR 0015); with ``evaluated_only``, not of those
    waiting in the evaluation queue (their facts may have changed since their rank was stored)."""
    if not pathway_ids:
        return {}
    statement = sa.select(StoredRank.pathway_id, StoredRank.state, StoredRank.due_at).where(
        among(session, StoredRank.pathway_id, pathway_ids)
    )
    if evaluated_only:
        statement = statement.where(
            StoredRank.pathway_id.not_in(sa.select(QueuedEvaluation.pathway_id))
        )
    return {row.pathway_id: StayRank(row.state, row.due_at) for row in session.execute(statement)}


def store_ranks(session: Session, ranks: Mapping[int, StayRank]) -> int:
    """Write these stays' worklist ranks, only those that differ from the stored ones (ADR 0015)."""
    if not ranks:
        return 0
    stored_now = stored_ranks(session, list(ranks))
    changed = [
        {"pathway_id": p, "state": rank.state, "due_at": rank.due_at}
        for p, rank in ranks.items()
        if stored_now.get(p) != rank
    ]
    if changed:
        session.execute(_upsert(session, StoredRank, "state", "due_at"), changed)
    return len(changed)


def store_next_due(session: Session, next_due: Mapping[int, datetime | None]) -> int:
    """Write these pathways' next due times (None: none, the row goes), only those that differ from the
    stored ones. Answers how many rows were written or removed."""
    if not next_due:
        return 0
    stored_now: dict[int, datetime] = {
        row.pathway_id: row.due_at
        for row in session.execute(
            sa.select(NextDue.pathway_id, NextDue.due_at).where(
                among(session, NextDue.pathway_id, list(next_due))
            )
        )
    }
    gone = [p for p, due in next_due.items() if due is None and p in stored_now]
    moved = [
        {"pathway_id": p, "due_at": due}
        for p, due in next_due.items()
        if due is not None and stored_now.get(p) != due
    ]
    if gone:
        session.execute(sa.delete(NextDue).where(among(session, NextDue.pathway_id, gone)))
    if moved:
        session.execute(_upsert(session, NextDue, "due_at"), moved)
    return len(gone) + len(moved)


def due_no_later_than(session: Session, pathway_id: int, at: datetime) -> None:
    """Bring a pathway's next due time forward to ``at`` (a reminder snoozed until then reopens at
    ``at``); a later stored time is replaced, an earlier one kept. The next evaluation sets it exactly."""
    current = session.scalar(sa.select(NextDue.due_at).where(NextDue.pathway_id == pathway_id))
    if current is None or current > at:
        session.execute(
            _upsert(session, NextDue, "due_at"), [{"pathway_id": pathway_id, "due_at": at}]
        )


def _create(session: Session, gaps: Sequence[rules.Gap], now: datetime) -> list[Reminder]:
    """Make the reminders of these new gaps; answers those that are urgent (their mail goes at once).

    Many on PostgreSQL (a scan batch): ids drawn from the sequence in one statement, rows inserted with one
    executemany (psycopg pipelines it), and the urgent ones answered as transient Reminder objects with the
    same values; the ORM's unit of work would instead send a multi-row INSERT ... RETURNING whose thousands
    of placeholders psycopg parses in Python. A few (one pathway's change), or another database: the ORM,
    one statement."""
    if not gaps:
        return []
    if len(gaps) <= _FEW or session.get_bind().dialect.name != "postgresql":
        created = [Reminder(**_new_values(gap, now)) for gap in gaps]
        session.add_all(created)
        return [row for row in created if row.severity in URGENT]
    ids = session.scalars(
        sa.text(
            "SELECT nextval(pg_get_serial_sequence('reminders', 'id')) FROM generate_series(1, :n)"
        ),
        {"n": len(gaps)},
    ).all()
    values = [
        {"id": i, "version": 1, **_new_values(gap, now)} for i, gap in zip(ids, gaps, strict=True)
    ]
    session.execute(sa.insert(cast(sa.Table, Reminder.__table__)), values)  # Core executemany
    return [Reminder(**v) for v in values if v["severity"] in URGENT]


def _new_values(gap: rules.Gap, now: datetime) -> dict[str, Any]:
    """Every column of a new, open reminder for ``gap`` but its id and its version (the ORM's optimistic
    lock counter, 1 for a new row)."""
    return {
        "rule": gap.rule.value,
        "pathway_id": gap.pathway_id,
        "patient_id": gap.patient_id,
        "obligation_key": gap.obligation_key,
        "status": rules.ReminderStatus.OPEN,
        "escalation_level": 0,
        "snoozed_until": None,
        "acknowledged_at": None,
        "acknowledged_by_id": None,
        "resolved_at": None,
        "dismissed_reason": "",
        "dismissed_by_id": None,
        "created_at": now,
        "updated_at": now,
        **_gap_values(gap),
    }


def _scanned(session: Session) -> sa.ColumnElement[bool]:
    """The pathways a full scan evaluates: the open ones, and closed ones that still have an open
    reminder (their evaluation resolves it)."""
    with_open_reminder = sa.select(Reminder.pathway_id).where(Reminder.status.in_(OPEN_REMINDER))
    return sa.or_(Pathway.status.in_(OPEN_PATHWAY), Pathway.id.in_(with_open_reminder))


def _cut(session: Session, size: int) -> list[tuple[int, int | None]]:
    """The full scan's ranges of pathway ids, ``size`` scanned pathways each; the last has no upper end
    (a pathway made during the scan lands there)."""
    ids = list(session.scalars(sa.select(Pathway.id).where(_scanned(session)).order_by(Pathway.id)))
    ranges: list[tuple[int, int | None]] = []
    first = 0
    for at in range(0, len(ids), size):
        last = ids[min(at + size, len(ids)) - 1]
        ranges.append((first, last))
        first = last + 1
    ranges.append((first, None))
    return ranges


KEEP_RUNS = timedelta(days=7)


def _start_run(session: Session, key: str, now: datetime, size: int) -> bool:
    """Make the run ``key`` and its ranges unless it exists; True when this call made it. Two processes
    starting the same run at once: the second waits on the first's key, then finds it made."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    made = session.execute(
        insert(ScanRun)
        .values(key=key, started_at=now, ranges=0)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(ScanRun.key)
    ).first()
    if made is None:
        return False
    ranges = _cut(session, size)
    session.execute(
        sa.insert(ScanRange),
        [{"run_key": key, "first_id": a, "last_id": b, "done_at": None} for a, b in ranges],
    )
    session.execute(sa.update(ScanRun).where(ScanRun.key == key).values(ranges=len(ranges)))
    old = sa.select(ScanRun.key).where(ScanRun.started_at < now - KEEP_RUNS)
    session.execute(sa.delete(ScanRange).where(ScanRange.run_key.in_(old)))
    session.execute(sa.delete(ScanRun).where(ScanRun.started_at < now - KEEP_RUNS))
    return True


def scan_all(
    database: Database,
    clock: Clock,
    config: Mapping[str, Any],
    *,
    batch_size: int = 2000,
    run_key: str | None = None,
) -> ScanSummary:
    """The full scan: every open pathway (and every closed one with an open reminder), in ranges of
    ``batch_size`` pathways, one transaction each, so memory stays flat and a crash loses one range.

    Several processes share one run: they call this with the same ``run_key`` (the nightly scan: its local
    date). The first cuts the pathways into ranges (``gap_scan_ranges``); each process claims the next
    range nobody holds (``FOR UPDATE SKIP LOCKED``), scans it and marks it done in the same transaction.
    A range whose process died is claimed again. Without a key the run is this call's own. On SQLite (one
    scheduler) the claims are plain reads."""
    key = run_key or f"once:{uuid.uuid4().hex}"
    summary = ScanSummary()
    calendar = MemoCalendar(default_calendar().settings)
    with database.transaction() as session:
        _start_run(session, key, clock.now(), batch_size)
    while True:
        with database.transaction() as session:
            claimed = session.execute(
                sa.select(ScanRange.first_id, ScanRange.last_id)
                .where(ScanRange.run_key == key, ScanRange.done_at.is_(None))
                .order_by(ScanRange.first_id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if claimed is None:
                break
            first, last = claimed
            in_range = Pathway.id >= first if last is None else Pathway.id.between(first, last)
            ids = list(
                session.scalars(
                    sa.select(Pathway.id).where(in_range, _scanned(session)).order_by(Pathway.id)
                )
            )
            summary.add(evaluate_pathways(session, clock, ids, config=config, calendar=calendar))
            session.execute(
                sa.update(ScanRange)
                .where(ScanRange.run_key == key, ScanRange.first_id == first)
                .values(done_at=clock.now())
            )
    if run_key is None:
        with database.transaction() as session:
            session.execute(sa.delete(ScanRange).where(ScanRange.run_key == key))
            session.execute(sa.delete(ScanRun).where(ScanRun.key == key))
    return summary


RETRY_FAILED = timedelta(hours=1)


def _claim_due(session: Session, now: datetime, limit: int, only: int | None = None) -> list[int]:
    due = sa.select(NextDue.pathway_id).where(NextDue.due_at <= now)
    if only is not None:
        due = due.where(NextDue.pathway_id == only)
    return list(
        session.scalars(
            due.order_by(NextDue.due_at, NextDue.pathway_id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # SQLite has no row locks and renders none
        )
    )


def evaluate_due(
    database: Database, clock: Clock, config: Mapping[str, Any], *, batch_size: int = 500
) -> ScanSummary:
    """Evaluate the pathways whose next due time has passed (``gap_next_due``), earliest first, a batch per
    transaction. Each evaluation moves the pathway's due time past now (or removes it), so the loop ends.
    Several schedulers share the work on PostgreSQL: each claims rows the others have not locked.

    Should a batch fail, its pathways are evaluated one by one, so that one pathway whose evaluation
    fails cannot hold up every other reminder: it is logged (``reminders.evaluation_failed``), counted
    as ``failed`` and tried again after ``RETRY_FAILED`` (and by the nightly scan)."""
    summary = ScanSummary()
    calendar = MemoCalendar(default_calendar().settings)
    now = clock.now()
    while True:
        claimed: list[int] = []
        try:
            with database.transaction() as session:
                claimed = _claim_due(session, now, batch_size)
                if claimed:
                    summary.add(
                        evaluate_pathways(
                            session, clock, sorted(claimed), config=config, calendar=calendar
                        )
                    )
        except Exception:
            if not claimed:
                raise  # the claim itself failed: nothing to isolate
            log.exception("reminders.tick_batch_failed", pathways=len(claimed))
            summary.add(_one_by_one(database, clock, config, claimed, calendar=calendar, now=now))
            continue
        if not claimed:
            return summary


def _one_by_one(
    database: Database,
    clock: Clock,
    config: Mapping[str, Any],
    pathway_ids: Sequence[int],
    *,
    calendar: WorkingCalendar,
    now: datetime,
) -> ScanSummary:
    summary = ScanSummary()
    for pathway_id in pathway_ids:
        try:
            with database.transaction() as session:
                if _claim_due(session, now, 1, only=pathway_id):
                    summary.add(
                        evaluate_pathways(
                            session, clock, [pathway_id], config=config, calendar=calendar
                        )
                    )
        except Exception:
            log.exception("reminders.evaluation_failed", pathway=pathway_id)
            summary.failed += 1
            with database.transaction() as session:
                session.execute(
                    sa.update(NextDue)
                    .where(NextDue.pathway_id == pathway_id)
                    .values(due_at=clock.now() + RETRY_FAILED)
                )
    return summary


def tick(
    database: Database, clock: Clock, config: Mapping[str, Any], *, batch_size: int = 500
) -> ScanSummary:
    """The scheduler's frequent tick: the pathways queued by a change, then those whose next due time
    has passed. Its work grows with what is due, not with what is open."""
    summary = evaluate_queued(database, clock, config, batch_size=batch_size)
    summary.add(evaluate_due(database, clock, config, batch_size=batch_size))
    return summary


def evaluate_queued(
    database: Database, clock: Clock, config: Mapping[str, Any], *, batch_size: int = 500
) -> ScanSummary:
    """Drain the queue of deferred evaluations (see coordinator.reminders.triggers), oldest first, a batch
    per transaction. Several schedulers may drain at once on PostgreSQL: each takes rows the others have
    not locked (SKIP LOCKED). A pathway queued again while its batch runs gets a row of its own after the
    batch commits, so a change is never lost."""
    summary = ScanSummary()
    calendar = MemoCalendar(default_calendar().settings)
    while True:
        with database.transaction() as session:
            ids = list(
                session.scalars(
                    sa.select(QueuedEvaluation.pathway_id)
                    .order_by(QueuedEvaluation.queued_at, QueuedEvaluation.pathway_id)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)  # SQLite has no row locks and renders none
                )
            )
            if not ids:
                break
            summary.add(evaluate_pathways(session, clock, ids, config=config, calendar=calendar))
            session.execute(sa.delete(QueuedEvaluation).where(QueuedEvaluation.pathway_id.in_(ids)))
    return summary
