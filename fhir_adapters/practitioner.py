"""Practitioner and PractitionerRole <-> PractitionerRecord (a member of staff).

A person works in one organisation with one role, so both resources share the staff member's id:
``Practitioner/{id}`` (name, phone, email, active) and ``PractitionerRole/{id}`` (practitioner,
organization, ``code`` = our CodeSystem ``staff-role`` with the job title as ``code.text``).
The name is ``text`` (authoritative on input), split into ``given``/``family`` for display.
"""

from __future__ import annotations

from fhir.resources.R4B.practitioner import Practitioner as FhirPractitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole as FhirPractitionerRole
from pathways.errors import ErrorCollector, ValidationFailed
from pathways.people import Role, new_staff_member

from fhir_adapters.codesystems import STAFF_ROLE
from fhir_adapters.common import (
    JSON,
    build,
    codings,
    compact,
    meta,
    parse_reference_int,
    parse_resource,
    read_identity,
    reference,
    remap_errors,
)
from fhir_adapters.records import PractitionerRecord


def _name(name: str) -> JSON:
    parts = name.split()
    return compact(
        {
            "use": "official",
            "text": name,
            "family": parts[-1] if parts else None,
            "given": parts[:-1],
        }
    )


def _telecom(record: PractitionerRecord) -> list[JSON]:
    telecom: list[JSON] = []
    if record.phone:
        telecom.append({"system": "phone", "value": record.phone, "use": "work"})
    if record.email:
        telecom.append({"system": "email", "value": record.email, "use": "work"})
    return telecom


def practitioner_to_fhir(record: PractitionerRecord) -> FhirPractitioner:
    body = compact(
        {
            "resourceType": "Practitioner",
            "id": None if record.id is None else str(record.id),
            "meta": meta(record.version, record.updated_at),
            "active": record.active,
            "name": [_name(record.name)],
            "telecom": _telecom(record),
        }
    )
    return build(FhirPractitioner, body)


def practitioner_role_to_fhir(record: PractitionerRecord) -> FhirPractitionerRole:
    body = compact(
        {
            "resourceType": "PractitionerRole",
            "id": None if record.id is None else str(record.id),
            "meta": meta(record.version, record.updated_at),
            "active": record.active,
            "practitioner": (
                {**reference("Practitioner", record.id), "display": record.name}
                if record.id is not None
                else {"display": record.name}
            ),
            "organization": reference("Organization", record.organisation_id),
            "code": [compact({"coding": [STAFF_ROLE.coding(record.role)], "text": record.title})],
        }
    )
    return build(FhirPractitionerRole, body)


def practitioner_from_fhir(practitioner: object, practitioner_role: object) -> PractitionerRecord:
    """A Practitioner and its PractitionerRole as one record; errors name FHIRPath expressions."""
    person = parse_resource(practitioner, FhirPractitioner)
    role_res = parse_resource(practitioner_role, FhirPractitionerRole)
    errors = ErrorCollector()
    rid, version, updated = read_identity(person, "Practitioner", errors)
    paths: dict[str, str] = {"name": "Practitioner.name", "title": "PractitionerRole.code"}
    name = _read_name(person, paths)
    phone, email = "", ""
    for i, contact in enumerate(person.get("telecom", [])):
        system, value = contact.get("system"), contact.get("value", "")
        if system == "phone" and not phone:
            phone, paths["phone"] = value, f"Practitioner.telecom[{i}].value"
        elif system == "email" and not email:
            email, paths["email"] = value, f"Practitioner.telecom[{i}].value"
    organisation_id: int | None = None
    if "organization" in role_res:
        org = parse_reference_int(
            role_res["organization"], ("Organization",), "PractitionerRole.organization", errors
        )
        organisation_id = None if org is None else org[1]
    else:
        errors.add("PractitionerRole.organization", "the organisation is required", "required")
    if "practitioner" in role_res and rid is not None:
        ref = parse_reference_int(
            role_res["practitioner"], ("Practitioner",), "PractitionerRole.practitioner", errors
        )
        if ref is not None and ref[1] != rid:
            errors.add(
                "PractitionerRole.practitioner.reference",
                f"must reference Practitioner/{rid}, the practitioner given",
                "invariant",
            )
    role, title = _read_role(role_res, paths, errors)
    staff = None
    if role is not None:
        try:
            staff = new_staff_member(
                name=name,
                role=role.value,
                sector=sorted(role.sectors)[0],
                title=title,
                phone=phone,
                email=email,
            )
        except ValidationFailed as exc:
            remap_errors(exc, paths, "Practitioner", errors)
    errors.raise_if_any()
    assert staff is not None
    assert organisation_id is not None
    assert role is not None
    return PractitionerRecord(
        name=staff.name,
        organisation_id=organisation_id,
        role=role,
        id=rid,
        active=person.get("active", True),
        title=staff.title,
        phone=staff.phone,
        email=staff.email,
        version=version,
        updated_at=updated,
    )


def _read_name(person: JSON, paths: dict[str, str]) -> str | None:
    names = person.get("name", [])
    if not names:
        return None
    n = next((i for i, name in enumerate(names) if name.get("use") == "official"), 0)
    name = names[n]
    if "text" in name:
        paths["name"] = f"Practitioner.name[{n}].text"
        text: str = name["text"]
        return text
    paths["name"] = f"Practitioner.name[{n}]"
    parts = [*name.get("given", []), name.get("family", "")]
    return " ".join(p for p in parts if p) or None


def _read_role(
    role_res: JSON, paths: dict[str, str], errors: ErrorCollector
) -> tuple[Role | None, str]:
    for c, concept in enumerate(role_res.get("code", [])):
        for where, coding in codings(concept, STAFF_ROLE.url, f"PractitionerRole.code[{c}]"):
            role = STAFF_ROLE.member(coding.get("code"))
            if role is None:
                errors.add(
                    f"{where}.code",
                    f"unknown staff role; known: {', '.join(STAFF_ROLE.codes)}",
                    "code-invalid",
                )
                return None, ""
            paths["title"] = f"PractitionerRole.code[{c}].text"
            return role, concept.get("text", "")
    errors.add("PractitionerRole.code", f"a coding from {STAFF_ROLE.url} is required", "required")
    return None, ""
