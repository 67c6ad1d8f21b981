"""Gap detection (pathways.reminders.evaluate): every rule with its deadline worked out by hand on the
Danish calendar (Easter, Christmas, DST, leave pauses), owners and escalation, the thresholds file with its
precedence and validation, and properties over random pathways."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathways import reminders as rules
from pathways.agreements import Requirement, RequirementFacts, agreement_requirement
from pathways.calendar_dk import default_calendar
from pathways.clock import COPENHAGEN
from pathways.errors import ValidationFailed
from pathways.legal import all_legal_bases
from pathways.organisations import Sector
from pathways.plans import ParticipantRole, PatientParticipation, PlanKind, PlanStatus
from pathways.reminders import (
    THRESHOLD_KEYS,
    ContactFacts,
    Gap,
    GapRule,
    GpDelivery,
    Owner,
    Party,
    PathwayFacts,
    PendingParty,
    PlanFacts,
    ReminderRules,
    ReminderStatus,
    Severity,
    StoredReminder,
    Thresholds,
    default_reminder_rules,
    evaluate,
    parse_reminder_rules,
    parse_rule_parties,
    reconcile,
    rule_parties,
    rule_title,
    thresholds_for,
)
from pathways.stays import LeavePeriod, PathwayStatus

CAL = default_calendar()
R, M, G = Sector.REGION, Sector.MUNICIPALITY, Sector.GENERAL_PRACTICE
INFO, WARNING, URGENT, BREACH = Severity.INFO, Severity.WARNING, Severity.URGENT, Severity.BREACH
S = PathwayStatus
Rule = GapRule

REQUIRED = agreement_requirement(RequirementFacts(True, False))  # §13a stk. 1
NOT_REQUIRED = agreement_requirement(RequirementFacts(False, False))
NOT_ASSESSED = agreement_requirement(RequirementFacts(None, None))
REFUSED = agreement_requirement(RequirementFacts(True, False, PatientParticipation.REFUSED))

WARD, CHIEF, MUNI, GP = 10, 20, 30, 40
WARD_CONTACT, WARD_BACKUP, MUNI_CONTACT, GP_CONTACT = 101, 102, 201, 301
CONTACTS = (
    ContactFacts(R, WARD_CONTACT, backup_person_id=WARD_BACKUP),
    ContactFacts(M, MUNI_CONTACT),
    ContactFacts(G, GP_CONTACT),
)
WARD_OWNER = Owner(R, WARD, WARD_CONTACT)
CHIEF_OWNER = Owner(R, WARD, CHIEF)
DEFAULTS = Thresholds(
    plan_start_working_days=2,
    plan_agreed_warning_working_days=2,
    gp_delivered_working_days=1,
    gp_read_working_days=3,
    gp_accepted_working_days=5,
    follow_up_days=7,
    network_meeting_working_days=5,
    party_answer_working_days=3,
    upcoming_notice_working_days=2,
    escalate_after_working_days=2,
    max_escalation_level=2,
)


def cph(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2025) -> datetime:
    """A Copenhagen wall-clock time as the aware UTC instant the rules take."""
    return datetime(year, month, day, hour, minute, tzinfo=COPENHAGEN).astimezone(UTC)


def utc(month: int, day: int, hour: int, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


# 2025-03-10 is a Monday; Copenhagen is UTC+1 until 2025-03-30 and UTC+2 after, so 16:00 local is 15:00 or
# 14:00 UTC.
MON = cph(3, 10, 9)


def draft(plan_id: int = 5, **kw: Any) -> PlanFacts:
    return PlanFacts(id=plan_id, kind=PlanKind.DISCHARGE_AGREEMENT, status=PlanStatus.DRAFT, **kw)


def agreed(plan_id: int = 5, status: PlanStatus = PlanStatus.ACTIVE, **kw: Any) -> PlanFacts:
    kw.setdefault("agreed_at", cph(3, 7))
    return PlanFacts(id=plan_id, kind=PlanKind.DISCHARGE_AGREEMENT, status=status, **kw)


def facts(**kw: Any) -> PathwayFacts:
    values: dict[str, Any] = {
        "pathway_id": 1,
        "patient_id": 2,
        "status": S.ADMITTED,
        "admitted_at": MON,
        "ward_id": WARD,
        "requirement": REQUIRED,
        "chief_physician_id": CHIEF,
        "municipality_id": MUNI,
        "gp_clinic_id": GP,
        "contacts": CONTACTS,
        "plans": (draft(),),
    }
    values.update(kw)
    return PathwayFacts(**values)


def discharged(at: datetime = MON, **kw: Any) -> PathwayFacts:
    kw.setdefault("plans", (agreed(),))
    kw.setdefault("admitted_at", at - timedelta(days=10))
    kw.setdefault("gp_delivery", GpDelivery.ACCEPTED)
    kw.setdefault("follow_up_held_at", at + timedelta(days=1))
    return facts(status=S.DISCHARGED, discharged_at=at, **kw)


def run(f: PathwayFacts, now: datetime, thresholds: Thresholds = DEFAULTS) -> list[Gap]:
    return evaluate(f, now, calendar=CAL, thresholds=thresholds)


def of(f: PathwayFacts, now: datetime, rule: GapRule, **kw: Any) -> list[Gap]:
    return [g for g in run(f, now, **kw) if g.rule is rule]


def one(f: PathwayFacts, now: datetime, rule: GapRule, **kw: Any) -> Gap:
    found = of(f, now, rule, **kw)
    assert len(found) == 1, found
    return found[0]


def lead(f: PathwayFacts, now: datetime, rule: GapRule, **kw: Any) -> Gap:
    """The one gap of a shared rule that the lead party (the ward) holds."""
    found = [g for g in of(f, now, rule, **kw) if ":party:" not in g.obligation_key]
    assert len(found) == 1, found
    return found[0]


def severity_of(f: PathwayFacts, now: datetime, rule: GapRule) -> Severity | None:
    found = of(f, now, rule)
    assert len(found) <= 1, found
    return found[0].severity if found else None


# ------------------------------------------------------------------------------ baseline
def test_a_pathway_with_everything_in_place_has_no_gaps() -> None:
    assert run(facts(), MON) == []
    assert run(discharged(), MON + timedelta(days=3)) == []


@pytest.mark.parametrize("status", [S.CLOSED, S.CANCELLED])
def test_closed_and_cancelled_pathways_have_no_gaps(status: PathwayStatus) -> None:
    messy = facts(
        plans=(),
        contacts=(),
        planned_discharge_on=date(2025, 3, 11),
        network_meeting_requested_at=MON,
        readmitted_with_active_plan=True,
    )
    assert run(messy, MON + timedelta(days=30)) != []
    assert run(replace(messy, status=status), MON + timedelta(days=30)) == []


def test_naive_now_is_rejected() -> None:
    naive = datetime(2025, 3, 10, 12)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="naive"):
        evaluate(facts(), naive, calendar=CAL, thresholds=DEFAULTS)


def test_naive_facts_are_rejected_and_aware_ones_normalised_to_utc() -> None:
    with pytest.raises(ValueError, match="naive"):
        facts(admitted_at=datetime(2025, 3, 10, 9))  # noqa: DTZ001 - the point of the test
    f = facts(admitted_at=datetime(2025, 3, 10, 9, tzinfo=COPENHAGEN))
    assert f.admitted_at == utc(3, 10, 8)
    assert f.admitted_at.tzinfo is UTC


def test_a_discharged_pathway_needs_its_discharge_time() -> None:
    with pytest.raises(ValueError, match="discharged_at"):
        facts(status=S.DISCHARGED)


# ------------------------------------------------------------------------------ rule 1
# Admitted Monday 09:00; two working days: due Wednesday 16:00 (15:00 UTC).
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (cph(3, 10, 10), INFO),  # two working days ahead: inside the notice window
        (cph(3, 12, 15, 59), INFO),
        (cph(3, 12, 16), WARNING),  # exactly on the deadline counts as due
        (cph(3, 13, 9), WARNING),
        (cph(4, 30), WARNING),
    ],
)
def test_rule_1_no_plan_started(now: datetime, expected: Severity) -> None:
    gap = one(facts(plans=()), now, Rule.PLAN_NOT_STARTED)
    assert gap.severity is expected
    assert gap.due_at == utc(3, 12, 15)
    assert gap.obligation_key == "plan_start"
    assert gap.owner == WARD_OWNER
    assert gap.escalate_to == CHIEF_OWNER
    assert gap.basis == "discharge_agreement_sel_support"
    assert gap.params == {"working_days": "2"}
    assert gap.message == (
        "No discharge agreement or coordination plan started within 2 working days of admission"
    )
    assert (gap.pathway_id, gap.patient_id, gap.plan_id) == (1, 2, None)


@pytest.mark.parametrize(
    ("plans", "has_gap"),
    [
        ((), True),
        ((draft(),), False),  # a draft is enough
        ((PlanFacts(5, PlanKind.COORDINATION_PLAN, PlanStatus.PROPOSED),), False),
        ((agreed(),), False),
        ((PlanFacts(5, PlanKind.DISCHARGE_AGREEMENT, PlanStatus.WITHDRAWN),), True),
        ((PlanFacts(5, PlanKind.DISCHARGE_AGREEMENT, PlanStatus.ENDED),), True),
    ],
)
def test_rule_1_any_open_plan_satisfies_it(plans: tuple[PlanFacts, ...], has_gap: bool) -> None:
    assert bool(of(facts(plans=plans), cph(3, 13), Rule.PLAN_NOT_STARTED)) is has_gap


@pytest.mark.parametrize(
    ("requirement", "status"),
    [(NOT_REQUIRED, S.ADMITTED), (NOT_ASSESSED, S.ADMITTED), (REQUIRED, S.DISCHARGED)],
)
def test_rule_1_only_for_required_stays_before_discharge(
    requirement: Requirement, status: PathwayStatus
) -> None:
    f = facts(plans=(), requirement=requirement, status=status, discharged_at=cph(3, 11))
    assert of(f, cph(3, 13), Rule.PLAN_NOT_STARTED) == []


def test_rule_1_is_not_shown_before_the_notice_window() -> None:
    quiet = replace(DEFAULTS, upcoming_notice_working_days=1)
    assert of(facts(plans=()), cph(3, 10, 10), Rule.PLAN_NOT_STARTED, thresholds=quiet) == []
    assert severity_of(facts(plans=()), cph(3, 11, 10), Rule.PLAN_NOT_STARTED) is INFO


@pytest.mark.parametrize(
    ("admitted_at", "due_at"),
    [
        # Easter 2025: Thu 17, Fri 18 and Mon 21 April are holidays -> Tue 22 (1), Wed 23 (2); CEST
        (cph(4, 16, 9), utc(4, 23, 14)),
        # Christmas 2025: 24 Dec closed, 25/26 holidays, weekend -> Tue 23 (1), Mon 29 (2); CET
        (cph(12, 22, 9), utc(12, 29, 15)),
        # New year: 31 Dec closed, 1 Jan holiday -> Fri 2 Jan (1), Mon 5 Jan (2)
        (cph(12, 30, 9), utc(1, 5, 15, year=2026)),
        # DST starts Sunday 30 March: admitted Fri 28 -> Mon 31 (1), Tue 1 April (2) at 16:00 CEST
        (cph(3, 28, 9), utc(4, 1, 14)),
        # DST ends Sunday 26 October: admitted Fri 24 -> Mon 27, Tue 28 at 16:00 CET
        (cph(10, 24, 9), utc(10, 28, 15)),
        # admitted on a Saturday evening: counting starts after the Saturday
        (cph(3, 15, 22), utc(3, 18, 15)),
    ],
)
def test_rule_1_deadline_on_the_danish_calendar(admitted_at: datetime, due_at: datetime) -> None:
    f = facts(plans=(), admitted_at=admitted_at)
    assert one(f, admitted_at + timedelta(days=60), Rule.PLAN_NOT_STARTED).due_at == due_at


@pytest.mark.parametrize(
    ("leave", "now", "due_at"),
    [
        # leave Tue 10:00 - Wed 18:00 pauses Tue and Wed: Thu (1), Fri (2)
        (LeavePeriod(cph(3, 11, 10), cph(3, 12, 18)), cph(3, 13), utc(3, 14, 15)),
        # a leave over the weekend pauses nothing that counts
        (LeavePeriod(cph(3, 15, 10), cph(3, 16, 18)), cph(3, 13), utc(3, 12, 15)),
        # a leave after the deadline changes nothing
        (LeavePeriod(cph(3, 13, 10), cph(3, 14, 18)), cph(3, 17), utc(3, 12, 15)),
        # still on leave since Tue: paused up to today (Thu) -> Fri (1), Mon (2)
        (LeavePeriod(cph(3, 11, 10)), cph(3, 13), utc(3, 17, 15)),
        # ... and the next day the clock is still stopped
        (LeavePeriod(cph(3, 11, 10)), cph(3, 14), utc(3, 18, 15)),
    ],
)
def test_rule_1_clock_pauses_during_leave(
    leave: LeavePeriod, now: datetime, due_at: datetime
) -> None:
    status = S.ON_LEAVE if leave.ended_at is None else S.ADMITTED
    f = facts(plans=(), leave_periods=(leave,), status=status)
    gap = one(f, now, Rule.PLAN_NOT_STARTED)
    assert gap.due_at == due_at
    assert gap.severity is (WARNING if now >= due_at else INFO)


def test_rule_1_is_never_overdue_while_the_leave_lasts() -> None:
    f = facts(plans=(), status=S.ON_LEAVE, leave_periods=(LeavePeriod(cph(3, 10, 11)),))
    for day in range(10, 31):
        assert severity_of(f, cph(3, day, 20), Rule.PLAN_NOT_STARTED) in (INFO, None)


def test_rule_1_owner_falls_back_to_the_ward_inbox_and_the_backup() -> None:
    stale = (ContactFacts(R, WARD_CONTACT, person_active=False, backup_person_id=WARD_BACKUP),)
    gap = one(
        facts(plans=(), contacts=stale, chief_physician_id=None), cph(3, 13), Rule.PLAN_NOT_STARTED
    )
    assert gap.owner == Owner(R, WARD, None)
    assert gap.escalate_to == Owner(R, WARD, WARD_BACKUP)
    gap = one(
        facts(plans=(), contacts=(), chief_physician_id=None), cph(3, 13), Rule.PLAN_NOT_STARTED
    )
    assert (gap.owner, gap.escalate_to) == (Owner(R, WARD, None), None)


# ------------------------------------------------------------------------------ rule 1b
def test_rule_1b_not_assessed_follows_the_stay() -> None:
    f = facts(requirement=NOT_ASSESSED, plans=(), planned_discharge_on=date(2025, 3, 17))
    gap = one(f, cph(3, 11), Rule.REQUIREMENT_NOT_ASSESSED)
    assert (gap.severity, gap.due_at, gap.obligation_key) == (INFO, utc(3, 12, 15), "assessment")
    assert gap.basis == "not_assessed"
    assert gap.escalate_to == CHIEF_OWNER
    assert severity_of(f, cph(3, 12, 16), Rule.REQUIREMENT_NOT_ASSESSED) is WARNING
    assert severity_of(f, cph(3, 17, 8), Rule.REQUIREMENT_NOT_ASSESSED) is URGENT  # discharge day
    after = replace(f, status=S.DISCHARGED, discharged_at=cph(3, 11, 10))
    gap = one(after, cph(3, 11, 11), Rule.REQUIREMENT_NOT_ASSESSED)
    assert (gap.severity, gap.due_at) == (BREACH, cph(3, 11, 10))  # discharged before the deadline
    assert of(replace(f, requirement=REQUIRED), cph(3, 13), Rule.REQUIREMENT_NOT_ASSESSED) == []


# ------------------------------------------------------------------------------ rule 2
# Discharge planned for Monday 17 March: two working days before is Thursday 13 March, 16:00 (15:00 UTC).
PLANNED = date(2025, 3, 17)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (cph(3, 10, 12), None),  # Thursday is three working days away: not shown yet
        (cph(3, 11, 12), INFO),
        (cph(3, 13, 15, 59), INFO),
        (cph(3, 13, 16), WARNING),
        (cph(3, 14, 12), WARNING),
        (cph(3, 16, 23, 59), WARNING),  # Sunday evening
        (cph(3, 17, 0), URGENT),  # on the day
        (cph(3, 18, 12), URGENT),  # still admitted after the planned day
    ],
)
def test_rule_2_no_agreed_plan_before_planned_discharge(
    now: datetime, expected: Severity | None
) -> None:
    f = facts(planned_discharge_on=PLANNED, municipality_notified_at=MON + timedelta(hours=1))
    found = of(f, now, Rule.PLAN_NOT_AGREED)
    assert [g.severity for g in found] == ([] if expected is None else [expected] * 2)
    for gap in found:
        assert gap.due_at == utc(3, 13, 15)
        assert gap.params == {"planned_discharge_on": "2025-03-17", "working_days": "2"}
        assert gap.message == "No agreed plan yet; discharge is planned for 2025-03-17"
    assert [(g.obligation_key, g.owner, g.escalate_to) for g in found] == (
        []
        if expected is None
        else [
            ("plan_before_discharge", WARD_OWNER, CHIEF_OWNER),
            ("plan_before_discharge:party:municipality", Owner(M, MUNI, MUNI_CONTACT), None),
        ]
    )


@pytest.mark.parametrize(
    ("status", "has_gap"),
    [
        (PlanStatus.DRAFT, True),
        (PlanStatus.PROPOSED, True),
        (PlanStatus.AGREED, False),
        (PlanStatus.ACTIVE, False),
        (PlanStatus.UNDER_REVISION, False),
        (PlanStatus.WITHDRAWN, True),
    ],
)
def test_rule_2_only_an_agreed_plan_closes_it(status: PlanStatus, has_gap: bool) -> None:
    plan = PlanFacts(5, PlanKind.DISCHARGE_AGREEMENT, status, agreed_at=cph(3, 11))
    f = facts(planned_discharge_on=PLANNED, plans=(plan,))
    assert bool(of(f, cph(3, 14), Rule.PLAN_NOT_AGREED)) is has_gap


@pytest.mark.parametrize(
    ("planned", "n", "due_at"),
    [
        (
            date(2025, 4, 22),
            2,
            utc(4, 15, 14),
        ),  # Easter: Mon 21, Fri 18, Thu 17 skipped -> Wed 16, Tue 15
        (date(2025, 4, 2), 2, utc(3, 31, 14)),  # across DST: Tue 1 (1), Mon 31 (2), 16:00 CEST
        (date(2025, 12, 29), 2, utc(12, 22, 15)),  # Christmas: Tue 23 (1), Mon 22 (2)
        (date(2025, 3, 15), 0, utc(3, 14, 15)),  # a Saturday with n = 0: the last working day
        (date(2025, 3, 17), 0, utc(3, 17, 15)),
    ],
)
def test_rule_2_counts_back_over_the_danish_calendar(
    planned: date, n: int, due_at: datetime
) -> None:
    f = facts(planned_discharge_on=planned, admitted_at=cph(3, 1), plans=())
    th = replace(DEFAULTS, plan_agreed_warning_working_days=n)
    gap = lead(
        f, cph(2, 1), Rule.PLAN_NOT_AGREED, thresholds=replace(th, upcoming_notice_working_days=300)
    )
    assert gap.due_at == due_at


@pytest.mark.parametrize("requirement", [NOT_REQUIRED, NOT_ASSESSED])
def test_rule_2_only_when_required(requirement: Requirement) -> None:
    f = facts(planned_discharge_on=PLANNED, requirement=requirement)
    assert of(f, cph(3, 17), Rule.PLAN_NOT_AGREED) == []


def test_rule_2_uses_the_coordination_plan_basis_after_a_refusal() -> None:
    f = facts(planned_discharge_on=PLANNED, requirement=REFUSED)
    assert [g.basis for g in of(f, cph(3, 14), Rule.PLAN_NOT_AGREED)] == ["coordination_plan"] * 2


# ------------------------------------------------------------------------------ rule 3
def test_rule_3_discharged_without_agreed_plan_is_a_breach() -> None:
    f = discharged(cph(3, 10, 11), plans=(draft(),))
    gap = one(f, cph(3, 10, 12), Rule.DISCHARGED_WITHOUT_PLAN)
    assert gap.severity is BREACH
    assert gap.due_at == cph(3, 10, 11)
    assert gap.obligation_key == "plan_before_discharge"
    assert gap.owner == WARD_OWNER
    assert gap.escalate_to == CHIEF_OWNER
    assert gap.params == {"discharged_on": "2025-03-10"}
    assert gap.message == "Discharged on 2025-03-10 without an agreed plan"
    # the before-discharge rules have stopped: the caller resolves their reminders
    assert of(f, cph(3, 10, 12), Rule.PLAN_NOT_AGREED) == []


def test_rule_3_discharge_date_is_the_copenhagen_date() -> None:
    f = discharged(utc(3, 10, 23, year=2025), plans=())  # 00:00 on 11 March in Copenhagen
    assert one(f, utc(3, 11, 9), Rule.DISCHARGED_WITHOUT_PLAN).params == {
        "discharged_on": "2025-03-11"
    }


@pytest.mark.parametrize(
    ("requirement", "plans", "has_gap"),
    [
        (REQUIRED, (), True),
        (REQUIRED, (agreed(),), False),
        (REQUIRED, (agreed(agreed_at=cph(3, 12)),), False),  # agreed late: the reminder can close
        (NOT_REQUIRED, (), False),
        (NOT_ASSESSED, (), False),  # rule 1b reports that one
    ],
)
def test_rule_3_applies_when_required(
    requirement: Requirement, plans: tuple[PlanFacts, ...], has_gap: bool
) -> None:
    f = discharged(cph(3, 10, 11), plans=plans, requirement=requirement)
    assert bool(of(f, cph(3, 13), Rule.DISCHARGED_WITHOUT_PLAN)) is has_gap


def test_rule_3_without_a_chief_physician_escalates_to_the_backup() -> None:
    f = discharged(cph(3, 10, 11), plans=(), chief_physician_id=None)
    assert one(f, cph(3, 11), Rule.DISCHARGED_WITHOUT_PLAN).escalate_to == Owner(
        R, WARD, WARD_BACKUP
    )


# ------------------------------------------------------------------------------ rule 4
def test_rule_4_one_gap_per_sector_without_a_usable_contact_person() -> None:
    contacts = (
        ContactFacts(R, WARD_CONTACT),
        ContactFacts(G, GP_CONTACT, valid_to=date(2025, 3, 1)),  # ended
    )
    f = facts(
        planned_discharge_on=PLANNED, contacts=contacts, municipality_notified_at=cph(3, 10, 10)
    )
    found = of(f, cph(3, 13), Rule.CONTACT_PERSON_MISSING)
    assert [(g.obligation_key, g.params["reason"], g.severity) for g in found] == [
        ("sector:general_practice", "ended", INFO),
        ("sector:municipality", "missing", INFO),
    ]
    for gap in found:
        assert gap.due_at == utc(3, 17, 15)  # the planned discharge day, 16:00
        assert gap.basis == "fixed_contact_person"
    assert found[0].owner == Owner(G, GP, None)
    assert found[1].owner == Owner(M, MUNI, None)
    assert (
        found[1].message == "No current fixed contact person in the municipality sector (missing)"
    )
    assert [g.severity for g in of(f, cph(3, 17, 16), Rule.CONTACT_PERSON_MISSING)] == [URGENT] * 2


@pytest.mark.parametrize(
    ("contact", "reason"),
    [
        (ContactFacts(M, MUNI_CONTACT), None),
        (ContactFacts(M, MUNI_CONTACT, valid_from=date(2025, 3, 17)), None),  # starts at discharge
        (ContactFacts(M, MUNI_CONTACT, valid_to=date(2025, 3, 17)), None),  # last day inclusive
        (
            ContactFacts(M, MUNI_CONTACT, valid_to=date(2025, 3, 16)),
            "ended",
        ),  # ends before discharge
        (ContactFacts(M, MUNI_CONTACT, valid_from=date(2025, 3, 18)), "missing"),
        (ContactFacts(M, MUNI_CONTACT, person_active=False), "inactive"),
        (ContactFacts(M, None), "no_person"),  # a team inbox is a fallback, not a contact person
    ],
)
def test_rule_4_stale_contacts(contact: ContactFacts, reason: str | None) -> None:
    contacts = (ContactFacts(R, WARD_CONTACT), ContactFacts(G, GP_CONTACT), contact)
    f = facts(planned_discharge_on=PLANNED, contacts=contacts)
    found = of(f, cph(3, 14), Rule.CONTACT_PERSON_MISSING)
    assert [g.params["reason"] for g in found] == ([] if reason is None else [reason])


def test_rule_4_a_handed_over_contact_counts() -> None:
    contacts = (
        *CONTACTS,
        ContactFacts(M, 299, valid_to=date(2025, 3, 1)),  # the predecessor's period ended
    )
    assert (
        of(
            facts(planned_discharge_on=PLANNED, contacts=contacts),
            cph(3, 14),
            Rule.CONTACT_PERSON_MISSING,
        )
        == []
    )


def test_rule_4_at_discharge_today_counts_and_the_gap_is_urgent() -> None:
    contacts = (ContactFacts(R, WARD_CONTACT), ContactFacts(G, GP_CONTACT))
    f = discharged(cph(3, 10, 11), contacts=contacts, planned_discharge_on=PLANNED)
    gap = one(f, cph(3, 10, 12), Rule.CONTACT_PERSON_MISSING)
    assert (gap.obligation_key, gap.severity, gap.due_at) == (
        "sector:municipality",
        URGENT,
        cph(3, 10, 11),
    )


def test_rule_4_inactive_person_escalates_to_the_backup() -> None:
    contacts = (
        *CONTACTS[:2],
        ContactFacts(G, GP_CONTACT, person_active=False, backup_person_id=302),
    )
    gap = one(
        facts(planned_discharge_on=PLANNED, contacts=contacts),
        cph(3, 14),
        Rule.CONTACT_PERSON_MISSING,
    )
    assert (gap.owner, gap.escalate_to) == (Owner(G, GP, None), Owner(G, GP, 302))


def test_rule_4_unknown_municipality_is_the_wards_job() -> None:
    f = facts(planned_discharge_on=PLANNED, municipality_id=None, contacts=CONTACTS[::2])
    gap = one(f, cph(3, 14), Rule.CONTACT_PERSON_MISSING)
    assert gap.params["sector"] == "municipality"
    assert (gap.owner, gap.escalate_to) == (WARD_OWNER, Owner(R, WARD, WARD_BACKUP))


@pytest.mark.parametrize(
    ("kw", "now"),
    [
        ({"requirement": NOT_REQUIRED, "planned_discharge_on": PLANNED}, cph(3, 14)),
        ({}, cph(3, 14)),  # no discharge date yet
        ({"planned_discharge_on": date(2025, 4, 30)}, cph(3, 14)),  # far ahead: not shown yet
    ],
)
def test_rule_4_quiet(kw: dict[str, Any], now: datetime) -> None:
    assert of(facts(contacts=(), **kw), now, Rule.CONTACT_PERSON_MISSING) == []


# ------------------------------------------------------------------------------ rule 5
KNOWN = cph(3, 11, 10)  # Tuesday


@pytest.mark.parametrize(
    ("known_at", "now", "due_at", "expected"),
    [
        (KNOWN, cph(3, 11, 12), utc(3, 11, 15), WARNING),
        (KNOWN, cph(3, 11, 16), utc(3, 11, 15), URGENT),
        (cph(3, 11, 17), cph(3, 11, 17), cph(3, 11, 17), URGENT),  # after 16:00: due at once
        (cph(3, 15, 10), cph(3, 15, 11), utc(3, 17, 15), WARNING),  # Saturday: Monday 16:00
        (cph(4, 17, 10), cph(4, 17, 11), utc(4, 22, 14), WARNING),  # Maundy Thursday: Tue 22 April
    ],
)
def test_rule_5_municipality_not_told_the_discharge_date(
    known_at: datetime, now: datetime, due_at: datetime, expected: Severity
) -> None:
    f = facts(planned_discharge_on=date(2025, 5, 5), discharge_date_known_at=known_at)
    gap = lead(f, now, Rule.MUNICIPALITY_NOT_NOTIFIED)
    assert (gap.severity, gap.due_at, gap.obligation_key) == (expected, due_at, "municipality")
    assert gap.basis == "discharge_date_notice"
    assert gap.owner == WARD_OWNER
    assert gap.message == "The municipality has not been told the discharge date 2025-05-05"


@pytest.mark.parametrize(
    ("notified_at", "has_gap"),
    [
        (None, True),
        (KNOWN, False),
        (KNOWN + timedelta(hours=3), False),
        (KNOWN - timedelta(days=1), True),  # told an earlier date: the new one is news
    ],
)
def test_rule_5_closed_by_a_notice_after_the_date_became_known(
    notified_at: datetime | None, has_gap: bool
) -> None:
    f = facts(
        planned_discharge_on=PLANNED,
        discharge_date_known_at=KNOWN,
        municipality_notified_at=notified_at,
    )
    assert bool(of(f, cph(3, 12), Rule.MUNICIPALITY_NOT_NOTIFIED)) is has_gap


def test_rule_5_without_known_at_the_date_counts_as_known_since_admission() -> None:
    gap = lead(facts(planned_discharge_on=PLANNED), cph(3, 11), Rule.MUNICIPALITY_NOT_NOTIFIED)
    assert gap.due_at == utc(3, 10, 15)


@pytest.mark.parametrize(
    "f",
    [
        facts(planned_discharge_on=PLANNED, requirement=NOT_REQUIRED),
        facts(),
        discharged(planned_discharge_on=PLANNED),
    ],
)
def test_rule_5_quiet(f: PathwayFacts) -> None:
    assert of(f, cph(3, 20), Rule.MUNICIPALITY_NOT_NOTIFIED) == []


# ------------------------------------------------------------------------------ rule 6
# Discharged Monday 10 March 10:00, plan agreed before: delivered by Tue 11, read by Thu 13, accepted by Mon 17.
def gp_facts(**kw: Any) -> PathwayFacts:
    kw.setdefault("gp_delivery", GpDelivery.NONE)
    return discharged(cph(3, 10, 10), **kw)


@pytest.mark.parametrize(
    ("now", "delivery", "expected"),
    [
        (cph(3, 10, 12), GpDelivery.NONE, [("delivered", INFO)]),
        (cph(3, 11, 16), GpDelivery.NONE, [("delivered", URGENT), ("read", INFO)]),
        (
            cph(3, 13, 17),
            GpDelivery.NONE,
            [("delivered", URGENT), ("read", WARNING), ("accepted", INFO)],
        ),
        (
            cph(3, 13, 17),
            GpDelivery.SHARED,
            [("delivered", URGENT), ("read", WARNING), ("accepted", INFO)],
        ),
        (cph(3, 13, 17), GpDelivery.DELIVERED, [("read", WARNING), ("accepted", INFO)]),
        (cph(3, 17, 16), GpDelivery.READ, [("accepted", WARNING)]),
        (cph(3, 30), GpDelivery.ACCEPTED, []),
    ],
)
def test_rule_6_gp_ladder(
    now: datetime, delivery: GpDelivery, expected: list[tuple[str, Severity]]
) -> None:
    found = of(gp_facts(gp_delivery=delivery), now, Rule.GP_PLAN_STEP_MISSING)
    assert [(g.params["step"], g.severity) for g in found] == expected
    due = {"delivered": utc(3, 11, 15), "read": utc(3, 13, 15), "accepted": utc(3, 17, 15)}
    for gap in found:
        step = gap.params["step"]
        assert gap.obligation_key == f"plan:5:gp:{step}"
        assert gap.due_at == due[step]
        assert gap.plan_id == 5
        assert gap.basis == "plan_to_parties"
        # the ward resends a plan that never arrived; the GP clinic reads and accepts it
        assert gap.owner == (WARD_OWNER if step == "delivered" else Owner(G, GP, GP_CONTACT))


def test_rule_6_counts_from_a_late_agreement_and_uses_the_latest_agreed_plan() -> None:
    plans = (
        agreed(5, agreed_at=cph(3, 1)),
        agreed(6, status=PlanStatus.AGREED, agreed_at=cph(3, 12, 9)),
    )
    # agreed Wed 12 after the discharge on Mon 10: delivered by Thu 13, read by Mon 17
    found = of(gp_facts(plans=plans), cph(3, 13, 17), Rule.GP_PLAN_STEP_MISSING)
    assert [(g.obligation_key, g.due_at, g.severity) for g in found] == [
        ("plan:6:gp:delivered", utc(3, 13, 15), URGENT),
        ("plan:6:gp:read", utc(3, 17, 15), INFO),
    ]
    gap = found[0]
    assert gap.message == "The GP has not received the agreed plan within 1 working days"


@pytest.mark.parametrize(
    "f",
    [
        gp_facts(gp_clinic_id=None),
        gp_facts(plans=(draft(),)),
        facts(plans=(agreed(),), gp_delivery=GpDelivery.NONE),  # not discharged yet
    ],
)
def test_rule_6_quiet(f: PathwayFacts) -> None:
    assert of(f, cph(3, 30), Rule.GP_PLAN_STEP_MISSING) == []


# ------------------------------------------------------------------------------ rule 7
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (cph(3, 12, 12), None),  # Wed: Mon 17 is three working days away
        (cph(3, 13, 12), INFO),
        (cph(3, 17, 15, 59), INFO),
        (cph(3, 17, 16), URGENT),  # seven calendar days after discharge, 16:00
    ],
)
def test_rule_7_follow_up_within_seven_days(now: datetime, expected: Severity | None) -> None:
    f = discharged(cph(3, 10, 10), follow_up_held_at=None)
    assert severity_of(f, now, Rule.FOLLOW_UP_NOT_HELD) is expected
    if expected is not None:
        gap = one(f, now, Rule.FOLLOW_UP_NOT_HELD)
        assert (gap.due_at, gap.obligation_key, gap.params) == (
            utc(3, 17, 15),
            "follow_up",
            {"days": "7"},
        )
        assert gap.basis == "follow_up_after_discharge"


def test_rule_7_calendar_days_may_end_on_a_weekend_and_are_configurable() -> None:
    f = discharged(cph(3, 10, 10), follow_up_held_at=None)
    th = replace(DEFAULTS, follow_up_days=5)
    assert one(f, cph(3, 20), Rule.FOLLOW_UP_NOT_HELD, thresholds=th).due_at == utc(
        3, 15, 15
    )  # Sat


def test_rule_7_held_follow_up_closes_it() -> None:
    f = discharged(cph(3, 10, 10), follow_up_held_at=cph(3, 20))
    assert run(f, cph(3, 25)) == []


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (cph(3, 12, 9, 59), None),  # booked Wed 10:00: not missed yet
        (cph(3, 12, 10), WARNING),  # the time passed: register it by Thu 16:00
        (cph(3, 13, 15, 59), WARNING),
        (cph(3, 13, 16), URGENT),
    ],
)
def test_rule_7_booked_follow_up_missed(now: datetime, expected: Severity | None) -> None:
    f = discharged(cph(3, 10, 10), follow_up_held_at=None, follow_up_booked_for=cph(3, 12, 10))
    assert severity_of(f, now, Rule.FOLLOW_UP_MISSED) is expected
    if expected is not None:
        gap = one(f, now, Rule.FOLLOW_UP_MISSED)
        assert (gap.due_at, gap.obligation_key) == (utc(3, 13, 15), "follow_up:booked")
        assert gap.params == {"booked_on": "2025-03-12"}


def test_rule_7_missed_booking_applies_without_a_coordination_duty() -> None:
    f = discharged(
        cph(3, 10, 10),
        requirement=NOT_REQUIRED,
        follow_up_held_at=None,
        follow_up_booked_for=cph(3, 12, 10),
    )
    assert [g.rule for g in run(f, cph(3, 18))] == [Rule.FOLLOW_UP_MISSED]


def test_rule_7_a_booking_before_discharge_is_not_a_missed_follow_up() -> None:
    f = discharged(cph(3, 10, 10), follow_up_held_at=None, follow_up_booked_for=cph(3, 9, 10))
    assert of(f, cph(3, 11), Rule.FOLLOW_UP_MISSED) == []


# ------------------------------------------------------------------------------ rule 8
@pytest.mark.parametrize(
    ("held_at", "now", "expected"),
    [
        (None, cph(3, 12, 12), None),  # Mon 17 is three working days away
        (None, cph(3, 13, 12), INFO),
        (None, cph(3, 17, 16), WARNING),  # five working days after Monday's request
        (cph(3, 14), cph(3, 20), None),
        (cph(3, 7), cph(3, 20), WARNING),  # an earlier meeting does not answer a new request
    ],
)
def test_rule_8_network_meeting(
    held_at: datetime | None, now: datetime, expected: Severity | None
) -> None:
    f = facts(network_meeting_requested_at=cph(3, 10, 10), network_meeting_held_at=held_at)
    assert severity_of(f, now, Rule.NETWORK_MEETING_NOT_HELD) is expected
    if expected is not None:
        gap = one(f, now, Rule.NETWORK_MEETING_NOT_HELD)
        assert (gap.due_at, gap.basis) == (utc(3, 17, 15), "network_meeting")
        assert gap.params == {"requested_on": "2025-03-10", "working_days": "5"}


def test_rule_8_per_region_setting() -> None:
    overrides = {"regions": {"DK-81": {"network_meeting_working_days": 3}}}
    f = facts(network_meeting_requested_at=cph(3, 10, 10), region_code="DK-81")
    th = thresholds_for("DK-81", None, overrides)
    assert one(f, cph(3, 20), Rule.NETWORK_MEETING_NOT_HELD, thresholds=th).due_at == utc(3, 13, 15)
    assert one(f, cph(3, 20), Rule.NETWORK_MEETING_NOT_HELD).due_at == utc(3, 17, 15)


def test_rule_8_also_after_discharge() -> None:
    f = discharged(cph(3, 10, 10), network_meeting_requested_at=cph(3, 10, 11))
    assert severity_of(f, cph(3, 18), Rule.NETWORK_MEETING_NOT_HELD) is WARNING


# ------------------------------------------------------------------------------ rule 9
@pytest.mark.parametrize(
    ("status", "now", "expected"),
    [
        (PlanStatus.ACTIVE, cph(3, 12), None),
        (PlanStatus.ACTIVE, cph(3, 13), INFO),
        (PlanStatus.ACTIVE, cph(3, 17, 16), WARNING),
        (PlanStatus.AGREED, cph(3, 18), WARNING),
        (PlanStatus.UNDER_REVISION, cph(3, 18), None),  # the review is under way
        (PlanStatus.ENDED, cph(3, 18), None),
    ],
)
def test_rule_9_review_date(status: PlanStatus, now: datetime, expected: Severity | None) -> None:
    f = discharged(cph(3, 1), plans=(agreed(status=status, review_on=date(2025, 3, 17)),))
    assert severity_of(f, now, Rule.PLAN_REVIEW_OVERDUE) is expected
    if expected is not None:
        gap = one(f, now, Rule.PLAN_REVIEW_OVERDUE)
        assert (gap.obligation_key, gap.due_at, gap.plan_id) == ("plan:5:review", utc(3, 17, 15), 5)
        assert (gap.basis, gap.owner) == ("plan_review", WARD_OWNER)


def proposed(*parties: PendingParty, kind: PlanKind = PlanKind.DISCHARGE_AGREEMENT) -> PlanFacts:
    return PlanFacts(
        7, kind, PlanStatus.PROPOSED, proposed_at=cph(3, 10, 10), pending_parties=parties
    )


def test_rule_9_one_gap_per_party_that_has_not_answered() -> None:
    plan = proposed(
        PendingParty(ParticipantRole.GP, GP),
        PendingParty(ParticipantRole.MUNICIPALITY),
        PendingParty(ParticipantRole.PATIENT),
        PendingParty(ParticipantRole.OTHER, 77),
        PendingParty(ParticipantRole.GP, GP),  # listed twice: one gap
    )
    found = of(facts(plans=(plan,)), cph(3, 13, 16), Rule.PARTY_NOT_ANSWERED)
    assert [(g.obligation_key, g.owner, g.severity) for g in found] == [
        ("plan:7:party:gp", Owner(G, GP, GP_CONTACT), WARNING),
        ("plan:7:party:municipality", Owner(M, MUNI, MUNI_CONTACT), WARNING),
        ("plan:7:party:other:77", WARD_OWNER, WARNING),
        ("plan:7:party:patient", WARD_OWNER, WARNING),
    ]
    for gap in found:
        assert (gap.due_at, gap.plan_id, gap.basis) == (utc(3, 13, 15), 7, "discharge_agreement")
    assert (
        found[0].message == "The gp party has not answered the proposed plan within 3 working days"
    )
    assert [g.severity for g in of(facts(plans=(plan,)), cph(3, 11), Rule.PARTY_NOT_ANSWERED)] == [
        INFO
    ] * 4


def test_rule_9_party_of_another_organisation_is_that_organisations_inbox() -> None:
    plan = proposed(PendingParty(ParticipantRole.GP, 99), kind=PlanKind.COORDINATION_PLAN)
    gap = one(facts(plans=(plan,)), cph(3, 14), Rule.PARTY_NOT_ANSWERED)
    assert (gap.owner, gap.escalate_to, gap.basis) == (
        Owner(G, 99, None),
        None,
        "coordination_plan",
    )


def test_rule_9_no_answer_gap_once_the_plan_moved_on() -> None:
    plan = replace(proposed(PendingParty(ParticipantRole.GP, GP)), status=PlanStatus.AGREED)
    assert of(facts(plans=(plan,)), cph(3, 20), Rule.PARTY_NOT_ANSWERED) == []


def test_rule_9_a_proposal_reaches_the_municipality_at_once_and_is_due_before_discharge() -> None:
    # Proposed Monday 10:00, discharge planned Wednesday 12 March: the agreed plan is due Monday 16:00
    # (rule 2), before the three working days for an answer have passed.
    plan = proposed(PendingParty(ParticipantRole.MUNICIPALITY, MUNI))
    f = facts(plans=(plan,), planned_discharge_on=date(2025, 3, 12))
    gap = one(f, cph(3, 10, 11), Rule.PARTY_NOT_ANSWERED)
    assert (gap.obligation_key, gap.owner, gap.severity, gap.due_at) == (
        "plan:7:party:municipality",
        Owner(M, MUNI, MUNI_CONTACT),
        INFO,
        utc(3, 10, 15),
    )
    assert one(f, cph(3, 10, 16), Rule.PARTY_NOT_ANSWERED).severity is WARNING


def test_rule_9_without_a_planned_discharge_the_answer_is_due_after_n_working_days() -> None:
    plan = proposed(PendingParty(ParticipantRole.MUNICIPALITY, MUNI))
    gap = one(facts(plans=(plan,)), cph(3, 10, 11), Rule.PARTY_NOT_ANSWERED)
    assert (gap.severity, gap.due_at) == (INFO, utc(3, 13, 15))


def test_rule_9_a_proposal_after_the_plan_was_due_is_due_at_once() -> None:
    plan = replace(
        proposed(PendingParty(ParticipantRole.MUNICIPALITY, MUNI)), proposed_at=cph(3, 14)
    )
    f = facts(plans=(plan,), planned_discharge_on=date(2025, 3, 17))  # due Thursday 13, 16:00
    gap = one(f, cph(3, 14, 13), Rule.PARTY_NOT_ANSWERED)
    assert (gap.severity, gap.due_at) == (WARNING, cph(3, 14))


# ------------------------------------------------------------------------------ shared duties
def test_the_packaged_rules_name_who_shares_each_duty() -> None:
    assert rule_parties(Rule.PLAN_NOT_AGREED) == (Party.WARD, Party.MUNICIPALITY)
    assert rule_parties(Rule.MUNICIPALITY_NOT_NOTIFIED) == (Party.WARD, Party.MUNICIPALITY)
    assert rule_parties(Rule.READMISSION_NOTICE) == (Party.MUNICIPALITY, Party.GP)


def test_the_municipality_is_reminded_that_it_has_not_been_told_the_discharge_date() -> None:
    f = facts(planned_discharge_on=PLANNED, discharge_date_known_at=KNOWN)
    found = of(f, cph(3, 11, 16), Rule.MUNICIPALITY_NOT_NOTIFIED)
    assert [(g.obligation_key, g.owner, g.severity, g.due_at) for g in found] == [
        ("municipality", WARD_OWNER, URGENT, utc(3, 11, 15)),
        ("municipality:party:municipality", Owner(M, MUNI, MUNI_CONTACT), URGENT, utc(3, 11, 15)),
    ]


@pytest.mark.parametrize("rule", [Rule.PLAN_NOT_AGREED, Rule.MUNICIPALITY_NOT_NOTIFIED])
def test_an_unknown_municipality_leaves_one_reminder_with_the_ward(rule: GapRule) -> None:
    f = facts(planned_discharge_on=PLANNED, plans=(), municipality_id=None)
    assert [(g.obligation_key, g.owner.organisation_id) for g in of(f, cph(3, 14), rule)] == [
        ("plan_before_discharge" if rule is Rule.PLAN_NOT_AGREED else "municipality", WARD)
    ]


def test_the_municipal_copy_of_a_shared_duty_closes_with_the_wards() -> None:
    f = facts(planned_discharge_on=PLANNED, plans=(agreed(),), municipality_notified_at=cph(3, 20))
    assert of(f, cph(3, 14), Rule.PLAN_NOT_AGREED) == []
    assert of(f, cph(3, 14), Rule.MUNICIPALITY_NOT_NOTIFIED) == []


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        (
            {"plan_not_agreed": {"parties": ["ward", "county"]}},
            [
                ("municipality_not_notified.parties", "required"),
                ("plan_not_agreed.parties", "unknown"),
                ("readmission_notice.parties", "required"),
            ],
        ),
        (
            {
                "plan_not_agreed": {"parties": ["ward", "ward"]},
                "municipality_not_notified": {"parties": []},
                "readmission_notice": {"parties": ["gp"]},
                "follow_up_not_held": {"parties": ["ward"]},
            },
            [
                ("municipality_not_notified.parties", "required"),
                ("plan_not_agreed.parties", "duplicate"),
                ("follow_up_not_held.parties", "unknown"),
            ],
        ),
    ],
)
def test_rule_parties_are_checked(raw: dict[str, Any], errors: list[tuple[str, str]]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_rule_parties(raw)
    assert [(e.field, e.code) for e in exc.value.errors] == errors


# ------------------------------------------------------------------------------ rule 10
def test_rule_10_readmission_with_an_active_plan_tells_both_contacts_today() -> None:
    f = facts(readmitted_with_active_plan=True, admitted_at=cph(3, 10, 9))
    found = of(f, cph(3, 10, 10), Rule.READMISSION_NOTICE)
    assert [(g.obligation_key, g.owner, g.severity, g.due_at) for g in found] == [
        ("sector:general_practice", Owner(G, GP, GP_CONTACT), URGENT, utc(3, 10, 15)),
        ("sector:municipality", Owner(M, MUNI, MUNI_CONTACT), URGENT, utc(3, 10, 15)),
    ]
    assert found[0].basis == "readmission_notice"
    assert found[0].params == {"readmitted_on": "2025-03-10", "sector": "general_practice"}


def test_rule_10_municipal_notice_closes_its_half_and_discharge_ends_both() -> None:
    f = facts(readmitted_with_active_plan=True, readmitted_at=cph(3, 10, 9))
    told = replace(f, municipality_notified_at=cph(3, 10, 11))
    assert [g.obligation_key for g in of(told, cph(3, 10, 12), Rule.READMISSION_NOTICE)] == [
        "sector:general_practice"
    ]
    assert (
        of(discharged(readmitted_with_active_plan=True), cph(3, 11), Rule.READMISSION_NOTICE) == []
    )
    assert of(facts(), cph(3, 10, 10), Rule.READMISSION_NOTICE) == []


# ------------------------------------------------------------------------------ the whole
def test_a_neglected_discharge_shows_every_gap_once() -> None:
    f = discharged(
        cph(3, 10, 10),
        plans=(),
        contacts=(),
        follow_up_held_at=None,
        follow_up_booked_for=cph(3, 12, 10),
        network_meeting_requested_at=cph(3, 10, 11),
    )
    found = run(f, cph(3, 20))
    assert [(g.rule, g.obligation_key, g.severity) for g in found] == [
        (Rule.CONTACT_PERSON_MISSING, "sector:general_practice", URGENT),
        (Rule.CONTACT_PERSON_MISSING, "sector:municipality", URGENT),
        (Rule.CONTACT_PERSON_MISSING, "sector:region", URGENT),
        (Rule.DISCHARGED_WITHOUT_PLAN, "plan_before_discharge", BREACH),
        (Rule.FOLLOW_UP_MISSED, "follow_up:booked", URGENT),
        (Rule.FOLLOW_UP_NOT_HELD, "follow_up", URGENT),
        (Rule.NETWORK_MEETING_NOT_HELD, "network_meeting", WARNING),
    ]
    # sorted by due time, then rule
    assert [g.due_at for g in found] == sorted(g.due_at for g in found)


def test_default_thresholds_come_from_the_pathways_region() -> None:
    f = facts(plans=(), region_code="DK-84", kommunekode="0101")
    assert evaluate(f, cph(3, 13)) == run(f, cph(3, 13))


def test_every_rule_value_fits_the_column_and_every_basis_exists() -> None:
    assert all(len(rule.value) <= 64 for rule in GapRule)
    assert len({rule.value for rule in GapRule}) == len(GapRule)
    bases = all_legal_bases()
    for key in (
        "discharge_agreement",
        "fixed_contact_person",
        "discharge_date_notice",
        "plan_to_parties",
        "follow_up_after_discharge",
        "network_meeting",
        "plan_review",
        "readmission_notice",
    ):
        assert bases[key].reference
        assert bases[key].text_da
        assert bases[key].text_en


def test_severity_order() -> None:
    assert [s.rank for s in (INFO, WARNING, URGENT, BREACH)] == [0, 1, 2, 3]
    assert [s.value for s in Severity] == ["info", "warning", "urgent", "breach"]


def test_gp_delivery_ladder_order() -> None:
    ladder = [
        GpDelivery.NONE,
        GpDelivery.SHARED,
        GpDelivery.DELIVERED,
        GpDelivery.READ,
        GpDelivery.ACCEPTED,
    ]
    assert sorted(GpDelivery) == ladder
    assert [step.key for step in ladder] == ["none", "shared", "delivered", "read", "accepted"]
    with pytest.raises(ValueError, match="SHARED"):
        DEFAULTS.gp_step_working_days(GpDelivery.SHARED)


# ------------------------------------------------------------------------------ thresholds
PACKAGED = tomllib.loads(
    files("pathways.data").joinpath("reminder_rules.toml").read_text(encoding="utf-8")
)


def test_packaged_defaults() -> None:
    assert thresholds_for(None, None) == DEFAULTS
    assert set(PACKAGED["defaults"]) == set(THRESHOLD_KEYS)
    assert thresholds_for("DK-84", None).network_meeting_working_days == 5


OVERRIDES: dict[str, Any] = {
    "defaults": {"follow_up_days": 6},
    "regions": {"DK-84": {"follow_up_days": 5, "party_answer_working_days": 4}},
    "municipalities": {"0101": {"follow_up_days": 3}},
}


@pytest.mark.parametrize(
    ("region", "kommunekode", "follow_up_days", "party_days"),
    [
        (None, None, 6, 3),  # the overridden default
        ("DK-81", None, 6, 3),  # a region without its own table
        ("DK-84", None, 5, 4),
        ("dk-84", None, 5, 4),  # codes are normalised
        ("DK-84", "0101", 3, 4),  # municipality beats region, region fills in the rest
        ("DK-84", "101", 3, 4),
        ("DK-84", "0147", 5, 4),  # Frederiksberg has no table
        (None, "0101", 3, 3),
    ],
)
def test_threshold_precedence(
    region: str | None, kommunekode: str | None, follow_up_days: int, party_days: int
) -> None:
    th = thresholds_for(region, kommunekode, OVERRIDES)
    assert th.follow_up_days == follow_up_days
    assert th.party_answer_working_days == party_days
    assert th.plan_start_working_days == 2  # untouched keys keep the packaged default


def test_overrides_do_not_change_the_packaged_rules() -> None:
    thresholds_for("DK-84", "0101", OVERRIDES)
    assert thresholds_for("DK-84", "0101") == DEFAULTS


def _fails(call: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as exc:
        call()
    return [(e.field, e.code) for e in exc.value.errors]


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        (
            {"regions": {"DK-84": {"follow_up_days": -1}}},
            [("regions.DK-84.follow_up_days", "negative")],
        ),
        ({"defaults": {"follow_up_dayz": 7}}, [("defaults.follow_up_dayz", "unknown")]),
        ({"default": {}}, [("default", "unknown")]),
        ({"regions": {"DK-99": {}}}, [("regions.DK-99", "invalid")]),
        ({"municipalities": {"9999": {}}}, [("municipalities.9999", "invalid")]),
        ({"defaults": {"follow_up_days": True}}, [("defaults.follow_up_days", "not-a-number")]),
        ({"defaults": {"follow_up_days": "7"}}, [("defaults.follow_up_days", "not-a-number")]),
        ({"defaults": {"follow_up_days": 7.5}}, [("defaults.follow_up_days", "not-a-number")]),
        ({"defaults": {"follow_up_days": 367}}, [("defaults.follow_up_days", "too-large")]),
        (
            {"defaults": {"escalate_after_working_days": 0}},
            [("defaults.escalate_after_working_days", "too-small")],
        ),
        ({"regions": ["DK-84"]}, [("regions", "not-a-table")]),
        ({"regions": {"DK-84": 5}}, [("regions.DK-84", "not-a-table")]),
        (
            {
                "defaults": {"follow_up_days": -1, "nope": 1},
                "municipalities": {"0101": {"network_meeting_working_days": -2}},
            },
            [
                ("defaults.follow_up_days", "negative"),
                ("defaults.nope", "unknown"),
                ("municipalities.0101.network_meeting_working_days", "negative"),
            ],
        ),
    ],
)
def test_invalid_overrides_are_reported_with_their_path(
    overrides: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    assert _fails(lambda: thresholds_for(None, None, overrides)) == errors


def test_gp_steps_must_not_get_earlier() -> None:
    bad = {"regions": {"DK-82": {"gp_read_working_days": 9}}}
    assert thresholds_for(None, None, bad) == DEFAULTS  # another region: fine
    assert _fails(lambda: thresholds_for("DK-82", None, bad)) == [
        ("gp_read_working_days", "out-of-order")
    ]


def test_the_packaged_file_is_checked_as_a_whole() -> None:
    complete = {"defaults": dict(PACKAGED["defaults"])}
    assert isinstance(parse_reminder_rules(complete, complete=True), ReminderRules)
    missing = {"defaults": {k: v for k, v in PACKAGED["defaults"].items() if k != "follow_up_days"}}
    assert _fails(lambda: parse_reminder_rules(missing, complete=True)) == [
        ("defaults.follow_up_days", "required")
    ]
    disorder = {**complete, "municipalities": {"851": {"gp_delivered_working_days": 4}}}
    assert _fails(lambda: parse_reminder_rules(disorder, complete=True)) == [
        ("municipalities.851.gp_read_working_days", "out-of-order")
    ]
    assert default_reminder_rules().defaults == PACKAGED["defaults"]


def test_bad_codes_for_a_pathway_are_validation_errors() -> None:
    assert _fails(lambda: thresholds_for("DK-86", None)) == [("region_code", "invalid")]
    assert _fails(lambda: thresholds_for(None, "0000")) == [("kommunekode", "invalid")]


def test_thresholds_validate_themselves() -> None:
    assert _fails(lambda: replace(DEFAULTS, follow_up_days=-1)) == [("follow_up_days", "negative")]


# ------------------------------------------------------------------------------ properties
OFFSETS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=25))
# hypothesis takes naive bounds and attaches the timezone itself
INSTANTS = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001
    max_value=datetime(2026, 12, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
IDS = st.integers(min_value=1, max_value=5)


@st.composite
def pathway_facts(draw: st.DrawFn) -> PathwayFacts:
    admitted = draw(INSTANTS)

    def maybe_after(start: datetime) -> datetime | None:
        return draw(st.one_of(st.none(), OFFSETS.map(lambda d: start + d)))

    status = draw(st.sampled_from(list(PathwayStatus)))
    discharged_at = admitted + draw(OFFSETS) if status is S.DISCHARGED else maybe_after(admitted)
    leave_start = maybe_after(admitted)
    leaves = () if leave_start is None else (LeavePeriod(leave_start, maybe_after(leave_start)),)
    plans = draw(
        st.lists(
            st.builds(
                PlanFacts,
                id=IDS,
                kind=st.sampled_from(list(PlanKind)),
                status=st.sampled_from(list(PlanStatus)),
                agreed_at=st.one_of(st.none(), st.just(admitted)),
                proposed_at=st.one_of(st.none(), st.just(admitted + timedelta(hours=5))),
                review_on=st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2027, 1, 1))),
                pending_parties=st.lists(
                    st.builds(
                        PendingParty,
                        role=st.sampled_from(list(ParticipantRole)),
                        organisation_id=st.one_of(st.none(), IDS),
                    ),
                    max_size=4,
                ).map(tuple),
            ),
            max_size=3,
        ).map(tuple)
    )
    contacts = draw(
        st.lists(
            st.builds(
                ContactFacts,
                sector=st.sampled_from(list(Sector)),
                person_id=st.one_of(st.none(), IDS),
                person_active=st.booleans(),
                valid_from=st.one_of(st.none(), st.dates(date(2023, 6, 1), date(2027, 1, 1))),
                valid_to=st.one_of(st.none(), st.dates(date(2023, 6, 1), date(2027, 1, 1))),
                backup_person_id=st.one_of(st.none(), IDS),
            ),
            max_size=4,
        ).map(tuple)
    )
    return PathwayFacts(
        pathway_id=draw(IDS),
        patient_id=draw(IDS),
        status=status,
        admitted_at=admitted,
        ward_id=WARD,
        requirement=draw(st.sampled_from([REQUIRED, NOT_REQUIRED, NOT_ASSESSED, REFUSED])),
        chief_physician_id=draw(st.one_of(st.none(), st.just(CHIEF))),
        municipality_id=draw(st.one_of(st.none(), st.just(MUNI))),
        gp_clinic_id=draw(st.one_of(st.none(), st.just(GP))),
        planned_discharge_on=draw(
            st.one_of(st.none(), OFFSETS.map(lambda d: (admitted + d).date()))
        ),
        discharge_date_known_at=maybe_after(admitted),
        discharged_at=discharged_at,
        leave_periods=leaves,
        plans=plans,
        contacts=contacts,
        municipality_notified_at=maybe_after(admitted),
        gp_delivery=draw(st.sampled_from(list(GpDelivery))),
        follow_up_booked_for=maybe_after(admitted),
        follow_up_held_at=maybe_after(admitted),
        network_meeting_requested_at=maybe_after(admitted),
        network_meeting_held_at=maybe_after(admitted),
        readmitted_with_active_plan=draw(st.booleans()),
    )


NOW_AFTER = OFFSETS.map(lambda d: d + timedelta(hours=3))
PROPERTY = settings(max_examples=150, deadline=None)


@PROPERTY
@given(pathway_facts(), NOW_AFTER)
def test_evaluate_is_deterministic_unique_and_well_formed(
    f: PathwayFacts, after: timedelta
) -> None:
    now = f.admitted_at + after
    gaps = run(f, now)
    assert gaps == run(f, now)
    keys = [(g.rule, g.obligation_key) for g in gaps]
    assert len(keys) == len(set(keys))
    assert gaps == sorted(gaps, key=lambda g: (g.due_at, g.rule.value, g.obligation_key))
    bases = all_legal_bases()
    for gap in gaps:
        assert gap.due_at.tzinfo is UTC
        assert len(gap.obligation_key) <= 100
        assert gap.basis in bases
        assert gap.message
        assert "{" not in gap.message
        assert (gap.pathway_id, gap.patient_id) == (f.pathway_id, f.patient_id)
        assert gap.owner.organisation_id in {WARD, MUNI, GP, *range(1, 6)}
        if gap.severity is INFO:
            assert gap.due_at > now  # info is only ever a look ahead
    if not f.status.is_open:
        assert gaps == []


def _stored(gaps: list[Gap]) -> list[StoredReminder]:
    """The rows a caller would have written for ``gaps``, every other one acknowledged."""
    return [
        StoredReminder(
            id=i,
            pathway_id=g.pathway_id,
            rule=g.rule.value,
            obligation_key=g.obligation_key,
            status=ReminderStatus.OPEN if i % 2 else ReminderStatus.ACKNOWLEDGED,
            severity=g.severity,
            due_at=g.due_at,
            owner_organisation_id=g.owner.organisation_id,
            owner_person_id=g.owner.person_id,
            plan_id=g.plan_id,
            legal_basis=g.basis,
            message=g.message,
        )
        for i, g in enumerate(gaps, start=1)
    ]


@PROPERTY
@given(
    pathway_facts(), NOW_AFTER, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10))
)
def test_reconciling_twice_changes_nothing(
    f: PathwayFacts, after: timedelta, later: timedelta
) -> None:
    now = f.admitted_at + after
    gaps = run(f, now)
    first = reconcile([], gaps, now)
    assert first.create == [replace(g, severity=rules.severity_on_arrival(g, now)) for g in gaps]
    assert first.update == first.reopen == first.resolve == []
    stored = _stored(gaps)
    assert reconcile(stored, gaps, now).is_empty
    # later, every stored reminder either still matches a gap or is resolved; nothing is created twice
    then = now + later
    again = run(f, then)
    plan = reconcile(stored, again, then)
    old = {(s.rule, s.obligation_key): s.id for s in stored}
    assert {(g.rule.value, g.obligation_key) for g in plan.create}.isdisjoint(old)
    touched = [i for i, _ in plan.update] + [i for i, _ in plan.reopen] + plan.resolve
    assert len(touched) == len(set(touched))
    assert set(plan.resolve) == {
        i for key, i in old.items() if key not in {(g.rule.value, g.obligation_key) for g in again}
    }


def test_every_rule_has_a_title_in_danish_and_english() -> None:
    from pathways.labels import codes
    from pathways.reminders import rule_title

    assert set(codes("gap_rule")) == {r.value for r in GapRule}
    for rule in GapRule:
        danish, english = rule_title(rule), rule_title(rule, "en")
        assert danish
        assert english
        assert danish != english


# ------------------------------------------------------------------------------ rule 11: the GP is unknown
def test_rule_11_an_unknown_gp_is_a_gap_for_the_ward() -> None:
    gap = one(facts(gp_clinic_id=None), cph(3, 13), Rule.GP_UNKNOWN)
    assert (gap.obligation_key, gap.severity, gap.due_at) == ("gp", WARNING, utc(3, 12, 15))
    assert (gap.owner, gap.escalate_to) == (WARD_OWNER, Owner(R, WARD, WARD_BACKUP))
    assert gap.basis == "gp_party"
    assert gap.params == {"working_days": "2"}
    assert severity_of(facts(gp_clinic_id=None), cph(3, 10, 10), Rule.GP_UNKNOWN) is INFO


@pytest.mark.parametrize(
    ("changes", "has_gap"),
    [
        ({"gp_clinic_id": GP}, False),
        ({"gp_clinic_id": None, "gp_absent_reason": "patienten har ingen egen læge"}, False),
        ({"gp_clinic_id": None, "gp_absent_reason": "   "}, True),
        ({"gp_clinic_id": None, "requirement": NOT_REQUIRED}, False),
        ({"gp_clinic_id": None, "requirement": NOT_ASSESSED}, True),
        ({"gp_clinic_id": None, "requirement": REFUSED}, True),
    ],
)
def test_rule_11_closes_with_a_gp_or_a_reason(changes: dict[str, Any], has_gap: bool) -> None:
    assert bool(of(facts(**changes), cph(3, 13), Rule.GP_UNKNOWN)) is has_gap


def test_rule_11_has_titles_and_a_legal_basis() -> None:
    assert rule_title(Rule.GP_UNKNOWN) == "Patientens egen læge er ukendt"
    assert rule_title(Rule.GP_UNKNOWN, "en") == "The patient's GP is unknown"
    basis = all_legal_bases()["gp_party"]
    assert basis.reference == "Psykiatriloven §§ 13 a-13 b"
    assert basis.text_da
    assert basis.text_en
