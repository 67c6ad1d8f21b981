"""Reminders that close gaps in transitions: the gap rules, their thresholds, and the reminder lifecycle.

The package: ``config`` (rule names, parties, thresholds), ``facts`` (what the rules read and the gaps they
find), ``rules`` (the gap rules and ``evaluate``), ``lifecycle`` (stored reminders, ``reconcile``, escalation).

Everything here is pure. The caller builds one flat ``PathwayFacts`` per open pathway from a few queries and
calls ``evaluate(facts, now)``: the answer is the list of gaps that exist right now. ``reconcile`` compares
those gaps with the stored reminders of the same pathways and says which rows to create, update, reopen or
resolve. The lifecycle functions (acknowledge, snooze, dismiss, ...) answer a changed copy of a reminder.

Decisions worth knowing (see also the docstrings of ``evaluate`` and ``reconcile``):

- Upcoming gaps. A gap is returned from the moment it is due, and earlier, with severity "info", once its
  due date is at most ``upcoming_notice_working_days`` working days away, so the inbox shows what is coming
  without listing every future obligation of every pathway. Rules that react to something that already
  happened (a missed follow-up, a readmission, a notification that is due the same day) do not wait.
- Due times are 16:00 Copenhagen time on the day in question (``calendar_dk.DEFAULT_DEADLINE_TIME``); a gap
  counts as overdue from that instant on (``now >= due_at``).
- Owner. The fixed contact person of the responsible sector when that contact is current and the person
  active; otherwise nobody in person, i.e. the team inbox of the organisation. When the organisation of the
  municipality or the GP is unknown, the ward's inbox owns the gap (the ward has to find out). Escalation goes
  to the contact's backup person, and for the ward's own §13a duties to the chief physician.
- Coordination duty. Rules about contacts, the municipality notice and the follow-up apply to pathways whose
  §13a requirement is "required" or "not assessed" yet; a patient assessed as not covered gets no such gaps.
  Rules that react to explicit facts (a requested meeting, a booked follow-up, a proposed plan) always apply.
"""

from pathways.reminders.config import (
    THRESHOLD_KEYS,
    GapRule,
    GpDelivery,
    Party,
    ReminderRules,
    Thresholds,
    default_reminder_rules,
    parse_reminder_rules,
    parse_rule_parties,
    rule_parties,
    rule_title,
    thresholds_for,
)
from pathways.reminders.facts import (
    ContactFacts,
    Gap,
    MeetingActionFacts,
    Owner,
    PathwayFacts,
    PendingParty,
    PlanFacts,
    Severity,
)
from pathways.reminders.lifecycle import (
    MAX_SNOOZE_DAYS,
    REMINDER_TRANSITIONS,
    ReminderAction,
    ReminderStatus,
    StoredReminder,
    acknowledge,
    apply_gap,
    dismiss,
    earliest,
    escalation_due,
    next_reminder_status,
    next_wake,
    reconcile,
    reopen,
    resolve,
    severity_on_arrival,
    snooze,
    wake,
)
from pathways.reminders.rules import Evaluation, assess, evaluate

__all__ = [
    "MAX_SNOOZE_DAYS",
    "REMINDER_TRANSITIONS",
    "THRESHOLD_KEYS",
    "ContactFacts",
    "Evaluation",
    "Gap",
    "GapRule",
    "GpDelivery",
    "MeetingActionFacts",
    "Owner",
    "Party",
    "PathwayFacts",
    "PendingParty",
    "PlanFacts",
    "ReminderAction",
    "ReminderRules",
    "ReminderStatus",
    "Severity",
    "StoredReminder",
    "Thresholds",
    "acknowledge",
    "apply_gap",
    "assess",
    "default_reminder_rules",
    "dismiss",
    "earliest",
    "escalation_due",
    "evaluate",
    "next_reminder_status",
    "next_wake",
    "parse_reminder_rules",
    "parse_rule_parties",
    "reconcile",
    "reopen",
    "resolve",
    "rule_parties",
    "rule_title",
    "severity_on_arrival",
    "snooze",
    "thresholds_for",
    "wake",
]
