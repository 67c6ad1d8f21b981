"""Patient: read, search by CPR (never logged, never in audit details), $everything, registration, and
an update that changes the GP (generalPractitioner) and nothing else."""

from __future__ import annotations

import contextlib

from coordinator.care_pathways.services import list_patient_pathways
from coordinator.contacts.services import list_contacts
from coordinator.fhir import records
from coordinator.fhir.core import (
    JSON,
    Context,
    FhirError,
    Search,
    SearchQuery,
    SearchResult,
    bad_search,
    int_id,
    resolved_params,
    searchset,
)
from coordinator.fhir.render import contact_team_json, plan_json, plan_team_json
from coordinator.fhir.resources import communication, task
from coordinator.fhir.resources.consent import consents_of
from coordinator.fhir.resources.provenance import provenance_of
from coordinator.fhir.search import int_reference, tokens
from coordinator.organisations.services import search_organisations
from coordinator.patients.models import Patient
from coordinator.patients.services import (
    find_patient_by_cpr,
    find_patient_by_id,
    get_patient,
    patient_for_update,
    register_patient,
    registered_patient_id,
    set_general_practitioner,
)
from coordinator.plans.queries import list_patient_plans
from fhir_adapters.common import to_json
from fhir_adapters.encounter import encounter_to_fhir, episode_of_care_to_fhir
from fhir_adapters.patient import (
    FIELD_PATHS,
    GP_ABSENT_REASON_EXTENSION,
    GeneralPractitioner,
    general_practitioner_from_fhir,
    patient_from_fhir,
    patient_to_fhir,
)
from pathways.errors import ErrorCollector, FieldError, PermissionDenied, ValidationFailed
from pathways.identifiers import CPR_SYSTEM, SOR_SYSTEM, validate_sor, validate_ydernummer
from pathways.organisations import OrganisationKind

ID = "_id"
REDACTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "REDACTED",
    "display": "redacted",
}


def patient_json(ctx: Context, patient: Patient) -> JSON:
    return to_json(patient_to_fhir(records.patient_record(ctx.session, patient)))


def read(ctx: Context, rid: str) -> JSON:
    patient = get_patient(ctx.session, ctx.actor, ctx.clock, patient_id=int_id("Patient", rid))
    return patient_json(ctx, patient)


def patients_by_identifier(
    ctx: Context, query: SearchQuery, name: str
) -> dict[int, Patient] | None:
    """The patients a CPR token parameter names (occurrences AND, commas OR); None without one.

    A CPR with no care relation finds nothing, exactly like an unknown one (ADR 0004); every lookup is
    audited by the use case, without the number. Other identifier systems match nothing here.
    """
    occurrences = tokens(query, name)
    if not occurrences:
        return None
    found: dict[int, Patient] | None = None
    for occurrence in occurrences:
        hits: dict[int, Patient] = {}
        for token in occurrence:
            if token.system not in (None, CPR_SYSTEM):
                continue
            try:
                patient = find_patient_by_cpr(ctx.session, ctx.actor, ctx.clock, cpr=token.code)
            except ValidationFailed as exc:
                raise bad_search(f"search parameter {name}: {exc.errors[0].message}") from None
            if patient is not None:
                hits[patient.id] = patient
        found = hits if found is None else {k: v for k, v in found.items() if k in hits}
    return found


def patients_by_id(ctx: Context, query: SearchQuery) -> dict[int, Patient] | None:
    """The patients ``_id`` names (occurrences AND, commas OR), as far as the caller has a care
    relation; None without the parameter."""
    found: dict[int, Patient] | None = None
    for occurrence in tokens(query, ID):
        hits: dict[int, Patient] = {}
        for token in occurrence:
            patient_id = int_reference(token.code) if token.system is None else None
            patient = (
                find_patient_by_id(ctx.session, ctx.actor, ctx.clock, patient_id=patient_id)
                if patient_id is not None
                else None
            )
            if patient is not None:
                hits[patient.id] = patient
        found = hits if found is None else {k: v for k, v in found.items() if k in hits}
    return found


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    by_cpr = patients_by_identifier(ctx, query, "identifier")
    by_id = patients_by_id(ctx, query)
    if by_cpr is None and by_id is None:
        raise bad_search(
            f"Patient searches need identifier={CPR_SYSTEM}|<CPR number> or _id "
            "(POST Patient/_search keeps the number out of the URL)"
        )
    ids = sorted(set.intersection(*(set(f) for f in (by_cpr, by_id) if f is not None)))
    patients = {**(by_cpr or {}), **(by_id or {})}
    # The links name the patients found by id, never the CPR asked for.
    links = None
    if by_cpr is not None:
        links = resolved_params(query, ("identifier", ID), ID, [str(pid) for pid in ids])
    return SearchResult([patient_json(ctx, patients[pid]) for pid in ids], link_params=links)


def conditional(ctx: Context, query: SearchQuery) -> list[JSON]:
    """If-None-Exist of a registration: the patients the caller's search finds, else the registered
    patients the CPR numbers name, as their id only (content needs a care relation, §13c). A second
    registration would be refused with that id (409); conditional create answers 200 with it."""
    found = search(ctx, query).matches
    if found or query.has(ID):
        return found
    registered: set[int] | None = None
    for occurrence in tokens(query, "identifier"):
        hits: set[int] = set()
        for token in occurrence:
            if token.system in (None, CPR_SYSTEM):
                session, actor, clock = ctx.session, ctx.actor, ctx.clock
                patient_id = registered_patient_id(session, actor, clock, cpr=token.code)
                hits |= {patient_id} if patient_id is not None else set()
        registered = hits if registered is None else registered & hits
    return [registered_only(patient_id) for patient_id in sorted(registered or ())]


def registered_only(patient_id: int) -> JSON:
    """A registered patient the caller may know of but not read: the id, labelled as redacted."""
    return {"resourceType": "Patient", "id": str(patient_id), "meta": {"security": [REDACTED]}}


EVERYTHING_PAGE = 100


def _every_page(ctx: Context, resource_type: str, search: Search, patient_id: int) -> list[JSON]:
    """Every match of a search by patient, page after page (each page audited by its search)."""
    found: list[JSON] = []
    cursor: str | None = None
    while True:
        query = SearchQuery(
            resource_type,
            (("patient", f"Patient/{patient_id}"),),
            count=EVERYTHING_PAGE,
            cursor=cursor,
        )
        result = search(ctx, query)
        found += result.matches
        if result.next_cursor is None:
            return found
        cursor = result.next_cursor


def everything(ctx: Context, rid: str) -> JSON:
    """The patient with their plans, care teams, stays, the reminders in the caller's inbox, the messages
    sent about them, their consents and the plans' provenance, as far as the caller's scopes reach."""
    session, actor, clock = ctx.session, ctx.actor, ctx.clock
    patient_id = int_id("Patient", rid)
    patient = get_patient(session, actor, clock, patient_id=patient_id)
    found: list[JSON] = [patient_json(ctx, patient)]
    plans = list_patient_plans(session, actor, clock, patient_id=patient_id)
    found += [plan_json(p) for p in plans]
    if ctx.allows("CareTeam", "read"):
        contacts = list_contacts(session, actor, clock, patient_id=patient_id)
        if contacts:
            found.append(contact_team_json(patient_id, contacts))
        found += [plan_team_json(p) for p in plans]
    if ctx.allows("Encounter", "read"):
        for pathway in list_patient_pathways(session, actor, clock, patient_id=patient_id):
            record = records.encounter_record(pathway)
            found += [to_json(encounter_to_fhir(record)), to_json(episode_of_care_to_fhir(record))]
    if ctx.allows("Task", "read"):
        # A role without an inbox (no clinical content) has no Tasks to show.
        with contextlib.suppress(PermissionDenied):
            found += _every_page(ctx, "Task", task.search, patient_id)
    if ctx.allows("Communication", "read"):
        found += _every_page(ctx, "Communication", communication.search, patient_id)
    if ctx.allows("CarePlan", "read"):
        found += consents_of(plans)
        found += provenance_of(session, {p.id for p in plans})
    return searchset(
        ctx,
        f"{ctx.base_url}/Patient/{patient_id}/$everything",
        SearchResult(found),
        total=len(found),
    )


def create(ctx: Context, body: JSON) -> JSON:
    """Register a patient (CPR or X-eCPR, name, home municipality, GP clinic). The answer is built from
    what was registered: the registering party may have no care relation yet."""
    record = patient_from_fhir(body)
    p = record.patient
    row = register_patient(
        ctx.session,
        ctx.actor,
        ctx.clock,
        given_name=p.given_name,
        family_name=p.family_name,
        kommunekode=p.kommunekode,
        cpr=p.cpr,
        replacement_cpr=p.replacement_cpr,
        gp_organisation_id=record.gp_clinic_id,
        is_protected=p.is_protected,
        purpose="registration over FHIR",
    )
    return patient_json(ctx, row)


# What an update may not change: the registration's other facts, by their FHIRPath.
FIXED = ("cpr", "replacement_cpr", "given_name", "family_name", "kommunekode", "is_protected")


def update(ctx: Context, rid: str, body: JSON, expected: int | None) -> JSON:
    """Change the patient's GP clinic (generalPractitioner: Organization/<id>, or an identifier with the
    ydernummer or SOR code), or leave it out with the gp-absent-reason extension saying why the patient
    has none. Anything else that differs from the registration is refused (422) by its FHIRPath; the
    plans not agreed yet follow the GP (``set_general_practitioner``)."""
    patient_id = int_id("Patient", rid)
    if body.get("id") != rid:
        raise FhirError(
            400,
            "invalid",
            f"the resource's id must be the id in the URL ({rid})",
            expression="Patient.id",
        )
    gp = general_practitioner_from_fhir(body)
    record = patient_from_fhir({k: v for k, v in body.items() if k != "generalPractitioner"})
    session, actor, clock = ctx.session, ctx.actor, ctx.clock
    patient = patient_for_update(
        session, actor, clock, patient_id=patient_id, expected_version=expected
    )
    errors = ErrorCollector()
    for name in FIXED:
        if getattr(record.patient, name) != getattr(patient, name):
            errors.add(
                FIELD_PATHS[name],
                "cannot be changed here: only generalPractitioner can be updated",
                "business-rule",
            )
    errors.raise_if_any()
    gp_id = _gp_clinic_id(ctx, gp)
    try:
        patient = set_general_practitioner(
            session,
            actor,
            clock,
            patient_id=patient_id,
            gp_organisation_id=gp_id,
            reason=gp.reason if gp_id is None else "",
            expected_version=expected,
        )
    except ValidationFailed as exc:
        paths = {
            "gp_organisation_id": gp.path,
            "reason": f"Patient.extension('{GP_ABSENT_REASON_EXTENSION}')",
        }
        raise ValidationFailed(
            [FieldError(paths.get(e.field, e.field), e.message, e.code) for e in exc.errors]
        ) from None
    return patient_json(ctx, patient)


def _gp_clinic_id(ctx: Context, gp: GeneralPractitioner) -> int | None:
    """The GP clinic's id; one named by ydernummer or SOR code is looked up in the directory."""
    if not gp.value:
        return gp.organisation_id
    where = f"{gp.path}.identifier.value"
    by_sor = gp.system == SOR_SYSTEM
    found = search_organisations(
        ctx.session,
        kind=OrganisationKind.GP_CLINIC,
        sor_code=validate_sor(gp.value, where) if by_sor else None,
        ydernummer=None if by_sor else validate_ydernummer(gp.value, where),
        limit=2,
    )
    if len(found) != 1:
        raise ValidationFailed.single(
            f"{gp.path}.identifier",
            f"no GP clinic has {gp.system}|{gp.value}",
            "not-found",
        )
    return found[0].id
