"""The rules of psykiatriloven §13a/§13b: who needs a discharge agreement or coordination plan, whether it is
in place before discharge, and when a plan counts as agreed.

Pure functions over plain data and ``now``; each answer carries the legal basis to show to the user.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pathways.errors import Conflict
from pathways.legal import LegalBasis, legal_basis
from pathways.plan_content import kind_rules
from pathways.plans import (
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanStatus,
    ResponseStatus,
)


# ---------------------------------------------------------------------------- who needs a plan
@dataclass(frozen=True, slots=True)
class RequirementFacts:
    """What the chief physician knows about the patient at this stay. None: not assessed yet."""

    receives_sel_support: (
        bool | None
    )  # serviceloven afsnit V support because of reduced mental functioning
    presumed_not_to_seek_treatment: bool | None
    patient_participation: PatientParticipation = PatientParticipation.UNKNOWN


class RequirementLevel(StrEnum):
    REQUIRED = "required"
    NOT_REQUIRED = "not_required"
    NOT_ASSESSED = "not_assessed"


@dataclass(frozen=True, slots=True)
class Requirement:
    level: RequirementLevel
    kind: (
        PlanKind | None
    )  # the plan that satisfies it: §13a agreement, or §13b plan after a refusal
    basis: LegalBasis
    reason: str

    @property
    def is_required(self) -> bool:
        return self.level is RequirementLevel.REQUIRED


def agreement_requirement(facts: RequirementFacts) -> Requirement:
    """§13a stk. 1 (SEL part V support) and stk. 2 (presumed not to seek treatment) both oblige the chief
    physician; a patient who refuses to take part turns the obligation into a §13b coordination plan."""
    refused = facts.patient_participation is PatientParticipation.REFUSED
    kind = PlanKind.COORDINATION_PLAN if refused else PlanKind.DISCHARGE_AGREEMENT
    if facts.receives_sel_support:
        basis = legal_basis("coordination_plan" if refused else "discharge_agreement_sel_support")
        why = "receives support under serviceloven afsnit V because of reduced mental functioning"
        return Requirement(RequirementLevel.REQUIRED, kind, basis, _refusal_note(why, refused))
    if facts.presumed_not_to_seek_treatment:
        basis = legal_basis("coordination_plan" if refused else "discharge_agreement_not_seeking")
        why = "presumably will not seek the treatment or social offers needed"
        return Requirement(RequirementLevel.REQUIRED, kind, basis, _refusal_note(why, refused))
    if facts.receives_sel_support is None or facts.presumed_not_to_seek_treatment is None:
        return Requirement(
            RequirementLevel.NOT_ASSESSED,
            None,
            legal_basis("not_assessed"),
            "the chief physician has not yet assessed whether §13a applies",
        )
    return Requirement(
        RequirementLevel.NOT_REQUIRED,
        None,
        legal_basis("not_required"),
        "no serviceloven afsnit V support and expected to seek treatment",
    )


def _refusal_note(why: str, refused: bool) -> str:
    return (
        f"{why}; the patient refused to take part, so a coordination plan (§13b)"
        if refused
        else why
    )


# ---------------------------------------------------------------------------- is it in place?
class ObligationStatus(StrEnum):
    OPEN = "open"
    MET = "met"
    OVERDUE = "overdue"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class PlanSnapshot:
    """What the obligation rule needs to know about one plan of the pathway."""

    id: int
    kind: PlanKind
    status: PlanStatus
    agreed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Obligation:
    key: str
    status: ObligationStatus
    basis: LegalBasis
    reason: str
    due_on: date | None = None
    plan_id: int | None = None


AGREED_STATES = frozenset({PlanStatus.AGREED, PlanStatus.ACTIVE, PlanStatus.UNDER_REVISION})
PLAN_BEFORE_DISCHARGE = "plan_before_discharge"


def plan_obligation(
    requirement: Requirement,
    plans: Iterable[PlanSnapshot],
    *,
    now: datetime,
    discharged_at: datetime | None,
    planned_discharge_on: date | None,
) -> Obligation:
    """Is an agreed agreement/plan in place before discharge? open | met | overdue | not applicable."""
    if requirement.level is RequirementLevel.NOT_REQUIRED:
        return Obligation(
            PLAN_BEFORE_DISCHARGE,
            ObligationStatus.NOT_APPLICABLE,
            requirement.basis,
            requirement.reason,
        )
    deadline = discharged_at or now
    for plan in plans:
        if (
            plan.status in AGREED_STATES
            and plan.agreed_at is not None
            and plan.agreed_at <= deadline
        ):
            return Obligation(
                PLAN_BEFORE_DISCHARGE,
                ObligationStatus.MET,
                requirement.basis,
                f"{plan.kind.value.replace('_', ' ')} agreed",
                plan_id=plan.id,
            )
    if requirement.level is RequirementLevel.NOT_ASSESSED:
        status = ObligationStatus.OVERDUE if discharged_at else ObligationStatus.OPEN
        return Obligation(
            PLAN_BEFORE_DISCHARGE,
            status,
            requirement.basis,
            requirement.reason,
            due_on=planned_discharge_on,
        )
    if discharged_at is not None:
        return Obligation(
            PLAN_BEFORE_DISCHARGE,
            ObligationStatus.OVERDUE,
            requirement.basis,
            f"discharged without an agreed plan; {requirement.reason}",
        )
    return Obligation(
        PLAN_BEFORE_DISCHARGE,
        ObligationStatus.OPEN,
        requirement.basis,
        f"must be agreed before discharge; {requirement.reason}",
        due_on=planned_discharge_on,
    )


# ---------------------------------------------------------------------------- plan rules
class DuplicatePlan(Conflict):
    """One open plan per pathway."""

    code = "plan-exists"


@dataclass(frozen=True, slots=True)
class OpenPlan:
    id: int
    kind: PlanKind
    status: PlanStatus


def check_no_duplicate(open_plans: Sequence[OpenPlan], *, supersedes_id: int | None = None) -> None:
    """One open plan per pathway; the only exception is a discharge agreement that supersedes a §13b plan
    after the patient consents (the old plan ends when the new one is agreed). Only a plan in force can be
    superseded: an unagreed one cannot end (PLAN_TRANSITIONS), so it is edited or withdrawn instead."""
    for plan in open_plans:
        if (
            plan.id == supersedes_id
            and plan.kind is PlanKind.COORDINATION_PLAN
            and plan.status in AGREED_STATES
        ):
            continue
        raise DuplicatePlan(
            f"this pathway already has an open {plan.kind.value.replace('_', ' ')} "
            f"(plan {plan.id}, {plan.status.value}); edit that one instead"
        )


@dataclass(frozen=True, slots=True)
class ParticipantAnswer:
    role: ParticipantRole
    is_required: bool
    response: ResponseStatus
    version_number: int | None


def required_answers_missing(
    kind: PlanKind, answers: Sequence[ParticipantAnswer], current_version: int
) -> list[ParticipantRole]:
    """Required parties that have not accepted the current version (for §13b the patient is not a party)."""
    roles = kind_rules(kind).required_roles
    return [
        a.role
        for a in answers
        if a.is_required
        and a.role in roles
        and not (a.response is ResponseStatus.ACCEPTED and a.version_number == current_version)
    ]


class EndReason(StrEnum):
    REVIEW_OUTCOME = "review_outcome"
    DEATH = "death"
    MOVED_MUNICIPALITY = "moved_municipality"
    NO_LONGER_NEEDED = "no_longer_needed"
    SUPERSEDED = "superseded"
