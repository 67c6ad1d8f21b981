"""A pathway's next due time (``pathways.reminders.assess``): for every gap rule, worked out by hand on the
Danish calendar (Easter, Whitsun, Christmas, the office-closed days, weekends) and with leave pausing the
clock, the instant at which its gap appears or changes severity; just before it the rule's answer is the
old one, at it the new one. And, over random pathways: nothing changes before the next due time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathways import reminders as rules
from pathways.meetings import ActionStatus
from pathways.plans import ParticipantRole, PlanKind, PlanStatus
from pathways.reminders import (
    GapRule,
    GpDelivery,
    MeetingActionFacts,
    PathwayFacts,
    PendingParty,
    PlanFacts,
    ReminderStatus,
    Severity,
    StoredReminder,
    assess,
)
from pathways.stays import LeavePeriod, PathwayStatus
from tests.unit.test_reminder_rules import (
    CAL,
    DEFAULTS,
    INFO,
    MUNI,
    NOT_ASSESSED,
    NOT_REQUIRED,
    NOW_AFTER,
    PROPERTY,
    URGENT,
    WARNING,
    M,
    agreed,
    cph,
    discharged,
    draft,
    facts,
    pathway_facts,
    run,
)

Rule = GapRule
TICK = timedelta(microseconds=1)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Step:
    """At ``at`` the gap ``key`` of ``rule`` goes from ``before`` to ``after`` (None: not shown)."""

    at: datetime
    rule: GapRule
    key: str
    before: Severity | None
    after: Severity | None


def shown(f: PathwayFacts, at: datetime, rule: GapRule, key: str) -> Severity | None:
    found = [g for g in run(f, at) if g.rule is rule and g.obligation_key == key]
    assert len(found) <= 1, found
    return found[0].severity if found else None


def next_due(f: PathwayFacts, now: datetime) -> datetime | None:
    return assess(f, now, calendar=CAL, thresholds=DEFAULTS).next_due_at


# Each case: the facts, the instant of the first evaluation, and the due times that follow one another
# (each evaluated at the one before). Thresholds: DEFAULTS of test_reminder_rules (plan start 2 working days,
# notice 2 working days, network meeting 5, party answer 3, GP delivered/read/accepted 1/3/5, follow-up 7
# calendar days). Deadlines are 16:00 Copenhagen (15:00 UTC in winter, 14:00 in summer); a gap enters its
# notice window at midnight Copenhagen (23:00 or 22:00 UTC the day before).
CASES: dict[str, tuple[PathwayFacts, datetime, list[Step]]] = {
    # Admitted Wed 16 April 2025 (Easter: Thu 17, Fri 18, Mon 21 closed); on leave Tue 22 (paused):
    # working days Wed 23 (1), Thu 24 (2): due Thu 24 16:00. Notice from Tue 22 (Wed 23, Thu 24 ahead).
    "plan_not_started, Easter and a leave": (
        facts(
            admitted_at=cph(4, 16, 10),
            plans=(),
            leave_periods=(LeavePeriod(cph(4, 22, 8), cph(4, 22, 20)),),
        ),
        cph(4, 16, 12),
        [
            Step(utc(2025, 4, 21, 22), Rule.PLAN_NOT_STARTED, "plan_start", None, INFO),
            Step(utc(2025, 4, 24, 14), Rule.PLAN_NOT_STARTED, "plan_start", INFO, WARNING),
        ],
    ),
    # Not assessed, admitted Fri 19 December 2025: Mon 22 (1), Tue 23 (2): due Tue 23 16:00 CET; shown at
    # once (two working days ahead).
    "requirement_not_assessed, Christmas week": (
        facts(admitted_at=cph(12, 19, 10), requirement=NOT_ASSESSED),
        cph(12, 19, 12),
        [Step(utc(2025, 12, 23, 15), Rule.REQUIREMENT_NOT_ASSESSED, "assessment", INFO, WARNING)],
    ),
    # Not assessed with discharge planned for Tue 11 March: urgent from that day's midnight, before the
    # two-working-day deadline (Wed 12).
    "requirement_not_assessed, planned discharge": (
        facts(
            admitted_at=cph(3, 10, 9),
            requirement=NOT_ASSESSED,
            planned_discharge_on=date(2025, 3, 11),
            discharge_date_known_at=cph(3, 10, 9),
            municipality_notified_at=cph(3, 10, 10),
        ),
        cph(3, 10, 12),
        [Step(utc(2025, 3, 10, 23), Rule.REQUIREMENT_NOT_ASSESSED, "assessment", INFO, URGENT)],
    ),
    # Discharge planned Tue 22 April 2025: an agreed plan is due two working days before (Wed 16, Tue 15;
    # Easter in between): Tue 15 16:00 CEST; shown from Fri 11 (Mon 14, Tue 15 ahead); urgent on the day.
    # On Tue 15 at midnight the contact-person rule's window opens (no gap: every contact is in place).
    "plan_not_agreed, before Easter": (
        facts(
            admitted_at=cph(4, 7, 9),
            planned_discharge_on=date(2025, 4, 22),
            discharge_date_known_at=cph(4, 7, 10),
            municipality_notified_at=cph(4, 7, 11),
        ),
        cph(4, 9, 12),
        [
            Step(utc(2025, 4, 10, 22), Rule.PLAN_NOT_AGREED, "plan_before_discharge", None, INFO),
            Step(utc(2025, 4, 14, 22), Rule.PLAN_NOT_AGREED, "plan_before_discharge", INFO, INFO),
            Step(
                utc(2025, 4, 15, 14), Rule.PLAN_NOT_AGREED, "plan_before_discharge", INFO, WARNING
            ),
            Step(
                utc(2025, 4, 21, 22), Rule.PLAN_NOT_AGREED, "plan_before_discharge", WARNING, URGENT
            ),
        ],
    ),
    # Discharged Mon 10 March with the municipal contact period ending Wed 12: missing from Thu 13.
    "contact_person_missing, a period ends": (
        discharged(
            cph(3, 10, 9),
            contacts=(
                rules.ContactFacts(rules.Party.WARD.sector, 101),
                rules.ContactFacts(M, 201, valid_to=date(2025, 3, 12)),
                rules.ContactFacts(rules.Party.GP.sector, 301),
            ),
        ),
        cph(3, 10, 12),
        [
            Step(
                utc(2025, 3, 12, 23),
                Rule.CONTACT_PERSON_MISSING,
                "sector:municipality",
                None,
                URGENT,
            )
        ],
    ),
    # The discharge date became known Mon 10 March 09:00: the municipality must hear the same working day,
    # by 16:00 CET.
    "municipality_not_notified, same working day": (
        facts(
            admitted_at=cph(3, 3, 9),
            planned_discharge_on=date(2025, 3, 14),
            discharge_date_known_at=cph(3, 10, 9),
        ),
        cph(3, 10, 12),
        [
            Step(
                utc(2025, 3, 10, 15),
                Rule.MUNICIPALITY_NOT_NOTIFIED,
                "municipality",
                WARNING,
                URGENT,
            )
        ],
    ),
    # Discharged Fri 19 December 2025 with an agreed plan delivered to the GP: read within 3 working days
    # (Mon 22, Tue 23, Mon 29: 24 and 31 December are closed, 25, 26 and 1 January holidays), accepted within
    # 5 (Tue 30, Fri 2 January). Read shown from Mon 22, accepted from Mon 29.
    "gp_plan_step_missing, Christmas": (
        discharged(
            cph(12, 19, 10),
            plans=(agreed(agreed_at=cph(12, 18, 10)),),
            gp_delivery=GpDelivery.DELIVERED,
        ),
        cph(12, 19, 12),
        [
            Step(utc(2025, 12, 21, 23), Rule.GP_PLAN_STEP_MISSING, "plan:5:gp:read", None, INFO),
            Step(
                utc(2025, 12, 28, 23), Rule.GP_PLAN_STEP_MISSING, "plan:5:gp:accepted", None, INFO
            ),
            Step(utc(2025, 12, 29, 15), Rule.GP_PLAN_STEP_MISSING, "plan:5:gp:read", INFO, WARNING),
            Step(
                utc(2026, 1, 2, 15), Rule.GP_PLAN_STEP_MISSING, "plan:5:gp:accepted", INFO, WARNING
            ),
        ],
    ),
    # Discharged Thu 13 March: a follow-up within 7 calendar days, by Thu 20 16:00; shown from Tue 18.
    "follow_up_not_held, calendar days": (
        discharged(cph(3, 13, 10), follow_up_held_at=None),
        cph(3, 13, 12),
        [
            Step(utc(2025, 3, 17, 23), Rule.FOLLOW_UP_NOT_HELD, "follow_up", None, INFO),
            Step(utc(2025, 3, 20, 15), Rule.FOLLOW_UP_NOT_HELD, "follow_up", INFO, URGENT),
        ],
    ),
    # A follow-up booked for Fri 14 March 10:00 and not registered: shown from the booked time, urgent from
    # 16:00 the next working day (Mon 17).
    "follow_up_missed, over a weekend": (
        discharged(
            cph(3, 13, 10),
            requirement=NOT_REQUIRED,
            follow_up_held_at=None,
            follow_up_booked_for=cph(3, 14, 10),
        ),
        cph(3, 13, 12),
        [
            Step(utc(2025, 3, 14, 9), Rule.FOLLOW_UP_MISSED, "follow_up:booked", None, WARNING),
            Step(utc(2025, 3, 17, 15), Rule.FOLLOW_UP_MISSED, "follow_up:booked", WARNING, URGENT),
        ],
    ),
    # Requested Mon 22 December 2025: 5 working days are Tue 23, Mon 29, Tue 30, Fri 2 and Mon 5 January;
    # shown from Tue 30 (Fri 2, Mon 5 ahead).
    "network_meeting_not_held, Christmas and New Year": (
        facts(
            admitted_at=cph(12, 22, 9),
            network_meeting_requested_at=cph(12, 22, 10),
        ),
        cph(12, 22, 12),
        [
            Step(
                utc(2025, 12, 29, 23), Rule.NETWORK_MEETING_NOT_HELD, "network_meeting", None, INFO
            ),
            Step(
                utc(2026, 1, 5, 15), Rule.NETWORK_MEETING_NOT_HELD, "network_meeting", INFO, WARNING
            ),
        ],
    ),
    # Review on Whit Monday 9 June 2025 (a holiday; 5 June is closed): shown from Tue 3 June (Wed 4 and
    # Fri 6 ahead), a warning from 16:00 on the day itself.
    "plan_review_overdue, Whitsun": (
        facts(admitted_at=cph(5, 20, 9), plans=(agreed(review_on=date(2025, 6, 9)),)),
        cph(5, 28, 12),
        [
            Step(utc(2025, 6, 2, 22), Rule.PLAN_REVIEW_OVERDUE, "plan:5:review", None, INFO),
            Step(utc(2025, 6, 9, 14), Rule.PLAN_REVIEW_OVERDUE, "plan:5:review", INFO, WARNING),
        ],
    ),
    # Proposed Wed 16 April 2025, the GP has not answered: 3 working days after Easter, Thu 24 16:00.
    "party_not_answered, Easter": (
        facts(
            admitted_at=cph(4, 14, 9),
            plans=(
                PlanFacts(
                    id=5,
                    kind=PlanKind.DISCHARGE_AGREEMENT,
                    status=PlanStatus.PROPOSED,
                    proposed_at=cph(4, 16, 10),
                    pending_parties=(PendingParty(ParticipantRole.GP),),
                ),
            ),
        ),
        cph(4, 16, 12),
        [Step(utc(2025, 4, 24, 14), Rule.PARTY_NOT_ANSWERED, "plan:5:party:gp", INFO, WARNING)],
    ),
    # No GP known, admitted Fri 19 December 2025, on leave all of Mon 22: Tue 23 (1), Mon 29 (2): due Mon
    # 29 16:00 CET; shown from Mon 22 (Tue 23 and Mon 29 ahead; the notice counts working days).
    "gp_unknown, Christmas and a leave": (
        facts(
            admitted_at=cph(12, 19, 10),
            gp_clinic_id=None,
            leave_periods=(LeavePeriod(cph(12, 22, 0), cph(12, 22, 20)),),
        ),
        cph(12, 19, 12),
        [
            Step(utc(2025, 12, 21, 23), Rule.GP_UNKNOWN, "gp", None, INFO),
            Step(utc(2025, 12, 29, 15), Rule.GP_UNKNOWN, "gp", INFO, WARNING),
        ],
    ),
    # An action agreed at a network meeting, due Fri 14 March: overdue from 16:00 that day.
    "network_meeting_action_overdue": (
        facts(
            meeting_actions=(
                MeetingActionFacts(
                    id=7,
                    meeting_id=3,
                    owner_organisation_id=MUNI,
                    owner_sector=M,
                    due_on=date(2025, 3, 14),
                    status=ActionStatus.OPEN,
                ),
            ),
        ),
        cph(3, 12, 12),
        [
            Step(
                utc(2025, 3, 14, 15),
                Rule.NETWORK_MEETING_ACTION_OVERDUE,
                "meeting:3:action:7",
                None,
                WARNING,
            )
        ],
    ),
}

# The rules that react to a fact only (a discharge without an agreed plan, a readmission): their gap is
# there from the change that made it, made by the evaluation of that change (the commit), and no time
# changes it. Shown with the instant they exist and no due time of their own.
AT_ONCE: dict[str, tuple[PathwayFacts, datetime, GapRule, str, Severity]] = {
    "discharged_without_plan": (
        discharged(cph(3, 10, 9), plans=(draft(),)),
        cph(3, 10, 12),
        Rule.DISCHARGED_WITHOUT_PLAN,
        "plan_before_discharge",
        Severity.BREACH,
    ),
    "readmission_notice": (
        facts(readmitted_with_active_plan=True, readmitted_at=cph(3, 10, 9)),
        cph(3, 10, 12),
        Rule.READMISSION_NOTICE,
        "sector:municipality",
        URGENT,
    ),
}


def test_every_rule_has_a_case() -> None:
    covered = {step.rule for _f, _now, steps in CASES.values() for step in steps}
    covered |= {rule for _f, _now, rule, _key, _severity in AT_ONCE.values()}
    assert covered == set(GapRule)


@pytest.mark.parametrize("name", list(CASES))
def test_the_next_due_time_is_when_the_gap_appears_or_changes(name: str) -> None:
    f, now, steps = CASES[name]
    for step in steps:
        assert next_due(f, now) == step.at, (name, step)
        assert shown(f, step.at - TICK, step.rule, step.key) is step.before, (name, step)
        assert shown(f, step.at, step.rule, step.key) is step.after, (name, step)
        assert run(f, step.at - TICK) == run(f, now), "nothing changes before the due time"
        now = step.at


@pytest.mark.parametrize("name", list(AT_ONCE))
def test_rules_that_react_to_a_fact_have_their_gap_at_once(name: str) -> None:
    f, now, rule, key, severity = AT_ONCE[name]
    assert shown(f, now, rule, key) is severity
    assert next_due(f, now) is None, "nothing about it changes with time"


def test_an_open_leave_makes_the_pathway_due_every_midnight() -> None:
    """The clock of rule 1 stops during leave: an open leave moves the deadline on each day, so the
    pathway is due again at the next Copenhagen midnight (here the spring DST change: 23:00 UTC)."""
    f = facts(admitted_at=cph(3, 27, 9), plans=(), leave_periods=(LeavePeriod(cph(3, 28, 10)),))
    assert next_due(f, cph(3, 29, 12)) == utc(2025, 3, 29, 23)
    assert next_due(f, cph(3, 30, 12)) == utc(2025, 3, 30, 22)  # CEST from 30 March
    ended = facts(
        admitted_at=cph(3, 27, 9),
        plans=(),
        leave_periods=(LeavePeriod(cph(3, 28, 10), cph(3, 31, 10)),),
    )
    # Ended: Fri 28 and Mon 31 paused; Tue 1 (1), Wed 2 (2) April: shown from Mon 31, due Wed 2 16:00.
    assert next_due(ended, cph(3, 29, 12)) == utc(2025, 3, 30, 22)


def test_closed_pathways_are_never_due() -> None:
    f = facts(status=PathwayStatus.CLOSED)
    assert assess(f, cph(3, 10, 12), calendar=CAL, thresholds=DEFAULTS) == rules.Evaluation(
        [], None
    )


def test_a_snoozed_reminder_wakes_when_its_snooze_ends() -> None:
    now = cph(3, 10, 12)

    def reminder(i: int, status: ReminderStatus, until: datetime | None) -> StoredReminder:
        return StoredReminder(
            id=i,
            pathway_id=1,
            rule="gp_unknown",
            obligation_key=f"k{i}",
            status=status,
            severity=WARNING,
            due_at=now,
            owner_organisation_id=1,
            snoozed_until=until,
        )

    stored = [
        reminder(1, ReminderStatus.SNOOZED, now + timedelta(days=2)),
        reminder(2, ReminderStatus.SNOOZED, now + timedelta(hours=5)),
        reminder(3, ReminderStatus.SNOOZED, now - timedelta(hours=1)),  # ended: reopens now
        reminder(4, ReminderStatus.OPEN, now + timedelta(hours=1)),  # an old snooze, not snoozed
    ]
    assert rules.next_wake(stored, now) == now + timedelta(hours=5)
    assert rules.next_wake(stored[2:], now) is None
    assert rules.earliest(None, now, now - TICK) == now - TICK
    assert rules.earliest(None, None) is None


@PROPERTY
@given(pathway_facts(), NOW_AFTER, st.floats(min_value=0, max_value=1))
def test_nothing_changes_before_the_next_due_time(
    f: PathwayFacts, after: timedelta, share: float
) -> None:
    now = f.admitted_at + after
    evaluation = assess(f, now, calendar=CAL, thresholds=DEFAULTS)
    assert evaluation.gaps == run(f, now)
    due = evaluation.next_due_at
    if due is None:
        later = [now + timedelta(days=400)]
    else:
        assert due > now
        assert due.tzinfo is UTC
        later = [due - TICK, now + (due - TICK - now) * share]
    for at in later:
        assert run(f, at) == evaluation.gaps, (now, at, due)


CHANGED = ("nothing", "severity", "due_at", "organisation", "person", "plan", "basis", "message")


@PROPERTY
@given(pathway_facts(), NOW_AFTER, st.sampled_from(CHANGED), st.booleans())
def test_the_quick_comparison_of_reconcile_is_apply_gap_compared(
    f: PathwayFacts, after: timedelta, changed: str, made_late: bool
) -> None:
    from pathways.reminders.lifecycle import _differs

    now = f.admitted_at + after
    for i, gap in enumerate(run(f, now)):
        made = gap.due_at + timedelta(hours=1) if made_late else None
        stored = StoredReminder(
            id=i,
            pathway_id=gap.pathway_id,
            rule=gap.rule.value,
            obligation_key=gap.obligation_key,
            status=ReminderStatus.OPEN,
            severity=(
                list(Severity)[(gap.severity.rank + 1) % 4]
                if changed == "severity"
                else gap.severity
            ),
            due_at=gap.due_at + timedelta(hours=changed == "due_at"),
            owner_organisation_id=gap.owner.organisation_id + (changed == "organisation"),
            owner_person_id=(gap.owner.person_id or 0) + 1
            if changed == "person"
            else gap.owner.person_id,
            plan_id=99 if changed == "plan" else gap.plan_id,
            legal_basis="other" if changed == "basis" else gap.basis,
            message="old" if changed == "message" else gap.message,
            created_at=made,
        )
        assert _differs(stored, gap) == (rules.apply_gap(stored, gap) != stored), changed
