"""The CodeSystems of our own codes, served at ``/fhir/CodeSystem/{id}``.

Codes are the domain enum values spelled with hyphens (``under_revision`` -> ``under-revision``); the
``EnumCodes`` tables here are what the mappers use, so a served CodeSystem and the codes in resources cannot
drift apart. The gap-rule codes belong to the reminder rules: the caller passes the rule keys in and they are
used verbatim (Task.code carries the same key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from fhir.resources.R4B.codesystem import CodeSystem
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
    {
        PlanKind.DISCHARGE_AGREEMENT: "Discharge agreement (udskrivningsaftale, psykiatriloven §13a)",
        PlanKind.COORDINATION_PLAN: "Coordination plan (koordinationsplan, psykiatriloven §13b)",
    },
    title="Kind of care plan",
    description="The two cross-sector plans of Danish psychiatry law; used as CarePlan.category.",
)

PLAN_STATUS = EnumCodes(
    "plan-status",
    PlanStatus,
    {
        PlanStatus.DRAFT: "Draft",
        PlanStatus.PROPOSED: "Proposed to the parties",
        PlanStatus.AGREED: "Agreed by the parties",
        PlanStatus.ACTIVE: "Active (in force)",
        PlanStatus.UNDER_REVISION: "Under revision (the agreed version stays in force)",
        PlanStatus.ENDED: "Ended",
        PlanStatus.WITHDRAWN: "Withdrawn before it was agreed",
    },
    title="Plan status",
    description="Our exact plan status; CarePlan.status carries the nearest R4 code.",
)

CARE_TEAM_ROLE = EnumCodes(
    "care-team-role",
    CareTeamRole,
    {
        CareTeamRole.FIXED_CONTACT: "Fixed contact person (fast kontaktperson)",
        CareTeamRole.PATIENT: "The patient (citizen)",
        CareTeamRole.WARD: "Hospital ward",
        CareTeamRole.MUNICIPALITY: "Home municipality",
        CareTeamRole.GP: "General practitioner",
        CareTeamRole.RELATIVE: "Relative",
        CareTeamRole.OTHER: "Other party",
    },
    title="Care team role",
    description="Role of a CareTeam participant; the sector is a second coding (CodeSystem sector).",
)

SECTOR = EnumCodes(
    "sector",
    Sector,
    {
        Sector.REGION: "Region (hospital psychiatry)",
        Sector.MUNICIPALITY: "Municipality (social psychiatry)",
        Sector.GENERAL_PRACTICE: "General practice",
    },
    title="Sector",
    description="The three sectors a psychiatric patient's care crosses.",
)

STAFF_ROLE = EnumCodes(
    "staff-role",
    Role,
    {
        Role.DISCHARGE_NURSE: "Discharge nurse",
        Role.CHIEF_PHYSICIAN: "Chief physician (overlæge)",
        Role.WARD_STAFF: "Ward staff",
        Role.CASE_WORKER: "Case worker (sagsbehandler)",
        Role.SUPPORT_WORKER: "Support worker (bostøtte)",
        Role.GP: "General practitioner",
        Role.PRACTICE_STAFF: "Practice staff",
        Role.ORG_ADMIN: "Organisation administrator",
        Role.SYSTEM_ADMIN: "System administrator",
        Role.AUDITOR: "Auditor",
    },
    title="Staff role",
    description="The role a member of staff has in carepath; PractitionerRole.code.",
)

ORGANISATION_KIND = EnumCodes(
    "organisation-kind",
    OrganisationKind,
    {
        OrganisationKind.REGION: "Region",
        OrganisationKind.PSYCHIATRIC_CENTRE: "Psychiatric centre",
        OrganisationKind.WARD: "Ward",
        OrganisationKind.OUTPATIENT_CLINIC: "Outpatient clinic",
        OrganisationKind.MUNICIPALITY: "Municipality",
        OrganisationKind.MUNICIPAL_UNIT: "Municipal unit",
        OrganisationKind.GP_CLINIC: "GP clinic",
    },
    title="Organisation kind",
    description="Kind of organisation; Organization.type.",
)

PARTICIPANT_RESPONSE = EnumCodes(
    "participant-response",
    ResponseStatus,
    {
        ResponseStatus.PENDING: "No answer yet",
        ResponseStatus.ACCEPTED: "Accepted",
        ResponseStatus.REJECTED: "Rejected",
        ResponseStatus.COMMENTED: "Commented",
    },
    title="Participant response",
    description="A party's answer to the current version of a plan.",
)

PATIENT_PARTICIPATION = EnumCodes(
    "patient-participation",
    PatientParticipation,
    {
        PatientParticipation.UNKNOWN: "Not recorded",
        PatientParticipation.PARTICIPATES: "The patient takes part",
        PatientParticipation.REFUSED: "The patient refused (§13b: the plan is made without agreement)",
    },
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


def enum_code_system(codes: EnumCodes[Any]) -> CodeSystem:
    concepts = [{"code": codes.code(m), "display": codes.display[m]} for m in codes.enum]
    return _code_system(codes.id, codes.title, codes.description, concepts)


def gap_rule_code_system(rules: Mapping[str, str] | Iterable[str]) -> CodeSystem:
    """The gap-rule CodeSystem from the reminder rule keys (a mapping gives each a display text)."""
    names = dict(rules) if isinstance(rules, Mapping) else {key: key for key in rules}
    concepts = [{"code": key, "display": display or key} for key, display in sorted(names.items())]
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
