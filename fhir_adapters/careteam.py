"""CareTeam <-> CareTeamRecord: a patient's fixed contact persons and/or a plan's parties.

CareTeams are views, not rows: ``contact_team_id(patient_id)`` and ``plan_team_id(plan_id)`` name them.
``subject`` is the patient; the plan, if any, is the extension ``.../StructureDefinition/care-team-plan``.

Each participant's ``role`` holds a coding from our CodeSystem ``care-team-role`` and, where there is one,
a second coding from our CodeSystem ``sector``.

- A fixed contact person period (role ``fixed-contact``, sector required): ``id`` ``contact-{assignment id}``;
  ``member`` ``Practitioner/{person}`` with ``onBehalfOf`` ``Organization/{organisation}``, or, with no
  person, ``member`` ``Organization/{organisation}`` (R4 ctm-1 forbids onBehalfOf then); ``period`` the
  inclusive dates; the backup person as extension ``contact-backup`` (valueReference Practitioner) and the
  team inbox as extension ``contact-team-inbox`` (valueString).
- A plan party (role = the ParticipantRole: ``patient``, ``ward``, ``municipality``, ``gp``, ``relative``,
  ``other``): ``member`` ``Organization/{id}`` or, for the patient, ``Patient/{id}``, with the party's name
  as ``display`` (a display-only reference for a named relative); extensions ``participant-required``
  (valueBoolean) and ``participant-response`` (valueCode from CodeSystem ``participant-response``).
"""

from __future__ import annotations

import re

from fhir.resources.R4B.careteam import CareTeam as FhirCareTeam
from pathways.contacts import new_contact_assignment
from pathways.errors import ErrorCollector, ValidationFailed
from pathways.labels import label
from pathways.organisations import Sector
from pathways.plans import PARTICIPANT_SECTOR, Participant, ParticipantRole, ResponseStatus

from fhir_adapters.codesystems import CARE_TEAM_ROLE, PARTICIPANT_RESPONSE, SECTOR, CareTeamRole
from fhir_adapters.common import (
    JSON,
    build,
    built_json,
    codings,
    compact,
    extension_url,
    parse_date,
    parse_reference,
    parse_reference_int,
    parse_resource,
    reference,
    remap_errors,
    single_extension,
    value_of,
)
from fhir_adapters.records import CareTeamRecord, ContactMember, PlanRecord

CONTACT_BACKUP_EXTENSION = extension_url("contact-backup")
CONTACT_TEAM_INBOX_EXTENSION = extension_url("contact-team-inbox")
PARTICIPANT_REQUIRED_EXTENSION = extension_url("participant-required")
PARTICIPANT_RESPONSE_EXTENSION = extension_url("participant-response")
CARE_TEAM_PLAN_EXTENSION = extension_url("care-team-plan")
_CONTACT_ID = re.compile(r"contact-([1-9][0-9]{0,9})", re.ASCII)


def contact_team_id(patient_id: int) -> str:
    return f"patient-{patient_id}-contacts"


def plan_team_id(plan_id: int) -> str:
    return f"plan-{plan_id}"


def care_team_for_plan(record: PlanRecord, language: str = "da") -> CareTeamRecord:
    """The parties of a plan as a CareTeamRecord (id from ``record.care_team_id`` or the plan id), named
    in ``language`` (Danish unless ``en``)."""
    team_id = record.care_team_id or (plan_team_id(record.id) if record.id is not None else None)
    return CareTeamRecord(
        id=team_id,
        patient_id=record.patient_id,
        plan_id=record.id,
        participants=record.plan.participants,
        name=(
            label("text", "care_team_plan", language).format(plan_id=record.id)
            if record.id is not None
            else label("text", "care_team_plan_new", language)
        ),
    )


# ------------------------------------------------------------------ to FHIR


def _role(role: CareTeamRole, sector: Sector | None) -> list[JSON]:
    coding = [CARE_TEAM_ROLE.coding(role)]
    if sector is not None:
        coding.append(SECTOR.coding(sector))
    return [{"coding": coding}]


def _shown(ref: JSON, display: str) -> JSON:
    return {**ref, "display": display} if display else ref


def _contact(member: ContactMember) -> JSON:
    a = member.assignment
    extension: list[JSON] = []
    if a.backup_person_id is not None:
        extension.append(
            {
                "url": CONTACT_BACKUP_EXTENSION,
                "valueReference": _shown(
                    reference("Practitioner", a.backup_person_id), member.backup_person_name
                ),
            }
        )
    if a.team_inbox:
        extension.append({"url": CONTACT_TEAM_INBOX_EXTENSION, "valueString": a.team_inbox})
    organisation = _shown(
        reference("Organization", member.organisation_id), member.organisation_name
    )
    return compact(
        {
            "id": None if member.assignment_id is None else f"contact-{member.assignment_id}",
            "extension": extension,
            "role": _role(CareTeamRole.FIXED_CONTACT, a.sector),
            "member": (
                _shown(reference("Practitioner", a.person_id), member.person_name)
                if a.person_id is not None
                else organisation
            ),
            "onBehalfOf": organisation if a.person_id is not None else None,
            "period": compact(
                {
                    "start": a.valid_from.isoformat(),
                    "end": a.valid_to.isoformat() if a.valid_to else None,
                }
            ),
        }
    )


def _party(participant: Participant, patient_id: int) -> JSON:
    member: JSON = {}
    if participant.organisation_id is not None:
        member = reference("Organization", participant.organisation_id)
    elif participant.role is ParticipantRole.PATIENT:
        member = reference("Patient", patient_id)
    if participant.name:
        member["display"] = participant.name
    return compact(
        {
            "extension": [
                {"url": PARTICIPANT_REQUIRED_EXTENSION, "valueBoolean": participant.is_required},
                {
                    "url": PARTICIPANT_RESPONSE_EXTENSION,
                    "valueCode": PARTICIPANT_RESPONSE.code(participant.response),
                },
            ],
            "role": _role(CareTeamRole.of(participant.role), PARTICIPANT_SECTOR[participant.role]),
            "member": member,
        }
    )


def care_team_to_fhir(record: CareTeamRecord) -> FhirCareTeam:
    return build(FhirCareTeam, _care_team_body(record))


def care_team_json(record: CareTeamRecord, *, validate: bool = True) -> JSON:
    """``care_team_to_fhir`` as wire JSON (validated, not serialised again: see ``built_json``)."""
    return built_json(FhirCareTeam, _care_team_body(record), validate=validate)


def _care_team_body(record: CareTeamRecord) -> JSON:
    participants = [_contact(c) for c in record.contacts]
    participants += [_party(p, record.patient_id) for p in record.participants]
    return compact(
        {
            "resourceType": "CareTeam",
            "id": record.id,
            "extension": (
                [
                    {
                        "url": CARE_TEAM_PLAN_EXTENSION,
                        "valueReference": reference("CarePlan", record.plan_id),
                    }
                ]
                if record.plan_id is not None
                else []
            ),
            "status": "active",
            "name": record.name,
            "subject": reference("Patient", record.patient_id),
            "participant": participants,
        }
    )


# ------------------------------------------------------------------ from FHIR


def care_team_from_fhir(data: object) -> CareTeamRecord:
    """A CareTeam as a CareTeamRecord; raises ValidationFailed naming FHIRPath expressions."""
    res = parse_resource(data, FhirCareTeam)
    errors = ErrorCollector()
    patient = None
    if "subject" in res:
        patient = parse_reference_int(res["subject"], ("Patient",), "CareTeam.subject", errors)
    else:
        errors.add("CareTeam.subject", "the patient (subject) is required", "required")
    plan_id = None
    found = single_extension(res, CARE_TEAM_PLAN_EXTENSION, "CareTeam", errors)
    if found is not None:
        where, ext = found
        ref = parse_reference_int(
            value_of(ext, "Reference", where, errors),
            ("CarePlan",),
            f"{where}.valueReference",
            errors,
        )
        plan_id = None if ref is None else ref[1]
    contacts: list[ContactMember] = []
    parties: list[Participant] = []
    for i, element in enumerate(res.get("participant", [])):
        where = f"CareTeam.participant[{i}]"
        role, sector_path, sector = _read_role(element, where, errors)
        if role is CareTeamRole.FIXED_CONTACT:
            contact = _read_contact(element, where, sector_path, sector, errors)
            if contact is not None:
                contacts.append(contact)
        elif role is not None:
            party = _read_party(element, where, role, errors)
            if party is not None:
                parties.append(party)
    errors.raise_if_any()
    assert patient is not None
    return CareTeamRecord(
        id=res.get("id"),
        patient_id=patient[1],
        contacts=tuple(contacts),
        plan_id=plan_id,
        participants=tuple(parties),
        name=res.get("name", ""),
    )


def _read_role(
    element: JSON, where: str, errors: ErrorCollector
) -> tuple[CareTeamRole | None, str | None, Sector | None]:
    """(role, path of the sector code or None without a sector coding, sector) of a participant."""
    role: CareTeamRole | None = None
    role_seen = False
    sector_path: str | None = None
    sector: Sector | None = None
    for r, concept in enumerate(element.get("role", [])):
        for path, coding in codings(concept, CARE_TEAM_ROLE.url, f"{where}.role[{r}]"):
            role_seen = True
            role = CARE_TEAM_ROLE.member(coding.get("code"))
            if role is None:
                errors.add(
                    f"{path}.code",
                    f"unknown care team role; known: {', '.join(CARE_TEAM_ROLE.codes)}",
                    "code-invalid",
                )
        for path, coding in codings(concept, SECTOR.url, f"{where}.role[{r}]"):
            sector_path, sector = f"{path}.code", SECTOR.member(coding.get("code"))
            if sector is None:
                errors.add(
                    sector_path, f"unknown sector; known: {', '.join(SECTOR.codes)}", "code-invalid"
                )
    if not role_seen:
        errors.add(
            f"{where}.role", f"a role coding from {CARE_TEAM_ROLE.url} is required", "required"
        )
    return role, sector_path, sector


def _read_contact(
    element: JSON,
    where: str,
    sector_path: str | None,
    sector: Sector | None,
    errors: ErrorCollector,
) -> ContactMember | None:
    paths = {
        "sector": sector_path or f"{where}.role",
        "valid_from": f"{where}.period.start",
        "valid_to": f"{where}.period.end",
        "person_id": f"{where}.member",
        "backup_person_id": f"{where}.member",
        "team_inbox": f"{where}.member",
    }
    local = ErrorCollector()
    person_id, organisation_id = _read_contact_member(element, where, local)
    backup_id, inbox = _read_contact_extensions(element, where, paths, local)
    period = element.get("period", {})
    valid_from = valid_to = None
    if "start" in period:
        valid_from = parse_date(period["start"], f"{where}.period.start", local)
    else:
        local.add(
            f"{where}.period.start", "the first day of the contact period is required", "required"
        )
    if "end" in period:
        valid_to = parse_date(period["end"], f"{where}.period.end", local)
    if sector_path is None:
        local.add(f"{where}.role", f"a sector coding from {SECTOR.url} is required", "required")
    if local.errors or sector is None:  # an unknown sector code is reported already
        errors.errors.extend(local.errors)
        return None
    assert valid_from is not None
    assert organisation_id is not None
    try:
        assignment = new_contact_assignment(
            sector=sector.value,
            valid_from=valid_from,
            valid_to=valid_to,
            person_id=person_id,
            backup_person_id=backup_id,
            team_inbox=inbox,
        )
    except ValidationFailed as exc:
        remap_errors(exc, paths, where, errors)
        return None
    match = _CONTACT_ID.fullmatch(element.get("id", ""))
    return ContactMember(
        assignment=assignment,
        organisation_id=organisation_id,
        assignment_id=int(match.group(1)) if match else None,
    )


def _read_contact_member(
    element: JSON, where: str, errors: ErrorCollector
) -> tuple[int | None, int | None]:
    """(person id, organisation id) from member and onBehalfOf."""
    person_id: int | None = None
    organisation_id: int | None = None
    member = element.get("member")
    if member is None:
        errors.add(f"{where}.member", "a contact person or organisation is required", "required")
    else:
        ref = parse_reference_int(
            member, ("Practitioner", "Organization"), f"{where}.member", errors
        )
        if ref is not None and ref[0] == "Practitioner":
            person_id = ref[1]
        elif ref is not None:
            organisation_id = ref[1]
    if "onBehalfOf" in element:
        org = parse_reference_int(
            element["onBehalfOf"], ("Organization",), f"{where}.onBehalfOf", errors
        )
        organisation_id = None if org is None else org[1]
    elif person_id is not None:
        errors.add(
            f"{where}.onBehalfOf", "the contact person's organisation is required", "required"
        )
    return person_id, organisation_id


def _read_contact_extensions(
    element: JSON, where: str, paths: dict[str, str], errors: ErrorCollector
) -> tuple[int | None, str]:
    """(backup person id, team inbox) from the contact extensions."""
    backup_id = None
    found = single_extension(element, CONTACT_BACKUP_EXTENSION, where, errors)
    if found is not None:
        path, ext = found
        paths["backup_person_id"] = f"{path}.valueReference"
        ref = parse_reference_int(
            value_of(ext, "Reference", path, errors),
            ("Practitioner",),
            f"{path}.valueReference",
            errors,
        )
        backup_id = None if ref is None else ref[1]
    inbox = ""
    found = single_extension(element, CONTACT_TEAM_INBOX_EXTENSION, where, errors)
    if found is not None:
        path, ext = found
        paths["team_inbox"] = f"{path}.valueString"
        inbox = value_of(ext, "String", path, errors) or ""
    return backup_id, inbox


def _read_party(
    element: JSON, where: str, role: CareTeamRole, errors: ErrorCollector
) -> Participant | None:
    participant_role = role.participant_role
    assert participant_role is not None
    local = ErrorCollector()
    is_required = True
    found = single_extension(element, PARTICIPANT_REQUIRED_EXTENSION, where, local)
    if found is not None:
        path, ext = found
        value = value_of(ext, "Boolean", path, local)
        is_required = bool(value) if value is not None else True
    response = ResponseStatus.PENDING
    found = single_extension(element, PARTICIPANT_RESPONSE_EXTENSION, where, local)
    if found is not None:
        path, ext = found
        member = PARTICIPANT_RESPONSE.member(value_of(ext, "Code", path, local))
        if member is None and "valueCode" in ext:
            local.add(
                f"{path}.valueCode",
                f"unknown response; known: {', '.join(PARTICIPANT_RESPONSE.codes)}",
                "code-invalid",
            )
        response = member or response
    organisation_id = None
    name = ""
    member_ref = element.get("member")
    if member_ref is not None:
        name = member_ref.get("display", "")
        if "reference" in member_ref:
            ref = parse_reference(member_ref, ("Organization", "Patient"), f"{where}.member", local)
            if ref is not None and ref[0] == "Organization":
                org = parse_reference_int(member_ref, ("Organization",), f"{where}.member", local)
                organisation_id = None if org is None else org[1]
    if local.errors:
        errors.errors.extend(local.errors)
        return None
    return Participant(
        role=participant_role,
        is_required=is_required,
        response=response,
        organisation_id=organisation_id,
        name=name,
    )
