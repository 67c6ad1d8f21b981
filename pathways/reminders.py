"""Reminders that close gaps in transitions: the gap rules, their thresholds, and the reminder lifecycle.

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

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from enum import IntEnum, StrEnum
from functools import cache
from importlib.resources import files
from types import MappingProxyType

from pathways.agreements import AGREED_STATES, Requirement, RequirementLevel
from pathways.calendar_dk import DEFAULT_DEADLINE_TIME, WorkingCalendar, default_calendar
from pathways.clock import COPENHAGEN, ensure_utc, to_copenhagen
from pathways.errors import ErrorCollector, FieldError, IllegalTransition, ValidationFailed
from pathways.geography import Region
from pathways.identifiers import municipality, validate_kommunekode, validate_region_code
from pathways.labels import label
from pathways.organisations import Sector
from pathways.plans import ParticipantRole, PlanKind, PlanStatus
from pathways.stays import LeavePeriod, PathwayStatus


# ==================================================================================== enums (stored in the DB)
class ReminderStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"
    BREACH = "breach"

    @property
    def rank(self) -> int:
        """0 for info up to 3 for breach: compare severities by rank, never by their text."""
        return list(Severity).index(self)


class GapRule(StrEnum):
    """The rule that found a gap. Values are stored (reminders.rule, at most 64 characters) and are the keys
    the UI translates: never rename one."""

    PLAN_NOT_STARTED = (
        "plan_not_started"  # 1: no plan (a draft is enough) N working days after admission
    )
    REQUIREMENT_NOT_ASSESSED = "requirement_not_assessed"  # 1b: the §13a assessment is missing
    PLAN_NOT_AGREED = "plan_not_agreed"  # 2: discharge planned, no agreed plan yet
    DISCHARGED_WITHOUT_PLAN = "discharged_without_plan"  # 3: breach of §13a
    CONTACT_PERSON_MISSING = "contact_person_missing"  # 4: a sector without a current fixed contact
    MUNICIPALITY_NOT_NOTIFIED = "municipality_not_notified"  # 5: discharge date not passed on
    GP_PLAN_STEP_MISSING = (
        "gp_plan_step_missing"  # 6: GP has not received / read / accepted the plan
    )
    FOLLOW_UP_NOT_HELD = "follow_up_not_held"  # 7: no follow-up within N days of discharge
    FOLLOW_UP_MISSED = "follow_up_missed"  # 7: the booked follow-up time passed, not held
    NETWORK_MEETING_NOT_HELD = "network_meeting_not_held"  # 8
    PLAN_REVIEW_OVERDUE = "plan_review_overdue"  # 9: the plan's review date
    PARTY_NOT_ANSWERED = "party_not_answered"  # 9: a required party has not answered a proposal
    READMISSION_NOTICE = (
        "readmission_notice"  # 10: readmitted with an active plan: tell the contacts
    )
    GP_UNKNOWN = "gp_unknown"  # 11: the patient's GP is not known, and no reason why is recorded


def rule_title(rule: GapRule, language: str = "da") -> str:
    """What the rule is called for people (pathways/data/labels.toml), in Danish unless ``en``."""
    return label("gap_rule", rule, language)


class Party(StrEnum):
    """A party that must act on a shared duty (``parties`` in pathways/data/gap_rules.toml)."""

    WARD = "ward"
    MUNICIPALITY = "municipality"
    GP = "gp"

    @property
    def sector(self) -> Sector:
        return {
            Party.WARD: Sector.REGION,
            Party.MUNICIPALITY: Sector.MUNICIPALITY,
            Party.GP: Sector.GENERAL_PRACTICE,
        }[self]


# The rules whose one obligation several parties share: each gets one reminder per party, as listed in
# gap_rules.toml. The other rules name their owner by construction (one gap per sector or per party).
SHARED_RULES = frozenset(
    {GapRule.PLAN_NOT_AGREED, GapRule.MUNICIPALITY_NOT_NOTIFIED, GapRule.READMISSION_NOTICE}
)


def parse_rule_parties(raw: Mapping[str, object]) -> Mapping[GapRule, tuple[Party, ...]]:
    """The ``parties`` of each shared rule in a gap_rules document; every problem reported at once."""
    errors = ErrorCollector()
    found: dict[GapRule, tuple[Party, ...]] = {}
    for rule in sorted(SHARED_RULES):
        table = raw.get(rule.value)
        value = table.get("parties") if isinstance(table, Mapping) else None
        name = f"{rule.value}.parties"
        if not isinstance(value, list) or not value:
            errors.add(name, 'must list the parties that act, e.g. ["ward"]', "required")
            continue
        parties: list[Party] = []
        for item in value:
            if item not in {p.value for p in Party}:
                known = ", ".join(p.value for p in Party)
                errors.add(name, f"unknown party {item!r}; known are {known}", "unknown")
            elif Party(item) in parties:
                errors.add(name, f"{item!r} is listed twice", "duplicate")
            else:
                parties.append(Party(item))
        found[rule] = tuple(parties)
    for key, table in raw.items():
        if isinstance(table, Mapping) and "parties" in table and key not in SHARED_RULES:
            errors.add(f"{key}.parties", "this rule names its owner itself", "unknown")
    errors.raise_if_any()
    return MappingProxyType(found)


@cache
def _packaged_parties() -> Mapping[GapRule, tuple[Party, ...]]:
    text = files("pathways.data").joinpath("gap_rules.toml").read_text(encoding="utf-8")
    return parse_rule_parties(tomllib.loads(text))


def rule_parties(rule: GapRule) -> tuple[Party, ...]:
    """Who must act on a shared rule's obligation (pathways/data/gap_rules.toml), lead party first."""
    return _packaged_parties()[rule]


class GpDelivery(IntEnum):
    """How far the agreed plan has got at the GP; each step implies the ones before it.

    DELIVERED is MedCom's technical acknowledgement only; READ and ACCEPTED are separate facts."""

    NONE = 0
    SHARED = 1
    DELIVERED = 2
    READ = 3
    ACCEPTED = 4

    @property
    def key(self) -> str:
        return self.name.lower()


# ==================================================================================== thresholds
_MAX_DAYS = 366  # a deadline further away than a year is a typo, and counting to it would be slow


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The deadlines of the rules for one region/municipality (pathways/data/reminder_rules.toml)."""

    plan_start_working_days: int
    plan_agreed_warning_working_days: int
    gp_delivered_working_days: int
    gp_read_working_days: int
    gp_accepted_working_days: int
    follow_up_days: int
    network_meeting_working_days: int
    party_answer_working_days: int
    upcoming_notice_working_days: int
    escalate_after_working_days: int
    max_escalation_level: int

    def __post_init__(self) -> None:
        errors = [
            FieldError(f.name, *problem)
            for f in fields(self)
            if (problem := _value_problem(f.name, getattr(self, f.name))) is not None
        ]
        if not errors:
            ladder = (
                self.gp_delivered_working_days,
                self.gp_read_working_days,
                self.gp_accepted_working_days,
            )
            if list(ladder) != sorted(ladder):
                errors.append(
                    FieldError(
                        "gp_read_working_days",
                        "the GP steps must not get earlier: delivered <= read <= accepted",
                        "out-of-order",
                    )
                )
        if errors:
            raise ValidationFailed(errors)

    def gp_step_working_days(self, step: GpDelivery) -> int:
        limits = {
            GpDelivery.DELIVERED: self.gp_delivered_working_days,
            GpDelivery.READ: self.gp_read_working_days,
            GpDelivery.ACCEPTED: self.gp_accepted_working_days,
        }
        try:
            return limits[step]
        except KeyError:
            raise ValueError(f"{step.name} is not a step with a deadline") from None


THRESHOLD_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Thresholds))
_MINIMUM = {"escalate_after_working_days": 1}


def _value_problem(key: str, value: object) -> tuple[str, str] | None:
    """(message, code) when ``value`` cannot be the setting ``key``; None when it can."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a whole number, not {value!r}", "not-a-number"
    minimum = _MINIMUM.get(key, 0)
    if value < 0:
        return "must not be negative", "negative"
    if value < minimum:
        return f"must be at least {minimum}", "too-small"
    if value > _MAX_DAYS:
        return f"must be at most {_MAX_DAYS}", "too-large"
    return None


Settings = Mapping[str, int]


@dataclass(frozen=True, slots=True)
class ReminderRules:
    """Parsed reminder_rules.toml: defaults plus partial overrides per region and per municipality."""

    defaults: Settings
    regions: Mapping[Region, Settings] = field(default_factory=dict)
    municipalities: Mapping[str, Settings] = field(default_factory=dict)  # by 3-digit kommunekode

    def layered(self, top: ReminderRules) -> ReminderRules:
        """These rules with every value of ``top`` laid over them, key by key."""

        def merge(a: Mapping[str, int], b: Mapping[str, int]) -> Settings:
            return MappingProxyType({**a, **b})

        regions = {
            r: merge(self.regions.get(r, {}), top.regions.get(r, {}))
            for r in {*self.regions, *top.regions}
        }
        municipalities = {
            c: merge(self.municipalities.get(c, {}), top.municipalities.get(c, {}))
            for c in {*self.municipalities, *top.municipalities}
        }
        return ReminderRules(
            defaults=merge(self.defaults, top.defaults),
            regions=MappingProxyType(regions),
            municipalities=MappingProxyType(municipalities),
        )

    def thresholds(self, region: Region | None, kommunekode: str | None) -> Thresholds:
        """Municipality beats region beats defaults. Raises ValidationFailed for a missing or bad value."""
        values = dict(self.defaults)
        if region is not None:
            values.update(self.regions.get(region, {}))
        if kommunekode is not None:
            values.update(self.municipalities.get(kommunekode, {}))
        missing = [key for key in THRESHOLD_KEYS if key not in values]
        if missing:
            raise ValidationFailed(
                [FieldError(f"defaults.{key}", "missing", "required") for key in missing]
            )
        return Thresholds(**values)


_TABLES = ("defaults", "regions", "municipalities")


def parse_reminder_rules(raw: Mapping[str, object], *, complete: bool = False) -> ReminderRules:
    """Validate a rules document (the shape of reminder_rules.toml) and report every problem at once.

    Fields in the errors are dotted paths, e.g. "regions.DK-84.network_meeting_working_days". With
    ``complete`` (the packaged file) every key must have a default and every region and municipality must
    give a valid set of thresholds; without it (overrides) any subset of keys is fine."""
    errors = ErrorCollector()
    for name in raw:
        if name not in _TABLES:
            errors.add(name, f"unknown table; expected one of {', '.join(_TABLES)}", "unknown")
    defaults = _settings(raw.get("defaults", {}), "defaults", errors)
    regions: dict[Region, Settings] = {}
    for code, table in _tables(raw.get("regions", {}), "regions", errors):
        region = errors.check(f"regions.{code}", validate_region_code, code)
        if region is not None:
            regions[region] = _settings(table, f"regions.{code}", errors)
    municipalities: dict[str, Settings] = {}
    for code, table in _tables(raw.get("municipalities", {}), "municipalities", errors):
        clean = errors.check(f"municipalities.{code}", validate_kommunekode, code)
        if clean is not None:
            municipalities[clean] = _settings(table, f"municipalities.{code}", errors)
    if complete:
        for key in THRESHOLD_KEYS:
            if key not in defaults:
                errors.add(f"defaults.{key}", "missing: every setting needs a default", "required")
    errors.raise_if_any()
    rules = ReminderRules(
        defaults=defaults,
        regions=MappingProxyType(regions),
        municipalities=MappingProxyType(municipalities),
    )
    if complete:
        _check_combinations(rules)
    return rules


def _tables(value: object, scope: str, errors: ErrorCollector) -> list[tuple[str, object]]:
    if not isinstance(value, Mapping):
        errors.add(scope, "must be a table", "not-a-table")
        return []
    return [(str(key), table) for key, table in value.items()]


def _settings(value: object, scope: str, errors: ErrorCollector) -> Settings:
    if not isinstance(value, Mapping):
        errors.add(scope, "must be a table of settings", "not-a-table")
        return MappingProxyType({})
    clean: dict[str, int] = {}
    for key, setting in value.items():
        name = f"{scope}.{key}"
        if key not in THRESHOLD_KEYS:
            errors.add(name, f"unknown setting; known are {', '.join(THRESHOLD_KEYS)}", "unknown")
            continue
        problem = _value_problem(key, setting)
        if problem is not None:
            errors.add(name, *problem)
        else:
            assert isinstance(setting, int)  # _value_problem checked it
            clean[key] = setting
    return MappingProxyType(clean)


def _check_combinations(rules: ReminderRules) -> None:
    """Each region and municipality must give a valid whole, e.g. no GP steps out of order."""
    scopes: list[tuple[str, Region | None, str | None]] = [("defaults", None, None)]
    scopes += [(f"regions.{r.value}", r, None) for r in rules.regions]
    scopes += [(f"municipalities.{c}", municipality(c).region, c) for c in rules.municipalities]
    errors: list[FieldError] = []
    for scope, region, code in scopes:
        try:
            rules.thresholds(region, code)
        except ValidationFailed as exc:
            errors.extend(FieldError(f"{scope}.{e.field}", e.message, e.code) for e in exc.errors)
    if errors:
        raise ValidationFailed(errors)


@cache
def default_reminder_rules() -> ReminderRules:
    """The packaged pathways/data/reminder_rules.toml, validated."""
    text = files("pathways.data").joinpath("reminder_rules.toml").read_text(encoding="utf-8")
    return parse_reminder_rules(tomllib.loads(text), complete=True)


def thresholds_for(
    region_code: str | None,
    kommunekode: str | None,
    overrides: Mapping[str, object] | None = None,
) -> Thresholds:
    """The thresholds for a pathway: municipality beats region beats default.

    ``overrides`` has the shape of reminder_rules.toml (any subset) and is laid over the packaged file, e.g.
    settings an administrator keeps in the database. Codes are validated: "0101" and "101" are the same
    municipality; an unknown code raises ValidationFailed."""
    region = validate_region_code(region_code) if region_code else None
    code = validate_kommunekode(kommunekode) if kommunekode else None
    if overrides is None:
        return _packaged_thresholds(region, code)
    return (
        default_reminder_rules().layered(parse_reminder_rules(overrides)).thresholds(region, code)
    )


@cache
def _packaged_thresholds(region: Region | None, code: str | None) -> Thresholds:
    return default_reminder_rules().thresholds(region, code)


# ==================================================================================== facts in
def _normalise_instants(obj: object, *names: str) -> None:
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
        _normalise_instants(self, "agreed_at", "proposed_at")


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

    def __post_init__(self) -> None:
        _normalise_instants(
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


_BEFORE_DISCHARGE = (PathwayStatus.ADMITTED, PathwayStatus.ON_LEAVE)
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


def _at_local(day: date) -> datetime:
    """The UTC instant of the deadline time (16:00 Copenhagen) on ``day``."""
    return datetime.combine(day, DEFAULT_DEADLINE_TIME, tzinfo=COPENHAGEN).astimezone(UTC)


def _local_day(instant: datetime) -> date:
    return to_copenhagen(instant).date()


def _working_days_before(calendar: WorkingCalendar, day: date, n: int) -> date:
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


class _Context:
    """One evaluation: the facts, the instant, and helpers every rule shares."""

    __slots__ = ("calendar", "facts", "now", "thresholds", "today")

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
        self.today = _local_day(now)

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
            first = _local_day(leave.started_at)
            # An open leave pauses the clock up to today; tomorrow's evaluation moves the deadline on.
            last = _local_day(leave.ended_at) if leave.ended_at is not None else self.today
            pauses.append((first, max(first, last)))
        return pauses

    def plan_basis(self, kind: PlanKind) -> str:
        return "coordination_plan" if kind is PlanKind.COORDINATION_PLAN else "discharge_agreement"

    # ------------------------------------------------------------------ time
    def severity(self, due_at: datetime, *, before: Severity, after: Severity) -> Severity | None:
        """``after`` once due; ``before`` while due within the notice window; None (not shown) earlier."""
        if self.now >= due_at:
            return after
        ahead = self.calendar.working_days_between(self.today, _local_day(due_at))
        return before if ahead <= self.thresholds.upcoming_notice_working_days else None

    def plan_agreed_by(self) -> datetime | None:
        """Before discharge with a planned date: when an agreed plan is due (rule 2); else None."""
        planned = self.facts.planned_discharge_on
        if not self.is_before_discharge or planned is None:
            return None
        n = self.thresholds.plan_agreed_warning_working_days
        return _at_local(_working_days_before(self.calendar, planned, n))

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


# ------------------------------------------------------------------------------------ the rules
def _party_key(base: str, party: Party) -> str:
    """A shared obligation's key: the ward's is the rule's own key (stored reminders keep theirs), each
    other party's names the party."""
    return base if party is Party.WARD else f"{base}:party:{party.value}"


def _plan_not_started(c: _Context) -> Iterator[Gap]:
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


def _requirement_not_assessed(c: _Context) -> Iterator[Gap]:
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


def _plan_not_agreed(c: _Context) -> Iterator[Gap]:
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
    severity = (
        Severity.URGENT
        if c.today >= planned
        else c.severity(due, before=Severity.INFO, after=Severity.WARNING)
    )
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


def _discharged_without_plan(c: _Context) -> Iterator[Gap]:
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
        params={"discharged_on": _local_day(discharged_at).isoformat()},
    )


def _contact_person_missing(c: _Context) -> Iterator[Gap]:
    """4. Discharge date known (or discharged): each sector needs a current fixed contact person with an
    active account on the discharge day (today once discharged). One gap per sector."""
    f = c.facts
    discharged_at = c.discharged_at()
    planned = f.planned_discharge_on if c.is_before_discharge else None
    if not c.has_duty or (discharged_at is None and planned is None):
        return
    on = c.today if planned is None else max(c.today, planned)
    candidates = [_at_local(planned)] if planned is not None else []
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


def _municipality_not_notified(c: _Context) -> Iterator[Gap]:
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


def _gp_plan_steps(c: _Context) -> Iterator[Gap]:
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


def _follow_up(c: _Context) -> Iterator[Gap]:
    """7. No follow-up held within N calendar days of discharge (pathways with a coordination duty); and a
    booked follow-up whose time has passed without being registered as held (any pathway): shown from the
    booked time, due (urgent) at 16:00 the next working day."""
    f = c.facts
    discharged_at = c.discharged_at()
    if discharged_at is None or f.follow_up_held_at is not None:
        return
    days = c.thresholds.follow_up_days
    if c.has_duty:
        due = _at_local(_local_day(discharged_at) + timedelta(days=days))
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
    if booked is not None and discharged_at <= booked <= c.now:
        # once the booked time has passed, staff have until 16:00 the next working day to register it
        due = c.calendar.deadline(booked, 1)
        yield c.gap(
            GapRule.FOLLOW_UP_MISSED,
            "follow_up:booked",
            Severity.URGENT if c.now >= due else Severity.WARNING,
            due,
            c.responsible(Sector.REGION),
            basis="follow_up_after_discharge",
            message="The follow-up booked for {booked_on} is not registered as held",
            params={"booked_on": _local_day(booked).isoformat()},
        )


def _network_meeting(c: _Context) -> Iterator[Gap]:
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
            params={"requested_on": _local_day(requested).isoformat(), "working_days": str(n)},
        )


def _plan_review_and_answers(c: _Context) -> Iterator[Gap]:
    """9. A plan in force past its review date; a proposed plan a required party has not answered within N
    working days of the proposal (one gap per party, owned by that party's sector). Shown from the
    proposal on; before discharge it is due by rule 2's deadline for an agreed plan when that comes
    first (a proposal made later than that is due at once)."""
    for plan in sorted(c.facts.plans, key=lambda p: p.id):
        if plan.status in (PlanStatus.AGREED, PlanStatus.ACTIVE) and plan.review_on is not None:
            due = _at_local(plan.review_on)
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


def _readmission_notice(c: _Context) -> Iterator[Gap]:
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
            params={"readmitted_on": _local_day(at).isoformat(), "sector": sector.value},
        )


def _gp_unknown(c: _Context) -> Iterator[Gap]:
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


_RULES: tuple[Callable[[_Context], Iterator[Gap]], ...] = (
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
)


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
    at = ensure_utc(now)
    if not facts.status.is_open:
        return []
    context = _Context(
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
    return sorted(found.values(), key=lambda g: (g.due_at, g.rule.value, g.obligation_key))


# ==================================================================================== lifecycle
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
        _normalise_instants(
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


def _differs(reminder: StoredReminder, gap: Gap) -> bool:
    return apply_gap(reminder, gap) != reminder


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
        current = replace(gap, severity=apply_gap(reminder, gap).severity)
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
    days = cal.working_days_between(_local_day(start), _local_day(at))
    level = min(days // th.escalate_after_working_days, th.max_escalation_level)
    return level if level > reminder.escalation_level else None
