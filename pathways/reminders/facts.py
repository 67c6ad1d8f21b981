"""What the gap rules read and write: the facts of one pathway, the gaps they find, and the context
of one evaluation (the facts at an instant, with the helpers every rule shares)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from pathways.agreements import Requirement, RequirementLevel
from pathways.calendar_dk import DEFAULT_DEADLINE_TIME, WorkingCalendar
from pathways.clock import COPENHAGEN, ensure_utc, to_copenhagen
from pathways.meetings import ActionStatus
from pathways.organisations import Sector
from pathways.plans import ParticipantRole, PlanKind, PlanStatus
from pathways.reminders.config import (
    GapRule,
    GpDelivery,
    Party,
    Thresholds,
    rule_parties,
)
from pathways.stays import LeavePeriod, PathwayStatus


# ==================================================================================== facts in
def normalise_instants(obj: object, *names: str) -> None:
    """Reject naive datetimes and store aware ones in UTC (on a frozen dataclass)."""
    for name in names:
        value = getattr(obj, name)
        if value is not None:
            object.__setattr__(obj, name, ensure_utc(value))


@dataclass(frozen=True, slots=True)
class PendingParty:
    """A required party that has not answered the current proposal."""

    role: ParticipantRole
    organisation_id: int | None = None


@dataclass(frozen=True, slots=True)
class PlanFacts:
    id: int
    kind: PlanKind
    status: PlanStatus
    agreed_at: datetime | None = None
    proposed_at: datetime | None = None  # when the current version was proposed
    review_on: date | None = None
    pending_parties: tuple[PendingParty, ...] = ()

    def __post_init__(self) -> None:
        normalise_instants(self, "agreed_at", "proposed_at")


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """One fixed-contact period of one sector (pass every period of the patient; history is fine)."""

    sector: Sector
    person_id: int | None  # None: only a team inbox
    person_active: bool = True
    valid_from: date | None = None
    valid_to: date | None = None  # inclusive last day
    backup_person_id: int | None = None

    def is_current(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )


@dataclass(frozen=True, slots=True)
class MeetingActionFacts:
    """An action agreed at a network meeting of the pathway: owned by one organisation, due on a day."""

    id: int
    meeting_id: int
    owner_organisation_id: int
    owner_sector: Sector
    due_on: date
    status: ActionStatus
    held_on: date | None = None  # the day of the meeting


@dataclass(frozen=True, slots=True)
class PathwayFacts:
    """One pathway as the rules see it. Datetimes must be aware (stored in UTC); dates are Copenhagen dates.

    - ``requirement``: the §13a assessment (``agreements.agreement_requirement``).
    - ``ward_id``: the ward (region sector); ``municipality_id`` / ``gp_clinic_id``: the organisations that own
      the municipal / GP obligations (None: unknown; the ward owns those gaps then).
    - ``discharge_date_known_at``: when the current planned discharge date was recorded (the latest
      discharge_planned event); treated as ``admitted_at`` when a date is set but this is not.
    - ``municipality_notified_at``: the latest municipality_notified fact.
    - ``gp_delivery`` / ``gp_delivery_at``: the furthest step of the latest agreed plan at the GP.
    - ``gp_absent_reason``: why the patient has no GP (e.g. none registered with one); with
      ``gp_clinic_id`` None and no reason, the GP is unknown (a gap).
    - ``readmitted_with_active_plan`` / ``readmitted_at``: this stay is a readmission of a patient with a plan in
      force (``readmitted_at`` defaults to ``admitted_at``).
    - ``meeting_actions``: the actions agreed at the network meetings held on this pathway (any status).
    """

    pathway_id: int
    patient_id: int
    status: PathwayStatus
    admitted_at: datetime
    ward_id: int
    requirement: Requirement
    chief_physician_id: int | None = None
    municipality_id: int | None = None
    gp_clinic_id: int | None = None
    region_code: str | None = None
    kommunekode: str | None = None
    planned_discharge_on: date | None = None
    discharge_date_known_at: datetime | None = None
    discharged_at: datetime | None = None
    leave_periods: tuple[LeavePeriod, ...] = ()
    plans: tuple[PlanFacts, ...] = ()
    contacts: tuple[ContactFacts, ...] = ()
    municipality_notified_at: datetime | None = None
    gp_delivery: GpDelivery = GpDelivery.NONE
    gp_delivery_at: datetime | None = None
    follow_up_booked_for: datetime | None = None
    follow_up_held_at: datetime | None = None
    network_meeting_requested_at: datetime | None = None
    network_meeting_held_at: datetime | None = None
    readmitted_with_active_plan: bool = False
    readmitted_at: datetime | None = None
    gp_absent_reason: str = ""
    meeting_actions: tuple[MeetingActionFacts, ...] = ()

    def __post_init__(self) -> None:
        normalise_instants(
            self,
            "admitted_at",
            "discharge_date_known_at",
            "discharged_at",
            "municipality_notified_at",
            "gp_delivery_at",
            "follow_up_booked_for",
            "follow_up_held_at",
            "network_meeting_requested_at",
            "network_meeting_held_at",
            "readmitted_at",
        )
        if self.status is PathwayStatus.DISCHARGED and self.discharged_at is None:
            raise ValueError(f"pathway {self.pathway_id} is discharged but has no discharged_at")


# ==================================================================================== gaps out
class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"
    BREACH = "breach"

    @property
    def rank(self) -> int:
        """0 for info up to 3 for breach: compare severities by rank, never by their text."""
        return list(Severity).index(self)


@dataclass(frozen=True, slots=True)
class Owner:
    """Who must act: a person in an organisation, or (person_id None) the organisation's team inbox."""

    sector: Sector
    organisation_id: int
    person_id: int | None = None


@dataclass(frozen=True, slots=True)
class Gap:
    """One unmet obligation of one pathway. (rule, obligation_key) is unique per pathway and stable."""

    rule: GapRule
    obligation_key: str
    severity: Severity
    due_at: datetime  # aware UTC
    owner: Owner
    basis: str  # key in pathways/data/legal.toml
    message: str  # English, short, no CPR or clinical detail; the UI translates by rule and params
    pathway_id: int
    patient_id: int
    escalate_to: Owner | None = None
    plan_id: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    # False when due_at is an advance warning before the real deadline (rule 2 warns N working days
    # before the planned discharge): passing it does not make a new reminder overdue.
    due_is_deadline: bool = True

    @property
    def key(self) -> tuple[int, str, str]:
        """The reminder's identity: (pathway_id, rule, obligation_key)."""
        return (self.pathway_id, self.rule.value, self.obligation_key)


# ==================================================================================== one evaluation
_BEFORE_DISCHARGE = (PathwayStatus.ADMITTED, PathwayStatus.ON_LEAVE)


def at_local(day: date) -> datetime:
    """The UTC instant of the deadline time (16:00 Copenhagen) on ``day``."""
    return datetime.combine(day, DEFAULT_DEADLINE_TIME, tzinfo=COPENHAGEN).astimezone(UTC)


def local_day(instant: datetime) -> date:
    return to_copenhagen(instant).date()


def working_days_before(calendar: WorkingCalendar, day: date, n: int) -> date:
    """The n-th working day before ``day`` (n == 0: ``day`` or the last working day before it)."""
    current = day
    if n == 0:
        while not calendar.is_working_day(current):
            current -= timedelta(days=1)
        return current
    remaining = n
    while remaining:
        current -= timedelta(days=1)
        if calendar.is_working_day(current):
            remaining -= 1
    return current


def midnight(day: date) -> datetime:
    """The UTC instant at which ``day`` begins in Copenhagen (00:00 local; DST never skips midnight)."""
    return datetime.combine(day, time(0), tzinfo=COPENHAGEN).astimezone(UTC)


def notice_from(calendar: WorkingCalendar, due_day: date, notice: int) -> date:
    """The first day on which a gap due on ``due_day`` is inside a notice window of ``notice`` working
    days, i.e. the earliest day d with ``working_days_between(d, due_day) <= notice``."""
    day = due_day
    ahead = 0
    while True:
        step = 1 if calendar.is_working_day(day) else 0
        if ahead + step > notice:
            return day
        ahead += step
        day -= timedelta(days=1)


class Context:
    """One evaluation: the facts, the instant, and helpers every rule shares.

    Every answer a rule takes from the clock (``now``, ``today``) goes through the helpers below, or is
    followed by a ``watch``: each notes the next instant after ``now`` at which that answer would change
    if no fact changes. ``next_change`` is the earliest of them: until then, evaluating again gives the
    same gaps (``rules.assess`` answers it as the pathway's next due time)."""

    __slots__ = ("calendar", "facts", "next_change", "now", "thresholds", "today")

    def __init__(
        self,
        facts: PathwayFacts,
        now: datetime,
        calendar: WorkingCalendar,
        thresholds: Thresholds,
    ) -> None:
        self.facts = facts
        self.now = now
        self.calendar = calendar
        self.thresholds = thresholds
        self.today = local_day(now)
        self.next_change: datetime | None = None

    # ------------------------------------------------------------------ what time changes
    def watch(self, at: datetime) -> None:
        """An answer of this evaluation changes at ``at`` (ignored unless it is after now)."""
        if at > self.now and (self.next_change is None or at < self.next_change):
            self.next_change = at

    def watch_day(self, day: date) -> None:
        """An answer of this evaluation changes when ``day`` begins in Copenhagen."""
        self.watch(midnight(day))

    def _watch_contacts(self, sector: Sector, on: date) -> None:
        """Which contact period of ``sector`` is current changes on a first or day-after-last day."""
        for contact in self.facts.contacts:
            if contact.sector is not sector:
                continue
            for boundary in (
                contact.valid_from,
                None if contact.valid_to is None else contact.valid_to + timedelta(days=1),
            ):
                if boundary is not None and boundary > on:
                    self.watch_day(boundary)

    # ------------------------------------------------------------------ facts
    @property
    def has_duty(self) -> bool:
        """Covered by §13a, or not assessed yet (then assume so)."""
        return self.facts.requirement.level is not RequirementLevel.NOT_REQUIRED

    @property
    def is_before_discharge(self) -> bool:
        return self.facts.status in _BEFORE_DISCHARGE

    def discharged_at(self) -> datetime | None:
        f = self.facts
        return f.discharged_at if f.status is PathwayStatus.DISCHARGED else None

    def leave_pauses(self) -> list[tuple[date, date]]:
        pauses = []
        for leave in self.facts.leave_periods:
            first = local_day(leave.started_at)
            # An open leave pauses the clock up to today; tomorrow's evaluation moves the deadline on.
            last = local_day(leave.ended_at) if leave.ended_at is not None else self.today
            if leave.ended_at is None:  # tomorrow the pause is a day longer
                self.watch_day(self.today + timedelta(days=1))
            pauses.append((first, max(first, last)))
        return pauses

    def plan_basis(self, kind: PlanKind) -> str:
        return "coordination_plan" if kind is PlanKind.COORDINATION_PLAN else "discharge_agreement"

    # ------------------------------------------------------------------ time
    def severity(self, due_at: datetime, *, before: Severity, after: Severity) -> Severity | None:
        """``after`` once due; ``before`` while due within the notice window; None (not shown) earlier."""
        if self.now >= due_at:
            return after
        self.watch(due_at)
        notice = self.thresholds.upcoming_notice_working_days
        due_day = local_day(due_at)
        if self.calendar.working_days_between(self.today, due_day) <= notice:
            return before
        self.watch_day(notice_from(self.calendar, due_day, notice))
        return None

    def plan_agreed_by(self) -> datetime | None:
        """Before discharge with a planned date: when an agreed plan is due (rule 2); else None."""
        planned = self.facts.planned_discharge_on
        if not self.is_before_discharge or planned is None:
            return None
        n = self.thresholds.plan_agreed_warning_working_days
        return at_local(working_days_before(self.calendar, planned, n))

    def same_working_day(self, at: datetime) -> datetime:
        """Due the working day it happened (16:00), and at once when that time has already passed."""
        return max(at, self.calendar.deadline(at, 0))

    # ------------------------------------------------------------------ people
    def organisation(self, sector: Sector) -> int | None:
        f = self.facts
        return {
            Sector.REGION: f.ward_id,
            Sector.MUNICIPALITY: f.municipality_id,
            Sector.GENERAL_PRACTICE: f.gp_clinic_id,
        }[sector]

    def current_contact(self, sector: Sector, on: date) -> ContactFacts | None:
        """The contact period of ``sector`` current on ``on`` (a day from ``today`` on: a change of
        period is watched)."""
        if on >= self.today:
            self._watch_contacts(sector, on)
        current = [c for c in self.facts.contacts if c.sector is sector and c.is_current(on)]
        # should two periods overlap (the contacts rules forbid it), prefer one with an active person
        current.sort(key=lambda c: (c.person_id is None or not c.person_active, c.person_id or 0))
        return current[0] if current else None

    def contact_problem(self, sector: Sector, on: date) -> str | None:
        """Why ``sector`` has no usable fixed contact person on ``on``; None when it has one."""
        contact = self.current_contact(sector, on)
        if contact is not None:
            if contact.person_id is None:
                return "no_person"  # only a team inbox: a fallback, not a fixed contact person
            return None if contact.person_active else "inactive"
        ended = any(
            c.sector is sector and c.valid_to is not None and c.valid_to < on
            for c in self.facts.contacts
        )
        return "ended" if ended else "missing"

    def chief_physician(self) -> Owner | None:
        chief = self.facts.chief_physician_id
        return None if chief is None else Owner(Sector.REGION, self.facts.ward_id, chief)

    def responsible(
        self, sector: Sector, organisation_id: int | None = None
    ) -> tuple[Owner, Owner | None]:
        """(owner, escalate_to) for an obligation of ``sector`` (optionally of a named organisation)."""
        home = self.organisation(sector)
        org = organisation_id if organisation_id is not None else home
        if org is None:  # nobody known in that sector: the ward must find out who
            return self.responsible(Sector.REGION)
        contact = self.current_contact(sector, self.today) if org == home else None
        person = None
        if contact is not None and contact.person_active:
            person = contact.person_id
        backup = None
        if contact is not None and contact.backup_person_id is not None:
            backup = Owner(sector, org, contact.backup_person_id)
        if backup is None and sector is Sector.REGION:
            backup = self.chief_physician()
        return Owner(sector, org, person), backup

    def parties(
        self, rule: GapRule, ward: tuple[Owner, Owner | None]
    ) -> Iterator[tuple[Party, tuple[Owner, Owner | None]]]:
        """Each party that must act on a shared rule's obligation, with who acts for it (``ward``: who acts
        for the ward). A party whose organisation is unknown falls to the ward, which must find out who
        it is; when the ward is a party anyway, its own reminder is that one."""
        listed = rule_parties(rule)
        for party in listed:
            if party is Party.WARD:
                yield party, ward
            elif self.organisation(party.sector) is not None or Party.WARD not in listed:
                yield party, self.responsible(party.sector)

    def ward_duty(self) -> tuple[Owner, Owner | None]:
        """The chief physician's own §13a duties: the ward's contact acts, the chief physician is told."""
        owner, backup = self.responsible(Sector.REGION)
        chief = self.chief_physician()
        return owner, chief if chief is not None else backup

    # ------------------------------------------------------------------ output
    def gap(
        self,
        rule: GapRule,
        key: str,
        severity: Severity,
        due_at: datetime,
        responsible: tuple[Owner, Owner | None],
        *,
        basis: str,
        message: str,
        params: dict[str, str] | None = None,
        plan_id: int | None = None,
        due_is_deadline: bool = True,
    ) -> Gap:
        owner, escalate_to = responsible
        clean = params or {}
        return Gap(
            rule=rule,
            obligation_key=key,
            severity=severity,
            due_at=ensure_utc(due_at),
            owner=owner,
            escalate_to=escalate_to,
            basis=basis,
            plan_id=plan_id,
            message=message.format(**clean),
            params=clean,
            pathway_id=self.facts.pathway_id,
            patient_id=self.facts.patient_id,
            due_is_deadline=due_is_deadline,
        )
