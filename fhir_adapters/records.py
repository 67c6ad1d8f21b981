"""Plain data the HTTP layer fills from the database and the FHIR mappers read and write.

Each record wraps the domain object (``pathways``) with what only the database knows: ids, row versions,
timestamps and links to other rows. Every field is keyword-only. ``id``, ``version`` and ``updated_at`` are
``None`` in a record parsed from a create (the client sends no id and no meta); a record read from the
database always has them. Timestamps are timezone-aware UTC (ADR 0003).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pathways.contacts import ContactAssignment
from pathways.organisations import Organisation
from pathways.patients import Patient
from pathways.people import Role
from pathways.plans import (
    Participant,
    ParticipantRole,
    Plan,
    PlanKind,
    PlanStatus,
    ResponseStatus,
)
from pathways.reminders import ReminderStatus, Severity
from pathways.stays import EncounterClass, LeavePeriod, PathwayStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientRecord:
    """Patient/{id}. ``municipality_id``: the Organization row of the home municipality, if known."""

    patient: Patient
    id: int | None = None
    version: int | None = None
    updated_at: datetime | None = None
    gp_clinic_id: int | None = None
    municipality_id: int | None = None
    gp_absent_reason: str = ""  # why the patient has no GP, when none is registered


@dataclass(frozen=True, slots=True, kw_only=True)
class OrganisationRecord:
    """Organization/{id}. ``parent_id`` is Organization.partOf."""

    organisation: Organisation
    id: int | None = None
    version: int | None = None
    updated_at: datetime | None = None
    parent_id: int | None = None
    active: bool = True
    email: str = ""  # team or messaging inbox


@dataclass(frozen=True, slots=True, kw_only=True)
class PractitionerRecord:
    """A member of staff: Practitioner/{id} and PractitionerRole/{id} (same id, one role per person)."""

    name: str
    organisation_id: int
    role: Role
    id: int | None = None
    active: bool = True
    title: str = ""
    phone: str = ""
    email: str = ""
    version: int | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRecord:
    """CarePlan/{id}. ``version`` is the row version (meta.versionId, If-Match); ``plan.version`` is the
    content version number the parties respond to."""

    plan: Plan
    patient_id: int
    responsible_organisation_id: int
    id: int | None = None
    version: int | None = None
    updated_at: datetime | None = None
    pathway_id: int | None = None
    created_at: datetime | None = None
    agreed_at: datetime | None = None
    activated_at: datetime | None = None
    ended_at: datetime | None = None
    ended_reason: str = ""
    patient_refused_on: date | None = None
    supersedes_plan_id: int | None = None
    care_team_id: str | None = None  # e.g. careteam.plan_team_id(plan id)
    # (role, reason) for each party the rules require that is not on the plan, e.g. ("gp", "...")
    missing_party_reasons: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactMember:
    """One fixed contact person period: the domain assignment, its row id and its organisation."""

    assignment: ContactAssignment
    organisation_id: int
    assignment_id: int | None = None
    # For people reading the CareTeam (reference displays); ignored on input.
    person_name: str = ""
    backup_person_name: str = ""
    organisation_name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CareTeamRecord:
    """CareTeam/{id}: a patient's fixed contact persons per sector and/or a plan's parties.

    CareTeams have no table of their own: use ``careteam.contact_team_id(patient_id)`` or
    ``careteam.plan_team_id(plan_id)`` as the id.
    """

    patient_id: int
    id: str | None = None
    contacts: tuple[ContactMember, ...] = ()
    plan_id: int | None = None
    participants: tuple[Participant, ...] = ()
    name: str = ""  # CareTeam.name, e.g. "Fixed contact persons"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRecord:
    """Task/{id}: a reminder raised by a gap rule, owned by an organisation (and maybe a person)."""

    id: int
    rule: str
    status: ReminderStatus
    severity: Severity
    due_at: datetime
    owner_organisation_id: int
    patient_id: int
    owner_person_id: int | None = None
    plan_id: int | None = None
    pathway_id: int | None = None
    message: str = ""
    basis: str = ""  # legal basis / why, in words
    version: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    snoozed_until: datetime | None = None
    title: str = ""  # what the rule is called, in the reader's language (Task.code.text)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerTaskRecord:
    """Task/answer-{participant_id}: a party's answer to a plan. ``version`` and ``updated_at`` are the
    plan's (the Task changes with the plan, and is updated with the plan's ETag); ``answered`` and
    ``received`` say whether the party answered, or said it received, the plan's current version."""

    participant_id: int
    plan_id: int
    plan_kind: PlanKind
    plan_status: PlanStatus
    plan_version_number: int
    role: ParticipantRole
    patient_id: int
    owner_organisation_id: int | None  # None for the patient (the ward answers for them)
    requester_organisation_id: int
    response: ResponseStatus
    note: str = ""
    answered: bool = False
    received: bool = False
    responded_at: datetime | None = None
    received_at: datetime | None = None
    pathway_id: int | None = None
    version: int | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EncounterRecord:
    """A pathway (forløb): Encounter/{id} and EpisodeOfCare/{id} share the pathway id."""

    id: int
    patient_id: int
    ward_id: int
    status: PathwayStatus
    admitted_at: datetime
    discharged_at: datetime | None = None
    planned_discharge_on: date | None = None
    closed_at: datetime | None = None
    episode_system: str | None = None  # LPR3 (or a hospital's local SOR-based) episode of care
    episode_value: str | None = None
    encounter_class: EncounterClass = EncounterClass.INPATIENT
    leave_periods: tuple[LeavePeriod, ...] = ()
    version: int | None = None
    updated_at: datetime | None = None
