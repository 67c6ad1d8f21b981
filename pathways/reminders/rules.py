"""The gap rules: one function per rule, each yielding the gaps of one pathway, and ``evaluate``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from pathways.agreements import AGREED_STATES, RequirementLevel
from pathways.calendar_dk import WorkingCalendar, default_calendar
from pathways.clock import ensure_utc
from pathways.meetings import ActionStatus, action_due_at, is_overdue
from pathways.organisations import Sector
from pathways.plans import ParticipantRole, PlanStatus
from pathways.reminders.config import (
    GapRule,
    GpDelivery,
    Party,
    Thresholds,
    thresholds_for,
)
from pathways.reminders.facts import (
    Context,
    Gap,
    PathwayFacts,
    PendingParty,
    Severity,
    at_local,
    local_day,
)

_CONTACT_SECTORS = (Sector.REGION, Sector.MUNICIPALITY, Sector.GENERAL_PRACTICE)
_SINGLE_ROLES = frozenset(
    {
        ParticipantRole.PATIENT,
        ParticipantRole.WARD,
        ParticipantRole.MUNICIPALITY,
        ParticipantRole.GP,
    }
)
_ROLE_SECTOR = {
    ParticipantRole.MUNICIPALITY: Sector.MUNICIPALITY,
    ParticipantRole.GP: Sector.GENERAL_PRACTICE,
}
_GP_STEPS = (GpDelivery.DELIVERED, GpDelivery.READ, GpDelivery.ACCEPTED)
_GP_STEP_VERB = {
    GpDelivery.DELIVERED: "received",
    GpDelivery.READ: "read",
    GpDelivery.ACCEPTED: "accepted",
}


# ------------------------------------------------------------------------------------ the rules
def _party_key(base: str, party: Party) -> str:
    """A shared obligation's key: the ward's is the rule's own key (stored reminders keep theirs), each
    other party's names the party."""
    return base if party is Party.WARD else f"{base}:party:{party.value}"


def _plan_not_started(c: Context) -> Iterator[Gap]:
    """1. Required, admitted, and no plan at all (a draft is enough) N working days after admission;
    the clock stops during leave."""
    f = c.facts
    if not c.is_before_discharge or f.requirement.level is not RequirementLevel.REQUIRED:
        return
    if any(p.status.is_open for p in f.plans):
        return
    n = c.thresholds.plan_start_working_days
    due = c.calendar.deadline_with_pauses(f.admitted_at, n, c.leave_pauses())
    severity = c.severity(due, before=Severity.INFO, after=Severity.WARNING)
    if severity is not None:
        yield c.gap(
            GapRule.PLAN_NOT_STARTED,
            "plan_start",
            severity,
            due,
            c.ward_duty(),
            basis=f.requirement.basis.key,
            message="No discharge agreement or coordination plan started within {working_days} "
            "working days of admission",
            params={"working_days": str(n)},
        )


def _requirement_not_assessed(c: Context) -> Iterator[Gap]:
    """1b. The chief physician has not assessed §13a: due like rule 1 (leave pauses), urgent on the planned
    discharge day, a breach once discharged unassessed (it can still be assessed afterwards)."""
    f = c.facts
    if f.requirement.level is not RequirementLevel.NOT_ASSESSED:
        return
    n = c.thresholds.plan_start_working_days
    due = c.calendar.deadline_with_pauses(f.admitted_at, n, c.leave_pauses())
    discharged_at = c.discharged_at()
    severity: Severity | None
    if discharged_at is not None:
        due, severity = min(due, discharged_at), Severity.BREACH
    elif f.planned_discharge_on is not None and c.today >= f.planned_discharge_on:
        severity = Severity.URGENT
    else:
        if f.planned_discharge_on is not None:
            c.watch_day(f.planned_discharge_on)  # urgent from the planned discharge day
        severity = c.severity(due, before=Severity.INFO, after=Severity.WARNING)
    if severity is not None:
        yield c.gap(
            GapRule.REQUIREMENT_NOT_ASSESSED,
            "assessment",
            severity,
            due,
            c.ward_duty(),
            basis=f.requirement.basis.key,
            message="Not yet assessed whether a discharge agreement is required",
        )


def _plan_not_agreed(c: Context) -> Iterator[Gap]:
    """2. Discharge planned, required, no agreed plan: warning N working days before, urgent on the day."""
    f = c.facts
    planned = f.planned_discharge_on
    if not c.is_before_discharge or planned is None:
        return
    if f.requirement.level is not RequirementLevel.REQUIRED:
        return
    if any(p.status in AGREED_STATES for p in f.plans):
        return
    n = c.thresholds.plan_agreed_warning_working_days
    due = c.plan_agreed_by()
    assert due is not None  # before discharge with a planned date
    if c.today >= planned:
        severity: Severity | None = Severity.URGENT
    else:
        c.watch_day(planned)  # urgent on the day
        severity = c.severity(due, before=Severity.INFO, after=Severity.WARNING)
    if severity is None:
        return
    for party, responsible in c.parties(GapRule.PLAN_NOT_AGREED, c.ward_duty()):
        yield c.gap(
            GapRule.PLAN_NOT_AGREED,
            _party_key("plan_before_discharge", party),
            severity,
            due,
            responsible,
            basis=f.requirement.basis.key,
            message="No agreed plan yet; discharge is planned for {planned_discharge_on}",
            params={"planned_discharge_on": planned.isoformat(), "working_days": str(n)},
            due_is_deadline=False,  # due_at warns ahead; the deadline is the discharge (urgent then)
        )


def _discharged_without_plan(c: Context) -> Iterator[Gap]:
    """3. Discharged, required, no agreed plan: a breach, escalated to the chief physician. The reminder
    closes once a plan is agreed after all (the late agreement stays visible in the plan's history)."""
    f = c.facts
    discharged_at = c.discharged_at()
    if discharged_at is None or f.requirement.level is not RequirementLevel.REQUIRED:
        return
    if any(p.status in AGREED_STATES for p in f.plans):
        return
    yield c.gap(
        GapRule.DISCHARGED_WITHOUT_PLAN,
        "plan_before_discharge",
        Severity.BREACH,
        discharged_at,
        c.ward_duty(),
        basis=f.requirement.basis.key,
        message="Discharged on {discharged_on} without an agreed plan",
        params={"discharged_on": local_day(discharged_at).isoformat()},
    )


def _contact_person_missing(c: Context) -> Iterator[Gap]:
    """4. Discharge date known (or discharged): each sector needs a current fixed contact person with an
    active account on the discharge day (today once discharged). One gap per sector."""
    f = c.facts
    discharged_at = c.discharged_at()
    planned = f.planned_discharge_on if c.is_before_discharge else None
    if not c.has_duty or (discharged_at is None and planned is None):
        return
    on = c.today if planned is None else max(c.today, planned)
    candidates = [at_local(planned)] if planned is not None else []
    if discharged_at is not None:
        candidates.append(discharged_at)
    due = min(candidates)
    severity = c.severity(due, before=Severity.INFO, after=Severity.URGENT)
    if severity is None:
        return
    for sector in _CONTACT_SECTORS:
        reason = c.contact_problem(sector, on)
        if reason is not None:
            yield c.gap(
                GapRule.CONTACT_PERSON_MISSING,
                f"sector:{sector.value}",
                severity,
                due,
                c.responsible(sector),
                basis="fixed_contact_person",
                message="No current fixed contact person in the {sector} sector ({reason})",
                params={"sector": sector.value, "reason": reason},
            )


def _municipality_not_notified(c: Context) -> Iterator[Gap]:
    """5. A discharge date is known and the municipality has not been told it (since it became known): due
    the same working day. Ends at discharge, when the MedCom discharge notification has told them anyway."""
    f = c.facts
    planned = f.planned_discharge_on
    if not c.is_before_discharge or planned is None or not c.has_duty:
        return
    known_at = f.discharge_date_known_at or f.admitted_at
    notified = f.municipality_notified_at
    if notified is not None and notified >= known_at:
        return
    due = c.same_working_day(known_at)
    severity = c.severity(due, before=Severity.WARNING, after=Severity.URGENT)
    if severity is None:
        return
    for party, responsible in c.parties(
        GapRule.MUNICIPALITY_NOT_NOTIFIED, c.responsible(Sector.REGION)
    ):
        yield c.gap(
            GapRule.MUNICIPALITY_NOT_NOTIFIED,
            _party_key("municipality", party),
            severity,
            due,
            responsible,
            basis="discharge_date_notice",
            message="The municipality has not been told the discharge date {planned_discharge_on}",
            params={"planned_discharge_on": planned.isoformat()},
        )


def _gp_plan_steps(c: Context) -> Iterator[Gap]:
    """6. After discharge with an agreed plan: the GP has received, read and accepted it within N working
    days each (from discharge, or from the agreement when later). One gap per missing step. The ward owns
    a plan that never arrived; the GP clinic owns reading and accepting it."""
    f = c.facts
    discharged_at = c.discharged_at()
    if discharged_at is None or f.gp_clinic_id is None:
        return
    agreed = [p for p in f.plans if p.status in AGREED_STATES]
    if not agreed:
        return
    plan = max(agreed, key=lambda p: (p.agreed_at or discharged_at, p.id))
    start = max(discharged_at, plan.agreed_at or discharged_at)
    for step in _GP_STEPS:
        if f.gp_delivery >= step:
            continue
        n = c.thresholds.gp_step_working_days(step)
        due = c.calendar.deadline(start, n)
        late = Severity.URGENT if step is GpDelivery.DELIVERED else Severity.WARNING
        severity = c.severity(due, before=Severity.INFO, after=late)
        if severity is None:
            continue
        sector = Sector.REGION if step is GpDelivery.DELIVERED else Sector.GENERAL_PRACTICE
        yield c.gap(
            GapRule.GP_PLAN_STEP_MISSING,
            f"plan:{plan.id}:gp:{step.key}",
            severity,
            due,
            c.responsible(sector),
            basis="plan_to_parties",
            message="The GP has not {verb} the agreed plan within {working_days} working days",
            params={"step": step.key, "verb": _GP_STEP_VERB[step], "working_days": str(n)},
            plan_id=plan.id,
        )


def _follow_up(c: Context) -> Iterator[Gap]:
    """7. No follow-up held within N calendar days of discharge (pathways with a coordination duty); and a
    booked follow-up whose time has passed without being registered as held (any pathway): shown from the
    booked time, due (urgent) at 16:00 the next working day."""
    f = c.facts
    discharged_at = c.discharged_at()
    if discharged_at is None or f.follow_up_held_at is not None:
        return
    days = c.thresholds.follow_up_days
    if c.has_duty:
        due = at_local(local_day(discharged_at) + timedelta(days=days))
        severity = c.severity(due, before=Severity.INFO, after=Severity.URGENT)
        if severity is not None:
            yield c.gap(
                GapRule.FOLLOW_UP_NOT_HELD,
                "follow_up",
                severity,
                due,
                c.responsible(Sector.REGION),
                basis="follow_up_after_discharge",
                message="No follow-up held within {days} days of discharge",
                params={"days": str(days)},
            )
    booked = f.follow_up_booked_for
    if booked is not None and discharged_at <= booked:
        c.watch(booked)  # shown from the booked time
    if booked is not None and discharged_at <= booked <= c.now:
        # once the booked time has passed, staff have until 16:00 the next working day to register it
        due = c.calendar.deadline(booked, 1)
        c.watch(due)
        yield c.gap(
            GapRule.FOLLOW_UP_MISSED,
            "follow_up:booked",
            Severity.URGENT if c.now >= due else Severity.WARNING,
            due,
            c.responsible(Sector.REGION),
            basis="follow_up_after_discharge",
            message="The follow-up booked for {booked_on} is not registered as held",
            params={"booked_on": local_day(booked).isoformat()},
        )


def _network_meeting(c: Context) -> Iterator[Gap]:
    """8. A network meeting was requested and not held (since the request) within N working days."""
    f = c.facts
    requested = f.network_meeting_requested_at
    if requested is None:
        return
    held = f.network_meeting_held_at
    if held is not None and held >= requested:
        return
    n = c.thresholds.network_meeting_working_days
    due = c.calendar.deadline(requested, n)
    severity = c.severity(due, before=Severity.INFO, after=Severity.WARNING)
    if severity is not None:
        yield c.gap(
            GapRule.NETWORK_MEETING_NOT_HELD,
            "network_meeting",
            severity,
            due,
            c.responsible(Sector.REGION),
            basis="network_meeting",
            message="The network meeting requested on {requested_on} is not held within "
            "{working_days} working days",
            params={"requested_on": local_day(requested).isoformat(), "working_days": str(n)},
        )


def _plan_review_and_answers(c: Context) -> Iterator[Gap]:
    """9. A plan in force past its review date; a proposed plan a required party has not answered within N
    working days of the proposal (one gap per party, owned by that party's sector). Shown from the
    proposal on; before discharge it is due by rule 2's deadline for an agreed plan when that comes
    first (a proposal made later than that is due at once)."""
    for plan in sorted(c.facts.plans, key=lambda p: p.id):
        if plan.status in (PlanStatus.AGREED, PlanStatus.ACTIVE) and plan.review_on is not None:
            due = at_local(plan.review_on)
            severity = c.severity(due, before=Severity.INFO, after=Severity.WARNING)
            if severity is not None:
                yield c.gap(
                    GapRule.PLAN_REVIEW_OVERDUE,
                    f"plan:{plan.id}:review",
                    severity,
                    due,
                    c.responsible(Sector.REGION),
                    basis="plan_review",
                    message="The plan is due for review on {review_on}",
                    params={"review_on": plan.review_on.isoformat()},
                    plan_id=plan.id,
                )
        if plan.status is not PlanStatus.PROPOSED or plan.proposed_at is None:
            continue
        n = c.thresholds.party_answer_working_days
        due = c.calendar.deadline(plan.proposed_at, n)
        agreed_by = c.plan_agreed_by()
        if agreed_by is not None:  # the answers are needed before the plan is due to be agreed
            due = min(due, max(agreed_by, plan.proposed_at))
        # A proposal asks each party by name: its inbox shows the request at once, not days later.
        severity = Severity.WARNING if c.now >= due else Severity.INFO
        if plan.pending_parties:
            c.watch(due)
        keys: dict[str, PendingParty] = {}
        for party in plan.pending_parties:
            key = f"plan:{plan.id}:party:{party.role.value}"
            if party.role not in _SINGLE_ROLES and party.organisation_id is not None:
                key += f":{party.organisation_id}"
            keys.setdefault(key, party)
        for key, party in keys.items():
            sector = _ROLE_SECTOR.get(party.role, Sector.REGION)
            org = party.organisation_id if party.role in _ROLE_SECTOR else None
            yield c.gap(
                GapRule.PARTY_NOT_ANSWERED,
                key,
                severity,
                due,
                c.responsible(sector, org),
                basis=c.plan_basis(plan.kind),
                message="The {role} party has not answered the proposed plan within "
                "{working_days} working days",
                params={"role": party.role.value, "working_days": str(n)},
                plan_id=plan.id,
            )


def _readmission_notice(c: Context) -> Iterator[Gap]:
    """10. Readmitted with a plan in force: the municipal and the GP contact must know the same day. The
    reminder addresses them directly, so acknowledging it is the notice; the municipal one also closes when
    the municipality is notified during this stay. Both end at discharge."""
    f = c.facts
    if not c.is_before_discharge or not f.readmitted_with_active_plan:
        return
    at = f.readmitted_at or f.admitted_at
    due = c.same_working_day(at)
    for party, responsible in c.parties(GapRule.READMISSION_NOTICE, c.responsible(Sector.REGION)):
        sector = party.sector
        notified = f.municipality_notified_at
        if sector is Sector.MUNICIPALITY and notified is not None and notified >= at:
            continue
        yield c.gap(
            GapRule.READMISSION_NOTICE,
            f"sector:{sector.value}",
            Severity.URGENT,
            due,
            responsible,
            basis="readmission_notice",
            message="A patient with an active plan was readmitted on {readmitted_on}",
            params={"readmitted_on": local_day(at).isoformat(), "sector": sector.value},
        )


def _gp_unknown(c: Context) -> Iterator[Gap]:
    """11. The patient of an open stay has no GP registered and no reason for it is recorded: the GP is a
    party to the agreement or plan (§13a, §13b), so the ward finds out who it is (or records that there is
    none) within the working days a plan has to be started in; the clock stops during leave."""
    f = c.facts
    if f.gp_clinic_id is not None or f.gp_absent_reason.strip() or not c.has_duty:
        return
    n = c.thresholds.plan_start_working_days
    due = c.calendar.deadline_with_pauses(f.admitted_at, n, c.leave_pauses())
    severity = c.severity(due, before=Severity.INFO, after=Severity.WARNING)
    if severity is None:
        return
    yield c.gap(
        GapRule.GP_UNKNOWN,
        "gp",
        severity,
        due,
        c.responsible(Sector.REGION),
        basis="gp_party",
        message="The patient's GP is unknown {working_days} working days after admission",
        params={"working_days": str(n)},
    )


def _meeting_actions(c: Context) -> Iterator[Gap]:
    """12. An action agreed at a network meeting is still open when its due date has passed (16:00
    Copenhagen that day): a reminder to the action's owner organisation (its fixed contact person when it
    is the patient's organisation of that sector), one per action. It resolves when the action is marked
    done or not done. The seeds' lesson: meetings agreed actions, the follow-up after discharge failed."""
    for action in sorted(c.facts.meeting_actions, key=lambda a: a.id):
        if not is_overdue(action.status, action.due_on, c.now):
            if action.status is ActionStatus.OPEN:
                c.watch(action_due_at(action.due_on))
            continue
        due = action_due_at(action.due_on)
        params = {"due_on": action.due_on.isoformat()}
        if action.held_on is not None:
            params["held_on"] = action.held_on.isoformat()
        yield c.gap(
            GapRule.NETWORK_MEETING_ACTION_OVERDUE,
            f"meeting:{action.meeting_id}:action:{action.id}",
            Severity.WARNING,
            due,
            c.responsible(action.owner_sector, action.owner_organisation_id),
            basis="network_meeting",
            message="An action agreed at a network meeting was due on {due_on} and is not done",
            params=params,
        )


_RULES: tuple[Callable[[Context], Iterator[Gap]], ...] = (
    _plan_not_started,
    _requirement_not_assessed,
    _plan_not_agreed,
    _discharged_without_plan,
    _contact_person_missing,
    _municipality_not_notified,
    _gp_plan_steps,
    _follow_up,
    _network_meeting,
    _plan_review_and_answers,
    _readmission_notice,
    _gp_unknown,
    _meeting_actions,
)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The gaps of one pathway at an instant, and when they next change by time alone.

    ``next_due_at`` (aware UTC, after the instant, or None: never while the facts stay as they are) is the
    earliest instant at which a gap appears (enters its notice window or reacts to a time that passed),
    changes severity (its deadline passes), moves (an open leave pauses a deadline one more day) or
    changes owner (a contact period begins or ends). Evaluating again before it gives the same gaps."""

    gaps: list[Gap]
    next_due_at: datetime | None


def evaluate(
    facts: PathwayFacts,
    now: datetime,
    *,
    calendar: WorkingCalendar | None = None,
    thresholds: Thresholds | None = None,
) -> list[Gap]:
    """The gaps of one pathway at ``now``, sorted by (due_at, rule, obligation_key).

    Pure and deterministic. Closed and cancelled pathways have no gaps. A gap that no longer exists is
    simply absent: ``reconcile`` turns that into "resolve the stored reminder". Defaults: the packaged
    calendar and the thresholds of the pathway's region and municipality."""
    return assess(facts, now, calendar=calendar, thresholds=thresholds).gaps


def assess(
    facts: PathwayFacts,
    now: datetime,
    *,
    calendar: WorkingCalendar | None = None,
    thresholds: Thresholds | None = None,
) -> Evaluation:
    """``evaluate``, and the pathway's next due time (``Evaluation.next_due_at``): each rule notes, as it
    reads the clock, when its answer would change (``Context.watch``)."""
    at = ensure_utc(now)
    if not facts.status.is_open:
        return Evaluation([], None)
    context = Context(
        facts,
        at,
        calendar if calendar is not None else default_calendar(),
        thresholds
        if thresholds is not None
        else thresholds_for(facts.region_code, facts.kommunekode),
    )
    found: dict[tuple[int, str, str], Gap] = {}
    for rule in _RULES:
        for gap in rule(context):
            # (rule, key) is unique by construction; keep the most severe should that ever slip
            kept = found.get(gap.key)
            if kept is None or gap.severity.rank > kept.severity.rank:
                found[gap.key] = gap
    gaps = sorted(found.values(), key=lambda g: (g.due_at, g.rule.value, g.obligation_key))
    return Evaluation(gaps, context.next_change)
