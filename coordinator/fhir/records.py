"""Database rows as the plain records the FHIR mappers read (fhir_adapters.records).

The rows come from the use cases (which checked access and wrote the audit entries); this module only
copies fields. The one lookup it does, the home municipality's Organization row, is directory data.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.care_pathways.models import Pathway
from coordinator.contacts.models import ContactAssignment
from coordinator.organisations.models import Organisation
from coordinator.organisations.services import search_organisations
from coordinator.patients.models import Patient
from coordinator.plans.models import Plan, PlanParticipant
from coordinator.plans.reads import PartyRow, PlanRow
from fhir_adapters.careteam import care_team_for_plan, contact_team_id, plan_team_id
from fhir_adapters.records import (
    CareTeamRecord,
    ContactMember,
    EncounterRecord,
    OrganisationRecord,
    PatientRecord,
    PlanRecord,
    PractitionerRecord,
)
from pathways import contacts as contact_domain
from pathways import organisations as organisation_domain
from pathways import patients as patient_domain
from pathways import plans as plan_domain
from pathways import stays as stay_domain
from pathways.labels import label
from pathways.organisations import OrganisationKind


def patient_record(session: Session, patient: Patient) -> PatientRecord:
    municipality = search_organisations(
        session, kind=OrganisationKind.MUNICIPALITY, kommunekode=patient.kommunekode, limit=1
    )
    return PatientRecord(
        patient=patient_domain.Patient(
            given_name=patient.given_name,
            family_name=patient.family_name,
            kommunekode=patient.kommunekode,
            cpr=patient.cpr,
            replacement_cpr=patient.replacement_cpr,
            is_protected=patient.is_protected,
        ),
        id=patient.id,
        version=patient.version,
        updated_at=patient.updated_at,
        gp_clinic_id=patient.gp_organisation_id,
        municipality_id=municipality[0].id if municipality else None,
        gp_absent_reason=patient.gp_absent_reason,
    )


def organisation_record(organisation: Organisation) -> OrganisationRecord:
    parent = organisation.parent
    return OrganisationRecord(
        organisation=organisation_domain.Organisation(
            name=organisation.name,
            kind=organisation.kind,
            sor_code=organisation.sor_code,
            kommunekode=organisation.kommunekode,
            ydernummer=organisation.ydernummer,
            gln=organisation.gln,
            region_code=organisation.region_code,
            parent_kind=parent.kind if parent is not None else None,
        ),
        id=organisation.id,
        version=organisation.version,
        updated_at=organisation.updated_at,
        parent_id=organisation.parent_id,
        active=organisation.is_active,
        email=organisation.email,
    )


def practitioner_record(user: User) -> PractitionerRecord:
    return PractitionerRecord(
        name=user.name,
        organisation_id=user.organisation_id,
        role=user.role,
        id=user.id,
        active=user.is_active,
        title=user.title,
        phone=user.phone,
        email=user.email,
        updated_at=user.updated_at,
    )


def _participant(row: PlanParticipant | PartyRow) -> plan_domain.Participant:
    return plan_domain.Participant(
        role=row.role,
        is_required=row.is_required,
        response=row.response,
        organisation_id=row.organisation_id,
        name=row.person_name,
    )


def plan_record(plan: Plan | PlanRow) -> PlanRecord:
    """The plan's current content version; ``version`` is the row version (meta.versionId, the ETag)."""
    current = plan.current_version
    return PlanRecord(
        plan=plan_domain.Plan(
            kind=plan.kind,
            status=plan.status,
            version=plan.current_version_number,
            sections={
                plan_domain.SectionKey(key): dict(content)
                for key, content in current.sections.items()
            },
            participants=tuple(_participant(p) for p in plan.participants),
            patient_participation=plan.patient_participation,
            review_on=plan.review_on,
            valid_from=plan.valid_from,
            valid_to=plan.valid_to,
        ),
        patient_id=plan.patient_id,
        responsible_organisation_id=plan.responsible_organisation_id,
        id=plan.id,
        version=plan.version,
        updated_at=plan.updated_at,
        pathway_id=plan.pathway_id,
        created_at=plan.created_at,
        agreed_at=plan.agreed_at,
        activated_at=plan.activated_at,
        ended_at=plan.ended_at,
        ended_reason=plan.ended_reason,
        patient_refused_on=plan.patient_refused_on,
        supersedes_plan_id=plan.supersedes_plan_id,
        care_team_id=plan_team_id(plan.id),
        missing_party_reasons=tuple(
            sorted((str(k), str(v)) for k, v in (plan.missing_party_reasons or {}).items())
        ),
    )


def plan_team(plan: Plan | PlanRow, language: str = "da") -> CareTeamRecord:
    return care_team_for_plan(plan_record(plan), language)


def contact_team(
    patient_id: int, rows: Iterable[ContactAssignment], language: str = "da"
) -> CareTeamRecord:
    """The patient's fixed contact persons, every period (history included), as one CareTeam named in
    ``language``; each person and organisation carries its name for people reading it."""
    return CareTeamRecord(
        id=contact_team_id(patient_id),
        patient_id=patient_id,
        name=label("text", "care_team_contacts", language),
        contacts=tuple(
            ContactMember(
                assignment=contact_domain.ContactAssignment(
                    sector=row.sector,
                    valid_from=row.valid_from,
                    valid_to=row.valid_to,
                    person_id=row.person_id,
                    backup_person_id=row.backup_person_id,
                    team_inbox=row.team_inbox,
                ),
                organisation_id=row.organisation_id,
                assignment_id=row.id,
                person_name=row.person.name if row.person is not None else "",
                backup_person_name=row.backup_person.name if row.backup_person is not None else "",
                organisation_name=row.organisation.name,
            )
            for row in rows
        ),
    )


def encounter_record(pathway: Pathway) -> EncounterRecord:
    return EncounterRecord(
        id=pathway.id,
        patient_id=pathway.patient_id,
        ward_id=pathway.ward_id,
        status=pathway.status,
        admitted_at=pathway.admitted_at,
        discharged_at=pathway.discharged_at,
        planned_discharge_on=pathway.planned_discharge_on,
        closed_at=pathway.closed_at,
        episode_system=pathway.episode_system,
        episode_value=pathway.episode_value,
        encounter_class=pathway.encounter_class,
        leave_periods=tuple(
            stay_domain.LeavePeriod(started_at=p.started_at, ended_at=p.ended_at)
            for p in pathway.leave_periods
        ),
        version=pathway.version,
        updated_at=pathway.updated_at,
    )
