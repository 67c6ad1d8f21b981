"""Discharge agreements (§13a) and coordination plans (§13b): kinds, states, sections, participants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from pathways.errors import Conflict, IllegalTransition
from pathways.organisations import Sector


class PlanKind(StrEnum):
    DISCHARGE_AGREEMENT = "discharge_agreement"  # udskrivningsaftale, psykiatriloven §13a
    COORDINATION_PLAN = "coordination_plan"  # koordinationsplan, psykiatriloven §13b


class PlanStatus(StrEnum):
    DRAFT = "draft"
    PROPOSED = "proposed"
    AGREED = "agreed"
    ACTIVE = "active"
    UNDER_REVISION = "under_revision"
    ENDED = "ended"
    WITHDRAWN = "withdrawn"

    @property
    def is_open(self) -> bool:
        return self not in (PlanStatus.ENDED, PlanStatus.WITHDRAWN)


PLAN_TRANSITIONS: frozenset[tuple[PlanStatus, PlanStatus]] = frozenset(
    {
        (PlanStatus.DRAFT, PlanStatus.PROPOSED),
        (PlanStatus.DRAFT, PlanStatus.WITHDRAWN),
        (PlanStatus.PROPOSED, PlanStatus.AGREED),
        (PlanStatus.PROPOSED, PlanStatus.DRAFT),  # a party rejected: back to the drawing board
        (PlanStatus.PROPOSED, PlanStatus.WITHDRAWN),
        (PlanStatus.AGREED, PlanStatus.ACTIVE),
        (PlanStatus.AGREED, PlanStatus.UNDER_REVISION),
        (PlanStatus.AGREED, PlanStatus.ENDED),
        (PlanStatus.ACTIVE, PlanStatus.UNDER_REVISION),
        (PlanStatus.ACTIVE, PlanStatus.ENDED),
        (PlanStatus.UNDER_REVISION, PlanStatus.AGREED),
        (PlanStatus.UNDER_REVISION, PlanStatus.ENDED),
    }
)


def check_plan_transition(current: PlanStatus, target: PlanStatus) -> None:
    if (current, target) not in PLAN_TRANSITIONS:
        raise IllegalTransition("plan", current.value, target.value)


class PlanNotEditable(Conflict):
    """Only drafts and plans under revision take new content (start a revision first)."""

    code = "plan-not-editable"


class NothingToAnswer(Conflict):
    """The plan waits for no answers (not proposed, or agreed already): e.g. a second click on accept."""

    code = "plan-not-answerable"


class SectionKey(StrEnum):
    TREATMENT = "treatment"  # treatment after discharge (outpatient, district psychiatry)
    MEDICATION = "medication"
    SOCIAL_SUPPORT = (
        "social_support"  # serviceloven measures (§85, §99, §104, §107/108) and provider
    )
    HOUSING = "housing"
    EMPLOYMENT_EDUCATION = "employment_education"
    ECONOMY = "economy"
    RELATIVES_NETWORK = "relatives_network"
    CRISIS_PLAN = "crisis_plan"  # kriseplan: warning signs, what helps, whom to call day/night
    ADVANCE_STATEMENT = "advance_statement"  # forhåndstilkendegivelse
    IF_TREATMENT_STOPS = "if_treatment_stops"
    FIRST_FOLLOW_UP = "first_follow_up"
    CITIZEN_GOALS = "citizen_goals"  # the citizen's own goals and words


class ParticipantRole(StrEnum):
    PATIENT = "patient"
    WARD = "ward"
    MUNICIPALITY = "municipality"
    GP = "gp"
    RELATIVE = "relative"
    OTHER = "other"


PARTICIPANT_SECTOR: dict[ParticipantRole, Sector | None] = {
    ParticipantRole.PATIENT: None,
    ParticipantRole.WARD: Sector.REGION,
    ParticipantRole.MUNICIPALITY: Sector.MUNICIPALITY,
    ParticipantRole.GP: Sector.GENERAL_PRACTICE,
    ParticipantRole.RELATIVE: None,
    ParticipantRole.OTHER: None,
}


class ResponseStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    COMMENTED = "commented"


class PatientParticipation(StrEnum):
    UNKNOWN = "unknown"
    PARTICIPATES = "participates"
    REFUSED = "refused"  # §13b: the plan is made with the parties, without the patient's agreement


@dataclass(frozen=True, slots=True)
class Participant:
    role: ParticipantRole
    is_required: bool = True
    response: ResponseStatus = ResponseStatus.PENDING
    organisation_id: int | None = None
    name: str = ""  # relatives and the patient are named, organisations are referenced


@dataclass(frozen=True, slots=True)
class Plan:
    kind: PlanKind
    status: PlanStatus
    version: int
    sections: dict[SectionKey, dict[str, object]] = field(default_factory=dict)
    participants: tuple[Participant, ...] = ()
    patient_participation: PatientParticipation = PatientParticipation.UNKNOWN
    review_on: date | None = None
    valid_from: date | None = None
    valid_to: date | None = None


# A reason for a missing party is shown on the plan and sent with it: short, like an end reason.
MAX_MISSING_PARTY_REASON = 200


def unexplained_missing_parties(
    required: frozenset[ParticipantRole],
    present: set[ParticipantRole] | frozenset[ParticipantRole],
    reasons: dict[str, str],
) -> list[ParticipantRole]:
    """Required parties that are not on the plan and have no recorded reason for being missing (e.g. the
    patient has no GP): a plan may be proposed and agreed without a required party only with a reason."""
    return sorted(
        role for role in required - set(present) if not str(reasons.get(role.value, "")).strip()
    )
