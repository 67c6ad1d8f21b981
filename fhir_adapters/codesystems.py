"""The CodeSystems of our own codes, served at ``/fhir/CodeSystem/{id}``.

Codes are the domain enum values spelled with hyphens (``under_revision`` -> ``under-revision``); the
``EnumCodes`` tables here are what the mappers use, so a served CodeSystem and the codes in resources cannot
drift apart. The gap-rule codes belong to the reminder rules: the caller passes the rule keys in and they are
used verbatim (Task.code carries the same key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from fhir.resources.R4B.codesystem import CodeSystem
from pathways import labels
from pathways.organisations import OrganisationKind, Sector
from pathways.people import Role
from pathways.plans import (
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanStatus,
    ResponseStatus,
)

from fhir_adapters.common import JSON, EnumCodes, build, codesystem_url

E = TypeVar("E", bound=StrEnum)


def _names(kind: str, enum: type[E]) -> dict[E, str]:
    """The English names of ``enum``'s members (pathways/data/labels.toml): the CodeSystem display. The
    Danish name is a designation of each concept."""
    return {member: labels.label(kind, member, "en") for member in enum}


PUBLISHER = "carepath"
GAP_RULE_ID = "gap-rule"
GAP_RULE_SYSTEM = codesystem_url(GAP_RULE_ID)


class CareTeamRole(StrEnum):
    """What a CareTeam participant is: a fixed contact person, or a party to a plan (ParticipantRole)."""

    FIXED_CONTACT = "fixed_contact"
    PATIENT = "patient"
    WARD = "ward"
    MUNICIPALITY = "municipality"
    GP = "gp"
    RELATIVE = "relative"
    OTHER = "other"

    @classmethod
    def of(cls, role: ParticipantRole) -> CareTeamRole:
        return cls(role.value)

    @property
    def participant_role(self) -> ParticipantRole | None:
        return None if self is CareTeamRole.FIXED_CONTACT else ParticipantRole(self.value)


PLAN_KIND = EnumCodes(
    "plan-kind",
    PlanKind,
    _names("plan_kind", PlanKind),
    label_kind="plan_kind",
    title="Kind of care plan",
    description="The two cross-sector plans of Danish psychiatry law; used as CarePlan.category.",
)

PLAN_STATUS = EnumCodes(
    "plan-status",
    PlanStatus,
    _names("plan_status", PlanStatus),
    label_kind="plan_status",
    title="Plan status",
    description="Our exact plan status; CarePlan.status carries the nearest R4 code.",
)

CARE_TEAM_ROLE = EnumCodes(
    "care-team-role",
    CareTeamRole,
    _names("participant_role", CareTeamRole),
    label_kind="participant_role",
    title="Care team role",
    description="Role of a CareTeam participant; the sector is a second coding (CodeSystem sector).",
)

SECTOR = EnumCodes(
    "sector",
    Sector,
    _names("sector", Sector),
    label_kind="sector",
    title="Sector",
    description="The three sectors a psychiatric patient's care crosses.",
)

STAFF_ROLE = EnumCodes(
    "staff-role",
    Role,
    _names("staff_role", Role),
    label_kind="staff_role",
    title="Staff role",
    description="The role a member of staff has in carepath; PractitionerRole.code.",
)

ORGANISATION_KIND = EnumCodes(
    "organisation-kind",
    OrganisationKind,
    _names("organisation_kind", OrganisationKind),
    label_kind="organisation_kind",
    title="Organisation kind",
    description="Kind of organisation; Organization.type.",
)

PARTICIPANT_RESPONSE = EnumCodes(
    "participant-response",
    ResponseStatus,
    _names("participant_response", ResponseStatus),
    label_kind="participant_response",
    title="Participant response",
    description="A party's answer to the current version of a plan.",
)

PATIENT_PARTICIPATION = EnumCodes(
    "patient-participation",
    PatientParticipation,
    _names("patient_participation", PatientParticipation),
    label_kind="patient_participation",
    title="Patient participation",
    description="Whether the patient takes part in making the plan.",
)

ENUM_CODESYSTEMS: tuple[EnumCodes[Any], ...] = (
    PLAN_KIND,
    PLAN_STATUS,
    CARE_TEAM_ROLE,
    SECTOR,
    STAFF_ROLE,
    ORGANISATION_KIND,
    PARTICIPANT_RESPONSE,
    PATIENT_PARTICIPATION,
)


def _name(codesystem_id: str) -> str:
    """A computable name (FHIR: starts upper-case, no spaces): plan-kind -> PlanKind."""
    return "".join(part.capitalize() for part in codesystem_id.split("-"))


def _code_system(
    codesystem_id: str, title: str, description: str, concepts: list[JSON]
) -> CodeSystem:
    return build(
        CodeSystem,
        {
            "resourceType": "CodeSystem",
            "id": codesystem_id,
            "url": codesystem_url(codesystem_id),
            "name": _name(codesystem_id),
            "title": title,
            "status": "active",
            "experimental": False,
            "publisher": PUBLISHER,
            "description": description,
            "caseSensitive": True,
            "content": "complete",
            "count": len(concepts),
            "concept": concepts,
        },
    )


def _concept(code: str, display: str, kind: str | None, value: str) -> JSON:
    concept: JSON = {"code": code, "display": display}
    if kind is not None:
        concept["designation"] = [{"language": "da", "value": labels.label(kind, value, "da")}]
    return concept


def enum_code_system(codes: EnumCodes[Any]) -> CodeSystem:
    concepts = [_concept(codes.code(m), codes.display[m], codes.label_kind, m) for m in codes.enum]
    return _code_system(codes.id, codes.title, codes.description, concepts)


def gap_rule_code_system(rules: Mapping[str, str] | Iterable[str]) -> CodeSystem:
    """The gap-rule CodeSystem from the reminder rule keys (a mapping gives each a display text)."""
    names = dict(rules) if isinstance(rules, Mapping) else {key: key for key in rules}
    concepts = [
        _concept(key, display or key, "gap_rule" if key in labels.codes("gap_rule") else None, key)
        for key, display in sorted(names.items())
    ]
    if not concepts:
        raise ValueError("the gap-rule CodeSystem needs at least one rule key")
    return _code_system(
        GAP_RULE_ID,
        "Gap rule",
        "The rule that raised a reminder (a gap in a transition); Task.code.",
        concepts,
    )


def code_systems(gap_rules: Mapping[str, str] | Iterable[str]) -> dict[str, CodeSystem]:
    """Every CodeSystem we serve, by id (``/fhir/CodeSystem/{id}``)."""
    served = {codes.id: enum_code_system(codes) for codes in ENUM_CODESYSTEMS}
    served[GAP_RULE_ID] = gap_rule_code_system(gap_rules)
    return served
