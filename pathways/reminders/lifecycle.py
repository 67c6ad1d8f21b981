"""The reminder lifecycle: statuses and actions, the stored reminder, ``reconcile`` of gaps against
stored reminders, and escalation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from pathways.calendar_dk import WorkingCalendar, default_calendar
from pathways.clock import ensure_utc
from pathways.errors import ErrorCollector, IllegalTransition, ValidationFailed
from pathways.reminders.config import (
    Thresholds,
    thresholds_for,
)
from pathways.reminders.facts import (
    Gap,
    Severity,
    local_day,
    normalise_instants,
)


class ReminderStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class ReminderAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    SNOOZE = "snooze"  # again while snoozed: move the time
    RESOLVE = "resolve"  # automatic: the gap closed
    DISMISS = "dismiss"  # a person decides the reminder does not apply, with a reason
    REOPEN = "reopen"  # the gap came back, the snooze ended, or a dismissal is undone


_R, _A = ReminderStatus, ReminderAction
REMINDER_TRANSITIONS: dict[tuple[ReminderStatus, ReminderAction], ReminderStatus] = {
    (_R.OPEN, _A.ACKNOWLEDGE): _R.ACKNOWLEDGED,
    (_R.OPEN, _A.SNOOZE): _R.SNOOZED,
    (_R.OPEN, _A.RESOLVE): _R.RESOLVED,
    (_R.OPEN, _A.DISMISS): _R.DISMISSED,
    (_R.ACKNOWLEDGED, _A.SNOOZE): _R.SNOOZED,
    (_R.ACKNOWLEDGED, _A.RESOLVE): _R.RESOLVED,
    (_R.ACKNOWLEDGED, _A.DISMISS): _R.DISMISSED,
    (_R.ACKNOWLEDGED, _A.REOPEN): _R.OPEN,
    (_R.SNOOZED, _A.ACKNOWLEDGE): _R.ACKNOWLEDGED,
    (_R.SNOOZED, _A.SNOOZE): _R.SNOOZED,
    (_R.SNOOZED, _A.RESOLVE): _R.RESOLVED,
    (_R.SNOOZED, _A.DISMISS): _R.DISMISSED,
    (_R.SNOOZED, _A.REOPEN): _R.OPEN,
    (_R.RESOLVED, _A.REOPEN): _R.OPEN,
    (_R.DISMISSED, _A.RESOLVE): _R.RESOLVED,  # the gap closed: the occurrence is over
    (_R.DISMISSED, _A.REOPEN): _R.OPEN,
}

MAX_SNOOZE_DAYS = 30
MAX_DISMISS_REASON = 500  # reminders.dismissed_reason is VARCHAR(500)


def next_reminder_status(current: ReminderStatus, action: ReminderAction) -> ReminderStatus:
    try:
        return REMINDER_TRANSITIONS[(current, action)]
    except KeyError:
        raise IllegalTransition("reminder", current.value, action.value) from None


@dataclass(frozen=True, slots=True)
class StoredReminder:
    """The columns of a stored reminder that the lifecycle and ``reconcile`` need."""

    id: int
    pathway_id: int
    rule: str
    obligation_key: str
    status: ReminderStatus
    severity: Severity
    due_at: datetime
    owner_organisation_id: int
    owner_person_id: int | None = None
    plan_id: int | None = None
    legal_basis: str = ""
    message: str = ""
    escalation_level: int = 0
    snoozed_until: datetime | None = None  # kept after the snooze ends: escalation counts from it
    acknowledged_at: datetime | None = None
    acknowledged_by_id: int | None = None
    resolved_at: datetime | None = None
    dismissed_reason: str = ""
    created_at: datetime | None = (
        None  # None: not known (then it is not treated as overdue on arrival)
    )

    def __post_init__(self) -> None:
        normalise_instants(
            self, "due_at", "snoozed_until", "acknowledged_at", "resolved_at", "created_at"
        )

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.pathway_id, self.rule, self.obligation_key)

    def is_snoozed(self, now: datetime) -> bool:
        """Snoozed and the snooze has not ended yet."""
        return (
            self.status is ReminderStatus.SNOOZED
            and self.snoozed_until is not None
            and ensure_utc(now) < self.snoozed_until
        )


def acknowledge(
    reminder: StoredReminder, *, now: datetime, by_id: int | None = None
) -> StoredReminder:
    status = next_reminder_status(reminder.status, ReminderAction.ACKNOWLEDGE)
    return replace(
        reminder, status=status, acknowledged_at=ensure_utc(now), acknowledged_by_id=by_id
    )


def snooze(
    reminder: StoredReminder,
    *,
    until: datetime,
    now: datetime,
    max_days: int = MAX_SNOOZE_DAYS,
) -> StoredReminder:
    """Hide the reminder until ``until``: in the future, at most ``max_days`` days ahead."""
    status = next_reminder_status(reminder.status, ReminderAction.SNOOZE)
    end, at = ensure_utc(until), ensure_utc(now)
    if end <= at:
        raise ValidationFailed.single("snoozed_until", "must be in the future", "in-past")
    if end > at + timedelta(days=max_days):
        raise ValidationFailed.single(
            "snoozed_until", f"must be at most {max_days} days ahead", "too-far"
        )
    return replace(reminder, status=status, snoozed_until=end)


def resolve(reminder: StoredReminder, *, now: datetime) -> StoredReminder:
    """The gap closed (automatic, from ``reconcile``)."""
    status = next_reminder_status(reminder.status, ReminderAction.RESOLVE)
    return replace(reminder, status=status, resolved_at=ensure_utc(now))


def dismiss(reminder: StoredReminder, *, reason: object) -> StoredReminder:
    """A person decides the reminder does not apply; the reason (1 to 500 characters) is kept."""
    errors = ErrorCollector()
    clean = errors.text("reason", reason, max_length=MAX_DISMISS_REASON)
    errors.raise_if_any()
    status = next_reminder_status(reminder.status, ReminderAction.DISMISS)
    return replace(reminder, status=status, dismissed_reason=clean)


def reopen(reminder: StoredReminder) -> StoredReminder:
    """Back to open: clears acknowledgement, resolution, dismissal and the escalation level."""
    status = next_reminder_status(reminder.status, ReminderAction.REOPEN)
    return replace(
        reminder,
        status=status,
        acknowledged_at=None,
        acknowledged_by_id=None,
        resolved_at=None,
        dismissed_reason="",
        escalation_level=0,
    )


def wake(reminder: StoredReminder, now: datetime) -> StoredReminder:
    """Reopen a reminder whose snooze has ended; any other reminder is returned unchanged."""
    if reminder.status is ReminderStatus.SNOOZED and not reminder.is_snoozed(now):
        return reopen(reminder)
    return reminder


def next_wake(reminders: Sequence[StoredReminder], now: datetime) -> datetime | None:
    """The earliest end of a snooze after ``now`` among these reminders (``reconcile`` reopens a snoozed
    reminder once its snooze has ended), or None. Part of a pathway's next due time."""
    at = ensure_utc(now)
    ends = [
        r.snoozed_until
        for r in reminders
        if r.status is ReminderStatus.SNOOZED
        and r.snoozed_until is not None
        and r.snoozed_until > at
    ]
    return min(ends, default=None)


def earliest(*instants: datetime | None) -> datetime | None:
    """The earliest of the instants given, ignoring None; None when there is none."""
    return min((i for i in instants if i is not None), default=None)


# A reminder that comes into being when its deadline has already passed is overdue: nobody had notice of it
# (the upcoming "info" stage never happened), so it is at least this severe, and mailed at once. The rules'
# milder "warning" after a deadline is for a reminder its owner has seen coming.
OVERDUE_ON_ARRIVAL = Severity.URGENT


def arrives_overdue(gap: Gap, created_at: datetime) -> bool:
    """Whether a reminder made for ``gap`` at ``created_at`` came after the gap's deadline."""
    return gap.due_is_deadline and ensure_utc(created_at) >= gap.due_at


def severity_on_arrival(gap: Gap, created_at: datetime) -> Severity:
    """The gap's severity for a reminder made at ``created_at``: at least ``OVERDUE_ON_ARRIVAL`` when
    the deadline had already passed then."""
    if arrives_overdue(gap, created_at) and gap.severity.rank < OVERDUE_ON_ARRIVAL.rank:
        return OVERDUE_ON_ARRIVAL
    return gap.severity


def apply_gap(reminder: StoredReminder, gap: Gap) -> StoredReminder:
    """The reminder with the gap's current severity, due time, owner, plan, basis and message. A
    reminder made after the gap's deadline keeps the severity of an overdue one (``severity_on_arrival``)."""
    severity = (
        gap.severity
        if reminder.created_at is None
        else severity_on_arrival(gap, reminder.created_at)
    )
    return replace(
        reminder,
        severity=severity,
        due_at=gap.due_at,
        owner_organisation_id=gap.owner.organisation_id,
        owner_person_id=gap.owner.person_id,
        plan_id=gap.plan_id,
        legal_basis=gap.basis,
        message=gap.message,
    )


def _arrival_severity(reminder: StoredReminder, gap: Gap) -> Severity:
    """``apply_gap(reminder, gap).severity``, without the copy."""
    if reminder.created_at is None:
        return gap.severity
    return severity_on_arrival(gap, reminder.created_at)


def _differs(reminder: StoredReminder, gap: Gap) -> bool:
    """``apply_gap(reminder, gap) != reminder``, field by field without the copy (a scan compares tens of
    thousands of unchanged reminders; a test holds the two equal)."""
    return (
        _arrival_severity(reminder, gap) is not reminder.severity
        or gap.due_at != reminder.due_at
        or gap.owner.organisation_id != reminder.owner_organisation_id
        or gap.owner.person_id != reminder.owner_person_id
        or gap.plan_id != reminder.plan_id
        or gap.basis != reminder.legal_basis
        or gap.message != reminder.message
    )


def _must_reopen(reminder: StoredReminder, gap: Gap, now: datetime) -> bool:
    status = reminder.status
    if status is ReminderStatus.RESOLVED:
        return True  # the gap came back
    if status is ReminderStatus.SNOOZED:
        return not reminder.is_snoozed(now)
    return status is ReminderStatus.ACKNOWLEDGED and gap.severity.rank > reminder.severity.rank


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What to do with the stored reminders. ``update`` keeps the status and copies the gap's fields
    (``apply_gap``); ``reopen`` sets the status to open first (``reopen`` then ``apply_gap``)."""

    create: list[Gap] = field(default_factory=list)
    update: list[tuple[int, Gap]] = field(default_factory=list)
    reopen: list[tuple[int, Gap]] = field(default_factory=list)
    resolve: list[int] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.create or self.update or self.reopen or self.resolve)


def reconcile(
    existing: Sequence[StoredReminder], gaps: Sequence[Gap], now: datetime
) -> Reconciliation:
    """Match the gaps just evaluated against the stored reminders of the same pathways.

    Pass every stored reminder (any status) of exactly the pathways whose gaps you pass: a reminder without
    a gap is resolved. One reminder per (pathway, rule, obligation_key), never a duplicate:

    - new gap: create; when its deadline has already passed it is overdue on arrival, at least
      ``OVERDUE_ON_ARRIVAL`` (urgent), and stays so while that deadline stands (``apply_gap``);
    - open: update when severity, due time, owner, plan, basis or message changed;
    - acknowledged: the same, but reopen when the severity went up (it needs attention again);
    - snoozed: update while the snooze lasts, reopen once it has ended;
    - dismissed: left alone while the gap persists; resolved when the gap closes, so if it comes back later
      that is a new occurrence and reopens;
    - resolved: reopen when the gap comes back (the table's unique key allows no second row).

    Raises ValueError for two gaps with the same key. Should the store hold two rows for one key, the lowest
    id is kept and the others are resolved."""
    at = ensure_utc(now)
    by_key: dict[tuple[int, str, str], Gap] = {}
    for new in gaps:
        if new.key in by_key:
            raise ValueError(f"two gaps for the same reminder {new.key}")
        by_key[new.key] = new
    canonical: dict[tuple[int, str, str], StoredReminder] = {}
    result = Reconciliation()
    for reminder in sorted(existing, key=lambda r: r.id):
        if reminder.key in canonical:
            if reminder.status is not ReminderStatus.RESOLVED:
                result.resolve.append(reminder.id)
            continue
        canonical[reminder.key] = reminder
    for key, reminder in canonical.items():
        gap = by_key.get(key)
        if gap is None:
            if reminder.status is not ReminderStatus.RESOLVED:
                result.resolve.append(reminder.id)
            continue
        severity = _arrival_severity(reminder, gap)
        current = gap if severity is gap.severity else replace(gap, severity=severity)
        if _must_reopen(reminder, current, at):
            result.reopen.append((reminder.id, current))
        elif reminder.status is not ReminderStatus.DISMISSED and _differs(reminder, current):
            result.update.append((reminder.id, current))
    result.create.extend(
        sorted(
            (
                replace(g, severity=severity_on_arrival(g, at))
                for k, g in by_key.items()
                if k not in canonical
            ),
            key=lambda g: (g.pathway_id, g.due_at, g.rule.value, g.obligation_key),
        )
    )
    result.update.sort(key=lambda pair: pair[0])
    result.reopen.sort(key=lambda pair: pair[0])
    result.resolve.sort()
    return result


def escalation_due(
    reminder: StoredReminder,
    now: datetime,
    calendar: WorkingCalendar | None = None,
    thresholds: Thresholds | None = None,
) -> int | None:
    """The new escalation level when an open reminder has gone unacknowledged long enough, else None.

    Level k is reached k * escalate_after_working_days working days after the due date (or after the end of
    a snooze, if later), up to max_escalation_level. Acknowledged, snoozed, resolved and dismissed reminders
    do not escalate."""
    th = thresholds if thresholds is not None else thresholds_for(None, None)
    at = ensure_utc(now)
    waiting = reminder.status is ReminderStatus.OPEN or (
        reminder.status is ReminderStatus.SNOOZED and not reminder.is_snoozed(at)
    )
    if not waiting or th.max_escalation_level == 0:
        return None
    start = reminder.due_at
    if reminder.snoozed_until is not None:
        start = max(start, reminder.snoozed_until)
    if at < start:
        return None
    cal = calendar if calendar is not None else default_calendar()
    days = cal.working_days_between(local_day(start), local_day(at))
    level = min(days // th.escalate_after_working_days, th.max_escalation_level)
    return level if level > reminder.escalation_level else None
