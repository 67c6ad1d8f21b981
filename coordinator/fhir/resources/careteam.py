"""CareTeam: a patient's fixed contact persons (``patient-{id}-contacts``) and each plan's parties
(``plan-{id}``). CareTeams have no rows of their own: they are read through the contacts and plan use
cases, and a create adds fixed contact persons (``assign_contact``) or confirms a plan's parties.
"""

from __future__ import annotations

import re
from dataclasses import replace

from coordinator.contacts.services import assign_contact, list_contacts, patients_with_contact
from coordinator.fhir.core import (
    JSON,
    Context,
    SearchQuery,
    SearchResult,
    bad_search,
    not_found,
)
from coordinator.fhir.render import contact_team_json, plan_team_json
from coordinator.fhir.search import int_reference, page_after, reference_ids, references
from coordinator.organisations.services import get_organisation
from coordinator.plans.models import Plan
from coordinator.plans.queries import PlanQuery, get_plan, list_patient_plans, search_plans
from fhir_adapters.careteam import care_team_from_fhir
from fhir_adapters.codesystems import CareTeamRole
from fhir_adapters.records import CareTeamRecord
from pathways.errors import ErrorCollector, NotFound, ValidationFailed
from pathways.plans import ParticipantRole

_CONTACTS = re.compile(r"patient-([1-9][0-9]{0,9})-contacts", re.ASCII)
_PLAN = re.compile(r"plan-([1-9][0-9]{0,9})", re.ASCII)
PARTICIPANT_TYPES = ("Practitioner", "PractitionerRole", "Organization", "Patient")
MAX_PLANS = 100


def _contacts_json(ctx: Context, patient_id: int) -> JSON:
    rows = list_contacts(ctx.session, ctx.actor, ctx.clock, patient_id=patient_id)
    return contact_team_json(patient_id, rows)


def read(ctx: Context, rid: str) -> JSON:
    contacts, plan = _CONTACTS.fullmatch(rid), _PLAN.fullmatch(rid)
    number = int(contacts.group(1) if contacts else plan.group(1) if plan else 0)
    if not 0 < number <= 2**31 - 1:
        raise not_found(f"CareTeam/{rid} is not known here (patient-<id>-contacts or plan-<id>)")
    if contacts:
        return _contacts_json(ctx, number)
    return plan_team_json(get_plan(ctx.session, ctx.actor, ctx.clock, plan_id=number))


# ---------------------------------------------------------------------------- search
def _member(team: JSON, kind: str, rid: str) -> bool:
    """Whether the team has the participant (as member, on behalf of, or as backup person)."""
    wanted = f"{'Practitioner' if kind == 'PractitionerRole' else kind}/{rid}"
    for participant in team.get("participant", []):
        refs = [participant.get("member", {}), participant.get("onBehalfOf", {})]
        refs += [e.get("valueReference", {}) for e in participant.get("extension", [])]
        if any(ref.get("reference") == wanted for ref in refs):
            return True
    return False


def _patient_teams(ctx: Context, patient_id: int) -> list[JSON]:
    plans = list_patient_plans(ctx.session, ctx.actor, ctx.clock, patient_id=patient_id)
    return [_contacts_json(ctx, patient_id)] + [plan_team_json(plan) for plan in plans]


def _participant_teams(ctx: Context, kind: str, rid: str) -> list[JSON]:
    """Teams with a participant, among the patients the caller may read: contact teams of the patients
    the person or organisation is a fixed contact for, and the parties of the plans the caller's
    organisation is a party to."""
    number = int_reference(rid)
    if number is None:
        return []
    teams: list[JSON] = []
    if kind != "Patient":
        person = number if kind in ("Practitioner", "PractitionerRole") else None
        organisation = number if kind == "Organization" else None
        for patient_id in patients_with_contact(
            ctx.session, ctx.actor, ctx.clock, person_id=person, organisation_id=organisation
        ):
            teams.append(_contacts_json(ctx, patient_id))
    if kind in ("Organization", "Patient"):  # plan parties are organisations and the patient
        plans: list[Plan] = search_plans(
            ctx.session, ctx.actor, ctx.clock, PlanQuery(limit=MAX_PLANS)
        )
        teams += [plan_team_json(p) for p in plans]
    return teams


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    patients = references(query, "patient", ("Patient",))
    participants = references(query, "participant", PARTICIPANT_TYPES)
    if not patients and not participants:
        raise bad_search("CareTeam searches need patient or participant")
    teams: dict[str, JSON] = {}
    if patients:
        for patient_id in sorted(reference_ids(query, "patient", "Patient") or ()):
            teams |= {t["id"]: t for t in _patient_teams(ctx, patient_id)}
    else:
        for kind, rid in participants[0]:
            teams |= {t["id"]: t for t in _participant_teams(ctx, kind, rid)}
    matches = [
        team
        for team in teams.values()
        if all(any(_member(team, kind, rid) for kind, rid in occ) for occ in participants)
    ]
    page, cursor = page_after(matches, lambda team: str(team["id"]), query)
    return SearchResult(page, next_cursor=cursor)


# ---------------------------------------------------------------------------- create
def _fixed_contact_indices(body: JSON) -> list[int]:
    """Indices of the fixed-contact participants, in order (the mapper keeps their order)."""
    out = []
    for i, participant in enumerate(body.get("participant", [])):
        codes = [
            coding.get("code")
            for concept in participant.get("role", [])
            for coding in concept.get("coding", [])
        ]
        if "fixed-contact" in codes:
            out.append(i)
    return out


def _confirm_plan_parties(ctx: Context, record: CareTeamRecord) -> JSON:
    assert record.plan_id is not None
    plan = get_plan(ctx.session, ctx.actor, ctx.clock, plan_id=record.plan_id)
    errors = ErrorCollector()
    if record.contacts:
        errors.add(
            "CareTeam.participant",
            f"fixed contact persons belong to CareTeam patient-{plan.patient_id}-contacts "
            "(leave out the care-team-plan extension)",
            "business-rule",
        )
    if record.patient_id != plan.patient_id:
        errors.add(
            "CareTeam.subject", f"plan {plan.id} is Patient/{plan.patient_id}'s", "invariant"
        )
    given = sorted((p.role.value, p.organisation_id or 0) for p in record.participants)
    current = sorted((p.role.value, p.organisation_id or 0) for p in plan.participants)
    if given != current:
        parties = ", ".join(f"{role} {org or ''}".strip() for role, org in current)
        errors.add(
            "CareTeam.participant",
            f"the parties of plan {plan.id} are {parties}; they follow from the stay and cannot be "
            "set over FHIR",
            "business-rule",
        )
    errors.raise_if_any()
    return plan_team_json(plan)


def _assign_contacts(ctx: Context, record: CareTeamRecord, body: JSON) -> JSON:
    errors = ErrorCollector()
    if record.participants:
        roles = {p.role for p in record.participants} - {ParticipantRole.PATIENT}
        errors.add(
            "CareTeam.participant",
            "plan parties belong to the plan's CareTeam (with the care-team-plan extension); "
            f"roles given: {', '.join(sorted(r.value for r in roles)) or 'patient'}",
            "business-rule",
        )
    if not record.contacts:
        errors.add(
            "CareTeam.participant",
            f"name at least one fixed contact person (role {CareTeamRole.FIXED_CONTACT.value})",
            "required",
        )
    errors.raise_if_any()
    indices = _fixed_contact_indices(body)
    for index, member in zip(indices, record.contacts, strict=True):
        where = f"CareTeam.participant[{index}]"
        if member.assignment_id is not None:
            continue  # a period that exists already (a team read and posted back)
        try:
            organisation = get_organisation(ctx.session, member.organisation_id)
        except NotFound:
            raise ValidationFailed.single(
                f"{where}.onBehalfOf" if member.assignment.person_id else f"{where}.member",
                f"Organization/{member.organisation_id} does not exist",
                "not-found",
            ) from None
        a = member.assignment
        if organisation.sector is not a.sector:
            raise ValidationFailed.single(
                f"{where}.role",
                f"Organization/{organisation.id} is in the {organisation.sector.value} sector",
                "invariant",
            )
        try:
            assign_contact(
                ctx.session,
                ctx.actor,
                ctx.clock,
                patient_id=record.patient_id,
                organisation_id=organisation.id,
                person_id=a.person_id,
                valid_from=a.valid_from,
                valid_to=a.valid_to,
                backup_person_id=a.backup_person_id,
                team_inbox=a.team_inbox,
            )
        except ValidationFailed as exc:
            paths = {
                "person_id": f"{where}.member",
                "backup_person_id": f"{where}.extension",
                "valid_from": f"{where}.period.start",
                "valid_to": f"{where}.period.end",
                "team_inbox": f"{where}.extension",
                "sector": f"{where}.role",
            }
            raise ValidationFailed(
                [replace(e, field=paths.get(e.field, where)) for e in exc.errors]
            ) from None
    return _contacts_json(ctx, record.patient_id)


def create(ctx: Context, body: JSON) -> JSON:
    record = care_team_from_fhir(body)
    if record.plan_id is not None:
        return _confirm_plan_parties(ctx, record)
    return _assign_contacts(ctx, record, body)
