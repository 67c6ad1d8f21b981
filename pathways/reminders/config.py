"""Reminder rule configuration: the gap rules' names and parties, the GP delivery steps, and the
thresholds (pathways/data/reminder_rules.toml) with their parsing and layering."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import IntEnum, StrEnum
from functools import cache
from importlib.resources import files
from types import MappingProxyType

from pathways.errors import ErrorCollector, FieldError, ValidationFailed
from pathways.geography import Region
from pathways.identifiers import municipality, validate_kommunekode, validate_region_code
from pathways.labels import label
from pathways.organisations import Sector


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
    # 12: an action agreed at a network meeting is still open after its due date
    NETWORK_MEETING_ACTION_OVERDUE = "network_meeting_action_overdue"


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
