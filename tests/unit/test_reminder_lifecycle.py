"""The reminder lifecycle (acknowledge, snooze, dismiss, resolve, reopen), reconciling evaluated gaps with
stored reminders, escalation, and the coordination facts recorded on a pathway."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathways.calendar_dk import default_calendar
from pathways.clock import COPENHAGEN
from pathways.errors import IllegalTransition, ValidationFailed
from pathways.organisations import Sector
from pathways.reminders import (
    MAX_SNOOZE_DAYS,
    REMINDER_TRANSITIONS,
    Gap,
    GapRule,
    Owner,
    ReminderAction,
    ReminderStatus,
    Severity,
    StoredReminder,
    Thresholds,
    acknowledge,
    apply_gap,
    dismiss,
    escalation_due,
    next_reminder_status,
    reconcile,
    reopen,
    resolve,
    snooze,
    thresholds_for,
    wake,
)
from pathways.stays import (
    FACT_TRANSITIONS,
    PATHWAY_TRANSITIONS,
    PathwayEventType,
    PathwayFactType,
    PathwayStatus,
    next_status,
    parse_event_type,
)

RS, A = ReminderStatus, ReminderAction
OPEN, ACK, SNOOZED, RESOLVED, DISMISSED = (
    RS.OPEN,
    RS.ACKNOWLEDGED,
    RS.SNOOZED,
    RS.RESOLVED,
    RS.DISMISSED,
)
CAL = default_calendar()
TH = thresholds_for(None, None)  # escalate after 2 working days, at most level 2


def cph(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=COPENHAGEN).astimezone(UTC)


NOW = cph(3, 10, 12)  # Monday
DUE = cph(3, 10, 16)


def stored(status: ReminderStatus = OPEN, **kw: Any) -> StoredReminder:
    values: dict[str, Any] = {
        "id": 7,
        "pathway_id": 1,
        "rule": GapRule.PLAN_NOT_AGREED.value,
        "obligation_key": "plan_before_discharge",
        "status": status,
        "severity": Severity.WARNING,
        "due_at": DUE,
        "owner_organisation_id": 10,
        "owner_person_id": 101,
        "legal_basis": "discharge_agreement_sel_support",
        "message": "No agreed plan yet; discharge is planned for 2025-03-17",
    }
    values.update(kw)
    return StoredReminder(**values)


def gap(
    rule: GapRule = GapRule.PLAN_NOT_AGREED,
    key: str = "plan_before_discharge",
    severity: Severity = Severity.WARNING,
    **kw: Any,
) -> Gap:
    values: dict[str, Any] = {
        "rule": rule,
        "obligation_key": key,
        "severity": severity,
        "due_at": DUE,
        "owner": Owner(Sector.REGION, 10, 101),
        "basis": "discharge_agreement_sel_support",
        "message": "No agreed plan yet; discharge is planned for 2025-03-17",
        "pathway_id": 1,
        "patient_id": 2,
    }
    values.update(kw)
    return Gap(**values)


# ------------------------------------------------------------------------------ transitions
EXPECTED: dict[tuple[ReminderStatus, ReminderAction], ReminderStatus] = {
    (OPEN, A.ACKNOWLEDGE): ACK,
    (OPEN, A.SNOOZE): SNOOZED,
    (OPEN, A.RESOLVE): RESOLVED,
    (OPEN, A.DISMISS): DISMISSED,
    (ACK, A.SNOOZE): SNOOZED,
    (ACK, A.RESOLVE): RESOLVED,
    (ACK, A.DISMISS): DISMISSED,
    (ACK, A.REOPEN): OPEN,  # the severity went up
    (SNOOZED, A.ACKNOWLEDGE): ACK,
    (SNOOZED, A.SNOOZE): SNOOZED,  # move the snooze
    (SNOOZED, A.RESOLVE): RESOLVED,
    (SNOOZED, A.DISMISS): DISMISSED,
    (SNOOZED, A.REOPEN): OPEN,  # the snooze ended
    (RESOLVED, A.REOPEN): OPEN,  # the gap came back
    (DISMISSED, A.RESOLVE): RESOLVED,  # the gap closed
    (DISMISSED, A.REOPEN): OPEN,  # a dismissal undone
}
ILLEGAL = [pair for pair in product(RS, A) if pair not in EXPECTED]


def test_the_transition_table_has_exactly_the_expected_pairs() -> None:
    assert REMINDER_TRANSITIONS == EXPECTED
    assert len(ILLEGAL) == 5 * 5 - 16


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_every_other_transition_is_illegal(status: ReminderStatus, action: ReminderAction) -> None:
    with pytest.raises(IllegalTransition) as exc:
        next_reminder_status(status, action)
    assert exc.value.message == f"reminder cannot go from '{status.value}' to '{action.value}'"


def test_stored_values_are_unchanged() -> None:
    assert [s.value for s in ReminderStatus] == [
        "open",
        "acknowledged",
        "snoozed",
        "resolved",
        "dismissed",
    ]
    assert [s.value for s in Severity] == ["info", "warning", "urgent", "breach"]


# ------------------------------------------------------------------------------ acknowledge
def test_acknowledge_records_who_and_when() -> None:
    done = acknowledge(stored(), now=NOW, by_id=55)
    assert (done.status, done.acknowledged_at, done.acknowledged_by_id) == (ACK, NOW, 55)
    assert replace(done, status=OPEN, acknowledged_at=None, acknowledged_by_id=None) == stored()
    with pytest.raises(IllegalTransition):
        acknowledge(done, now=NOW)


# ------------------------------------------------------------------------------ snooze
@pytest.mark.parametrize(
    "until",
    [NOW + timedelta(seconds=1), NOW + timedelta(days=1), NOW + timedelta(days=MAX_SNOOZE_DAYS)],
)
def test_snooze_until_a_future_time(until: datetime) -> None:
    done = snooze(stored(), until=until, now=NOW)
    assert (done.status, done.snoozed_until) == (SNOOZED, until)
    assert done.is_snoozed(NOW)
    assert done.is_snoozed(until - timedelta(seconds=1))
    assert not done.is_snoozed(until)


@pytest.mark.parametrize(
    ("until", "code"),
    [
        (NOW, "in-past"),
        (NOW - timedelta(minutes=1), "in-past"),
        (NOW + timedelta(days=MAX_SNOOZE_DAYS, seconds=1), "too-far"),
    ],
)
def test_snooze_bounds(until: datetime, code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        snooze(stored(), until=until, now=NOW)
    assert [(e.field, e.code) for e in exc.value.errors] == [("snoozed_until", code)]


def test_snooze_limit_is_a_parameter_and_naive_times_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        snooze(stored(), until=NOW + timedelta(days=3), now=NOW, max_days=2)
    naive = datetime(2025, 3, 11, 12)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="naive"):
        snooze(stored(), until=naive, now=NOW)


def test_snoozing_again_moves_the_time_but_a_resolved_reminder_cannot_snooze() -> None:
    once = snooze(stored(), until=NOW + timedelta(days=1), now=NOW)
    twice = snooze(once, until=NOW + timedelta(days=3), now=NOW)
    assert twice.snoozed_until == NOW + timedelta(days=3)
    with pytest.raises(IllegalTransition):
        snooze(stored(RESOLVED), until=NOW + timedelta(days=1), now=NOW)


def test_wake_reopens_only_an_ended_snooze() -> None:
    snoozed = snooze(stored(), until=NOW + timedelta(days=1), now=NOW)
    assert wake(snoozed, NOW + timedelta(hours=23)) is snoozed
    woken = wake(snoozed, NOW + timedelta(days=1))
    assert woken.status is OPEN
    assert woken.snoozed_until == NOW + timedelta(days=1)  # kept: escalation counts from it
    assert wake(stored(ACK), NOW + timedelta(days=5)) == stored(ACK)


# ------------------------------------------------------------------------------ dismiss
def test_dismiss_keeps_the_trimmed_reason() -> None:
    done = dismiss(stored(), reason="  patient moved abroad  ")
    assert (done.status, done.dismissed_reason) == (DISMISSED, "patient moved abroad")
    assert dismiss(stored(), reason="x" * 500).dismissed_reason == "x" * 500


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("", "required"),
        ("   ", "required"),
        (None, "required"),
        ("x" * 501, "too-long"),
        (5, "invalid"),
    ],
)
def test_dismiss_needs_a_reason(reason: object, code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        dismiss(stored(), reason=reason)
    assert [(e.field, e.code) for e in exc.value.errors] == [("reason", code)]


def test_a_resolved_reminder_cannot_be_dismissed() -> None:
    with pytest.raises(IllegalTransition):
        dismiss(stored(RESOLVED), reason="not relevant")


# ------------------------------------------------------------------------------ resolve / reopen
def test_resolve_and_reopen() -> None:
    acked = acknowledge(stored(escalation_level=2), now=NOW, by_id=5)
    done = resolve(acked, now=NOW + timedelta(days=1))
    assert (done.status, done.resolved_at) == (RESOLVED, NOW + timedelta(days=1))
    back = reopen(done)
    assert back.status is OPEN
    assert (back.resolved_at, back.acknowledged_at, back.acknowledged_by_id) == (None, None, None)
    assert back.escalation_level == 0
    undone = reopen(dismiss(stored(), reason="wrong patient"))
    assert (undone.status, undone.dismissed_reason) == (OPEN, "")
    with pytest.raises(IllegalTransition):
        reopen(stored())


def test_apply_gap_copies_the_gap_fields() -> None:
    new = gap(
        severity=Severity.URGENT,
        due_at=DUE + timedelta(days=1),
        owner=Owner(Sector.REGION, 11, None),
        plan_id=9,
        basis="coordination_plan",
        message="changed",
    )
    applied = apply_gap(stored(), new)
    assert (applied.severity, applied.due_at, applied.owner_organisation_id) == (
        Severity.URGENT,
        DUE + timedelta(days=1),
        11,
    )
    assert (applied.owner_person_id, applied.plan_id, applied.legal_basis, applied.message) == (
        None,
        9,
        "coordination_plan",
        "changed",
    )
    assert (applied.id, applied.status, applied.rule) == (7, OPEN, "plan_not_agreed")


# ------------------------------------------------------------------------------ reconcile
LATER = NOW + timedelta(days=1)


def test_new_gaps_are_created_once() -> None:
    plan = reconcile([], [gap(), gap(GapRule.FOLLOW_UP_NOT_HELD, "follow_up")], NOW)
    assert [g.rule for g in plan.create] == [GapRule.FOLLOW_UP_NOT_HELD, GapRule.PLAN_NOT_AGREED]
    assert (plan.update, plan.reopen, plan.resolve) == ([], [], [])


def test_two_gaps_for_one_reminder_are_refused() -> None:
    with pytest.raises(ValueError, match="two gaps"):
        reconcile([], [gap(), gap(severity=Severity.URGENT)], NOW)


def test_the_same_rule_and_key_on_another_pathway_is_another_reminder() -> None:
    plan = reconcile([stored()], [gap(), gap(pathway_id=2)], NOW)
    assert [(g.pathway_id) for g in plan.create] == [2]
    assert plan.update == plan.reopen == plan.resolve == []


@pytest.mark.parametrize(
    ("reminder", "new", "expected"),
    [
        # unchanged: nothing to do, whatever the status
        (stored(OPEN), gap(), "nothing"),
        (stored(ACK), gap(), "nothing"),
        (stored(SNOOZED, snoozed_until=LATER + timedelta(days=1)), gap(), "nothing"),
        # changed fields are updated, the status kept
        (stored(OPEN), gap(severity=Severity.URGENT), "update"),
        (stored(OPEN), gap(due_at=DUE + timedelta(hours=1)), "update"),
        (stored(OPEN), gap(owner=Owner(Sector.REGION, 10, None)), "update"),
        (stored(OPEN), gap(message="other"), "update"),
        (stored(ACK), gap(severity=Severity.INFO), "update"),  # calmer: stays acknowledged
        (stored(ACK), gap(due_at=DUE + timedelta(hours=1)), "update"),
        (
            stored(SNOOZED, snoozed_until=LATER + timedelta(days=1)),
            gap(severity=Severity.BREACH),
            "update",
        ),
        # attention needed again
        (stored(ACK), gap(severity=Severity.URGENT), "reopen"),
        (stored(SNOOZED, snoozed_until=LATER), gap(), "reopen"),  # the snooze ends exactly now
        (stored(RESOLVED), gap(), "reopen"),  # the gap came back
        # a dismissal holds while the gap persists
        (stored(DISMISSED, dismissed_reason="n/a"), gap(severity=Severity.BREACH), "nothing"),
    ],
)
def test_reconcile_one_reminder(reminder: StoredReminder, new: Gap, expected: str) -> None:
    plan = reconcile([reminder], [new], LATER)
    actual = {
        "nothing": plan.is_empty,
        "update": plan.update == [(7, new)],
        "reopen": plan.reopen == [(7, new)],
    }
    assert plan.create == []
    assert plan.resolve == []
    assert actual[expected], plan
    assert sum(bool(x) for x in (plan.update, plan.reopen)) == (expected != "nothing")


@pytest.mark.parametrize(
    ("status", "resolved"),
    [(OPEN, True), (ACK, True), (SNOOZED, True), (DISMISSED, True), (RESOLVED, False)],
)
def test_a_closed_gap_resolves_its_reminder(status: ReminderStatus, resolved: bool) -> None:
    plan = reconcile([stored(status, snoozed_until=LATER + timedelta(days=2))], [], LATER)
    assert plan.resolve == ([7] if resolved else [])
    assert plan.create == plan.update == plan.reopen == []


def test_reconcile_a_pathway_over_time() -> None:
    rows = [
        stored(id=1),
        stored(
            id=2, rule="contact_person_missing", obligation_key="sector:municipality", status=ACK
        ),
        stored(id=3, rule="follow_up_not_held", obligation_key="follow_up", status=RESOLVED),
        stored(id=4, rule="retired_rule", obligation_key="x"),  # a rule that no longer exists
    ]
    gaps = [
        gap(severity=Severity.URGENT),  # 1: worse now
        gap(GapRule.CONTACT_PERSON_MISSING, "sector:general_practice"),  # new sector
        gap(GapRule.FOLLOW_UP_NOT_HELD, "follow_up"),  # back again
    ]
    plan = reconcile(rows, gaps, LATER)
    assert plan.create == [replace(gaps[1], severity=Severity.URGENT)]  # past its deadline: overdue
    assert plan.update == [(1, gaps[0])]
    assert plan.reopen == [(3, gaps[2])]
    assert plan.resolve == [2, 4]


def test_duplicate_rows_keep_the_lowest_id() -> None:
    rows = [stored(id=9), stored(id=3), stored(id=5, status=RESOLVED)]
    plan = reconcile(rows, [gap(severity=Severity.URGENT)], LATER)
    assert plan.update == [(3, gap(severity=Severity.URGENT))]
    assert plan.resolve == [9]


KEYS = st.sampled_from(["a", "b", "c", "d"])
STATUSES = st.sampled_from(list(ReminderStatus))
SEVERITIES = st.sampled_from(list(Severity))


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(KEYS, st.tuples(STATUSES, SEVERITIES), max_size=4),
    st.dictionaries(KEYS, SEVERITIES, max_size=4),
)
def test_reconcile_never_duplicates_and_touches_each_row_once(
    rows: dict[str, tuple[ReminderStatus, Severity]], gaps: dict[str, Severity]
) -> None:
    existing = [
        stored(status, id=i, obligation_key=key, severity=severity, snoozed_until=NOW)
        for i, (key, (status, severity)) in enumerate(sorted(rows.items()), start=1)
    ]
    new = [gap(key=key, severity=severity) for key, severity in sorted(gaps.items())]
    plan = reconcile(existing, new, LATER)
    ids = {r.obligation_key: r.id for r in existing}
    # exactly the keys without a row are created
    assert sorted(g.obligation_key for g in plan.create) == sorted(set(gaps) - set(rows))
    touched = [i for i, _ in plan.update] + [i for i, _ in plan.reopen] + plan.resolve
    assert len(touched) == len(set(touched))
    # rows whose gap is gone are resolved unless already resolved
    assert sorted(plan.resolve) == sorted(
        ids[k] for k, (status, _) in rows.items() if k not in gaps and status is not RESOLVED
    )
    # a dismissed row is never revived while its gap persists
    for k, (status, _) in rows.items():
        if status is DISMISSED and k in gaps:
            assert ids[k] not in touched
    # applying the plan and reconciling again leaves nothing to do
    after = []
    changes = dict(plan.update)
    revive = dict(plan.reopen)
    for row in existing:
        if row.id in plan.resolve:
            after.append(resolve(row, now=LATER))
        elif row.id in revive:
            after.append(apply_gap(reopen(row), revive[row.id]))
        elif row.id in changes:
            after.append(apply_gap(row, changes[row.id]))
        else:
            after.append(row)
    after += [
        stored(id=100 + n, obligation_key=g.obligation_key, severity=g.severity, created_at=LATER)
        for n, g in enumerate(plan.create)
    ]
    assert reconcile(after, new, LATER).is_empty


def test_a_reminder_created_after_its_deadline_is_overdue_not_a_warning() -> None:
    late = gap(GapRule.PLAN_NOT_STARTED, "plan_start", severity=Severity.WARNING)
    assert late.due_at < LATER
    [created] = reconcile([], [late], LATER).create
    assert created.severity is Severity.URGENT
    # the stored reminder keeps it: the same gap evaluated again changes nothing
    row = stored(
        rule=late.rule.value,
        obligation_key="plan_start",
        severity=created.severity,
        created_at=LATER,
    )
    assert apply_gap(row, late).severity is Severity.URGENT
    assert reconcile([row], [late], LATER + timedelta(hours=1)).is_empty
    # a breach stays a breach; a gap not yet due stays what the rule says
    assert reconcile([], [replace(late, severity=Severity.BREACH)], LATER).create[0].severity is (
        Severity.BREACH
    )
    ahead = replace(late, severity=Severity.INFO, due_at=LATER + timedelta(days=1))
    assert reconcile([], [ahead], LATER).create[0].severity is Severity.INFO


def test_a_reminder_that_saw_its_deadline_coming_keeps_the_rule_s_severity() -> None:
    upcoming = stored(
        rule=GapRule.PLAN_NOT_STARTED.value,
        obligation_key="plan_start",
        severity=Severity.INFO,
        created_at=NOW,  # before DUE
    )
    due = gap(GapRule.PLAN_NOT_STARTED, "plan_start", severity=Severity.WARNING)
    assert reconcile([upcoming], [due], LATER).update == [(upcoming.id, due)]
    # the deadline moved later than the reminder's creation: no longer overdue on arrival
    born_late = replace(upcoming, created_at=LATER, severity=Severity.URGENT)
    moved = replace(due, severity=Severity.INFO, due_at=LATER + timedelta(days=2))
    assert reconcile([born_late], [moved], LATER).update == [(upcoming.id, moved)]


def test_an_advance_warning_is_not_a_deadline() -> None:
    """Rule 2 is due N working days before the planned discharge: a reminder made after that warning
    time, before the discharge, is a warning."""
    warning = gap(severity=Severity.WARNING, due_is_deadline=False)
    assert reconcile([], [warning], LATER).create == [warning]


# ------------------------------------------------------------------------------ escalation
# Due Monday 10 March 16:00; escalate after 2 working days, at most level 2.
@pytest.mark.parametrize(
    ("now", "level", "expected"),
    [
        (cph(3, 10, 15), 0, None),  # not due yet
        (cph(3, 10, 17), 0, None),
        (cph(3, 11, 17), 0, None),  # one working day
        (cph(3, 12, 0, 1), 0, 1),  # two working days (Tue, Wed)
        (cph(3, 12, 9), 1, None),  # already there
        (cph(3, 14, 9), 1, 2),  # four working days
        (cph(3, 16, 9), 1, 2),  # Sunday: still four
        (cph(4, 30), 2, None),  # capped
        (cph(4, 30), 0, 2),  # jumps straight to the cap
    ],
)
def test_escalation_of_an_open_reminder(now: datetime, level: int, expected: int | None) -> None:
    assert escalation_due(stored(escalation_level=level), now, CAL, TH) == expected


def test_escalation_counts_working_days_over_easter() -> None:
    # due Wed 16 April; Thu 17, Fri 18 and Mon 21 are holidays: Tue 22 is the first working day
    reminder = stored(due_at=cph(4, 16, 16))
    assert escalation_due(reminder, cph(4, 22, 9), CAL, TH) is None
    assert escalation_due(reminder, cph(4, 23, 9), CAL, TH) == 1


@pytest.mark.parametrize(
    "reminder",
    [
        stored(ACK),
        stored(RESOLVED),
        stored(DISMISSED),
        stored(SNOOZED, snoozed_until=cph(4, 1)),  # still snoozed on 20 March
    ],
)
def test_only_unanswered_reminders_escalate(reminder: StoredReminder) -> None:
    assert escalation_due(reminder, cph(3, 20), CAL, TH) is None


def test_escalation_counts_from_the_end_of_a_snooze() -> None:
    woken = wake(stored(SNOOZED, snoozed_until=cph(3, 17, 9)), cph(3, 17, 10))
    assert escalation_due(woken, cph(3, 18, 9), CAL, TH) is None  # one working day after the snooze
    assert escalation_due(woken, cph(3, 19, 9), CAL, TH) == 1
    # a snooze that ended but was not woken yet counts as open
    assert escalation_due(stored(SNOOZED, snoozed_until=cph(3, 17, 9)), cph(3, 19, 9), CAL, TH) == 1


def test_escalation_settings() -> None:
    off = Thresholds(**{**_as_dict(TH), "max_escalation_level": 0})
    assert escalation_due(stored(), cph(4, 30), CAL, off) is None
    daily = Thresholds(
        **{**_as_dict(TH), "escalate_after_working_days": 1, "max_escalation_level": 5}
    )
    assert escalation_due(stored(), cph(3, 13, 9), CAL, daily) == 3
    assert escalation_due(stored(), cph(3, 13, 9)) == 1  # the packaged defaults


def _as_dict(th: Thresholds) -> dict[str, int]:
    return {name: getattr(th, name) for name in th.__dataclass_fields__}


# ------------------------------------------------------------------------------ pathway facts
S, F = PathwayStatus, PathwayFactType
OPEN_STATUSES = (S.ADMITTED, S.ON_LEAVE, S.DISCHARGED)


@pytest.mark.parametrize(("status", "fact"), list(product(OPEN_STATUSES, F)))
def test_facts_keep_the_status_of_an_open_pathway(
    status: PathwayStatus, fact: PathwayFactType
) -> None:
    assert next_status(status, fact) is status


@pytest.mark.parametrize(("status", "fact"), list(product((S.CLOSED, S.CANCELLED), F)))
def test_closed_and_cancelled_pathways_take_no_facts(
    status: PathwayStatus, fact: PathwayFactType
) -> None:
    with pytest.raises(IllegalTransition) as exc:
        next_status(status, fact)
    assert exc.value.message == f"pathway cannot go from '{status.value}' to '{fact.value}'"


def test_fact_types_and_their_table() -> None:
    assert [f.value for f in F] == [
        "municipality_notified",
        "network_meeting_requested",
        "network_meeting_held",
        "plan_shared",
        "plan_delivered",
        "plan_read",
    ]
    assert len(FACT_TRANSITIONS) == 3 * 6
    assert all(before is after for (before, _), after in FACT_TRANSITIONS.items())
    assert not any(isinstance(event, PathwayFactType) for _, event in PATHWAY_TRANSITIONS)


def test_event_and_fact_values_never_collide_and_parse_back() -> None:
    assert {e.value for e in PathwayEventType}.isdisjoint(f.value for f in F)
    assert parse_event_type("plan_read") is F.PLAN_READ
    assert parse_event_type("discharged") is PathwayEventType.DISCHARGED
    assert all(len(f.value) <= 40 for f in F)  # pathway_events.type is VARCHAR(40)
    with pytest.raises(ValueError, match="neither"):
        parse_event_type("plan_eaten")
