"""Patient <-> PatientRecord, with the DK-core identifiers.

- ``identifier``: CPR (``urn:oid:1.2.208.176.1.2``, use ``official``) and/or X-eCPR
  (``urn:oid:1.2.208.176.1.6.1.1``, use ``temp``). Other identifiers are ignored on input.
- ``name[0]``: use ``official``, ``family``, ``given`` (our given name(s) as one string), ``text``.
  On input the first ``official`` name (else the first name) is read; several given names are joined.
- ``birthDate``: derived from the CPR number; on input it must agree with the CPR number.
- ``address[0]``: the home municipality as the DK-core extension
  ``http://hl7.dk/fhir/core/StructureDefinition/dk-core-municipalityCodes`` (valueCodeableConcept, code in
  the 4-digit form, e.g. ``0101``), its name in ``district``, and the municipality's Organization row as
  the extension ``.../StructureDefinition/municipality-organization`` (valueReference). Without the DK-core
  extension, a ``district`` that names a municipality is accepted.
- ``generalPractitioner``: ``Organization/{gp_clinic_id}`` (we record the GP clinic, not the doctor). On
  update (``general_practitioner_from_fhir``) the clinic may also be named by its ydernummer
  (``urn:oid:1.2.208.176.1.4``) or SOR code (``urn:oid:1.2.208.176.1.1``) as a logical reference
  (``identifier``), which the caller resolves.
- ``gp-absent-reason`` (valueString, our extension): why the patient has no GP (e.g. none of their own).
- ``meta.security``: v3-Confidentiality ``R`` (restricted) for name and address protection; ``R`` or ``V``
  on input sets it. ``meta.versionId``/``meta.lastUpdated`` carry the row version and update time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.patient import Patient as FhirPatient
from pathways.errors import ErrorCollector, ValidationFailed
from pathways.geography import MUNICIPALITIES
from pathways.identifiers import (
    CPR_SYSTEM,
    MUNICIPALITY_SYSTEM,
    SOR_SYSTEM,
    X_ECPR_SYSTEM,
    YDERNUMMER_SYSTEM,
    municipality,
)
from pathways.patients import new_patient

from fhir_adapters.common import (
    JSON,
    build,
    codings,
    compact,
    extension_url,
    meta,
    parse_reference_int,
    parse_resource,
    read_identity,
    reference,
    remap_errors,
    single_extension,
)
from fhir_adapters.records import PatientRecord

MUNICIPALITY_EXTENSION = "http://hl7.dk/fhir/core/StructureDefinition/dk-core-municipalityCodes"
MUNICIPALITY_ORGANIZATION_EXTENSION = extension_url("municipality-organization")
GP_ABSENT_REASON_EXTENSION = extension_url("gp-absent-reason")
GP_IDENTIFIER_SYSTEMS = (YDERNUMMER_SYSTEM, SOR_SYSTEM)
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
RESTRICTED = {"system": CONFIDENTIALITY_SYSTEM, "code": "R", "display": "restricted"}
_PROTECTED_CODES = frozenset({"R", "V"})
_BY_NAME = {m.name.casefold(): m.code for m in MUNICIPALITIES.values()}

# Domain field names (pathways.patients) as FHIRPath, for errors a use case raises about a patient.
FIELD_PATHS = {
    "cpr": "Patient.identifier",
    "replacement_cpr": "Patient.identifier",
    "given_name": "Patient.name[0].given",
    "family_name": "Patient.name[0].family",
    "kommunekode": "Patient.address[0].extension[0].valueCodeableConcept.coding[0].code",
    "gp": "Patient.generalPractitioner[0]",
    "is_protected": "Patient.meta.security",
}


def patient_to_fhir(record: PatientRecord) -> FhirPatient:
    p = record.patient
    identifiers: list[JSON] = []
    if p.cpr:
        identifiers.append({"use": "official", "system": CPR_SYSTEM, "value": p.cpr})
    if p.replacement_cpr:
        identifiers.append({"use": "temp", "system": X_ECPR_SYSTEM, "value": p.replacement_cpr})
    home = municipality(p.kommunekode)
    address_ext: list[JSON] = [
        {
            "url": MUNICIPALITY_EXTENSION,
            "valueCodeableConcept": {
                "coding": [
                    {
                        "system": MUNICIPALITY_SYSTEM,
                        "code": home.display_code,
                        "display": home.name,
                    }
                ]
            },
        }
    ]
    if record.municipality_id is not None:
        address_ext.append(
            {
                "url": MUNICIPALITY_ORGANIZATION_EXTENSION,
                "valueReference": reference("Organization", record.municipality_id),
            }
        )
    resource_meta = meta(record.version, record.updated_at)
    if p.is_protected:
        resource_meta["security"] = [RESTRICTED]
    body = compact(
        {
            "resourceType": "Patient",
            "id": None if record.id is None else str(record.id),
            "meta": resource_meta,
            "identifier": identifiers,
            "name": [
                compact(
                    {
                        "use": "official",
                        "text": p.display_name.strip(),
                        "family": p.family_name,
                        "given": [p.given_name] if p.given_name else [],
                    }
                )
            ],
            "birthDate": p.birth_date.isoformat() if p.birth_date else None,
            "address": [{"use": "home", "district": home.name, "extension": address_ext}],
            "generalPractitioner": (
                [reference("Organization", record.gp_clinic_id)]
                if record.gp_clinic_id is not None
                else []
            ),
        }
    )
    if record.gp_absent_reason:
        body["extension"] = [
            {"url": GP_ABSENT_REASON_EXTENSION, "valueString": record.gp_absent_reason}
        ]
    return build(FhirPatient, body)


@dataclass(frozen=True, slots=True)
class GeneralPractitioner:
    """What a Patient says of its GP: none (``absent``, with ``reason`` from the gp-absent-reason
    extension), an ``Organization/<id>``, or a clinic named by ydernummer or SOR code (``system``,
    ``value``) for the caller to resolve. ``path`` is the element's FHIRPath."""

    organisation_id: int | None = None
    system: str = ""
    value: str = ""
    reason: str = ""
    path: str = "Patient.generalPractitioner"

    @property
    def absent(self) -> bool:
        return self.organisation_id is None and not self.value


def general_practitioner_from_fhir(data: object) -> GeneralPractitioner:
    """The GP a Patient names (at most one), by literal reference or by identifier; raises
    ValidationFailed naming FHIRPath expressions."""
    res = parse_resource(data, FhirPatient)
    errors = ErrorCollector()
    reason = ""
    found = single_extension(res, GP_ABSENT_REASON_EXTENSION, "Patient", errors)
    if found is not None:
        where, ext = found
        value = ext.get("valueString")
        if not isinstance(value, str):
            errors.add(f"{where}.valueString", "the reason is text (valueString)", "required")
        else:
            reason = value
    elements = res.get("generalPractitioner", [])
    for i in range(1, len(elements)):
        errors.add(
            f"Patient.generalPractitioner[{i}]",
            "at most one GP clinic can be registered",
            "structure",
        )
    gp = GeneralPractitioner(reason=reason)
    if elements:
        gp = _gp_element(elements[0], "Patient.generalPractitioner[0]", reason, errors)
    errors.raise_if_any()
    return gp


def _gp_element(
    element: JSON, where: str, reason: str, errors: ErrorCollector
) -> GeneralPractitioner:
    identifier = element.get("identifier")
    if "reference" not in element and isinstance(identifier, dict):
        system, value = identifier.get("system"), identifier.get("value")
        if system not in GP_IDENTIFIER_SYSTEMS:
            errors.add(
                f"{where}.identifier.system",
                f"name the GP clinic by ydernummer ({YDERNUMMER_SYSTEM}) or SOR code ({SOR_SYSTEM})",
                "code-invalid",
            )
        elif not isinstance(value, str) or not value.strip():
            errors.add(f"{where}.identifier.value", "the identifier has no value", "required")
        else:
            return GeneralPractitioner(
                system=str(system), value=value.strip(), reason=reason, path=where
            )
        return GeneralPractitioner(reason=reason, path=where)
    ref = parse_reference_int(element, ("Organization",), where, errors)
    return GeneralPractitioner(
        organisation_id=None if ref is None else ref[1], reason=reason, path=where
    )


def patient_from_fhir(data: object) -> PatientRecord:
    """A Patient resource as a PatientRecord; raises ValidationFailed naming FHIRPath expressions."""
    res = parse_resource(data, FhirPatient)
    errors = ErrorCollector()
    rid, version, updated = read_identity(res, "Patient", errors)
    values: dict[str, Any] = {}
    paths: dict[str, str] = {}
    _read_identifiers(res, values, paths, errors)
    _read_name(res, values, paths)
    municipality_id = _read_municipality(res, values, paths, errors)
    gp_clinic_id = _read_gp(res, errors)
    protected = any(
        s.get("code") in _PROTECTED_CODES
        and s.get("system", CONFIDENTIALITY_SYSTEM) == CONFIDENTIALITY_SYSTEM
        for s in res.get("meta", {}).get("security", [])
    )
    try:
        patient = new_patient(is_protected=protected, **values)
    except ValidationFailed as exc:
        remap_errors(exc, paths, "Patient", errors)
        errors.raise_if_any()
        raise  # unreachable: remap_errors added at least one error
    if (
        patient.birth_date
        and "birthDate" in res
        and res["birthDate"] != patient.birth_date.isoformat()
    ):
        errors.add(
            "Patient.birthDate",
            f"birthDate {res['birthDate']} does not match the CPR number's birth date",
            "invariant",
        )
    errors.raise_if_any()
    return PatientRecord(
        patient=patient,
        id=rid,
        version=version,
        updated_at=updated,
        gp_clinic_id=gp_clinic_id,
        municipality_id=municipality_id,
    )


def _read_identifiers(
    res: JSON, values: dict[str, Any], paths: dict[str, str], errors: ErrorCollector
) -> None:
    slots = {CPR_SYSTEM: "cpr", X_ECPR_SYSTEM: "replacement_cpr"}
    for i, ident in enumerate(res.get("identifier", [])):
        slot = slots.get(ident.get("system", ""))
        if slot is None:
            continue  # identifiers of other systems are not ours to keep
        where = f"Patient.identifier[{i}]"
        if slot in paths:
            errors.add(
                where, f"only one {slot.replace('_', ' ')} identifier is allowed", "structure"
            )
        elif "value" not in ident:
            errors.add(f"{where}.value", "the identifier has no value", "required")
            paths[slot] = f"{where}.value"
        else:
            values[slot] = ident["value"]
            paths[slot] = f"{where}.value"
    if "cpr" not in paths and "replacement_cpr" not in paths:
        paths["cpr"] = "Patient.identifier"


def _read_name(res: JSON, values: dict[str, Any], paths: dict[str, str]) -> None:
    names = res.get("name", [])
    if not names:
        paths["given_name"] = paths["family_name"] = "Patient.name"
        values["given_name"] = values["family_name"] = None
        return
    n = next((i for i, name in enumerate(names) if name.get("use") == "official"), 0)
    name = names[n]
    values["given_name"] = " ".join(name.get("given", [])) or None
    values["family_name"] = name.get("family")
    paths["given_name"] = f"Patient.name[{n}].given"
    paths["family_name"] = f"Patient.name[{n}].family"


def _read_municipality(
    res: JSON, values: dict[str, Any], paths: dict[str, str], errors: ErrorCollector
) -> int | None:
    paths["kommunekode"] = "Patient.address"
    values["kommunekode"] = None
    addresses = res.get("address", [])
    for a, address in enumerate(addresses):
        where = f"Patient.address[{a}]"
        found = single_extension(address, MUNICIPALITY_EXTENSION, where, errors)
        if found is None:
            continue
        ext_path, ext = found
        concept = ext.get("valueCodeableConcept")
        coded = list(codings(concept, MUNICIPALITY_SYSTEM, f"{ext_path}.valueCodeableConcept"))
        if not coded:
            errors.add(
                f"{ext_path}.valueCodeableConcept",
                f"needs a coding from {MUNICIPALITY_SYSTEM}",
                "code-invalid",
            )
            return None
        coding_path, coding = coded[0]
        values["kommunekode"] = coding.get("code")
        paths["kommunekode"] = f"{coding_path}.code"
        return _read_municipality_org(address, where, errors)
    for a, address in enumerate(
        addresses
    ):  # no DK-core extension: a district naming a municipality
        code = _BY_NAME.get(str(address.get("district", "")).strip().casefold())
        if code is not None:
            values["kommunekode"] = code
            paths["kommunekode"] = f"Patient.address[{a}].district"
            return _read_municipality_org(address, f"Patient.address[{a}]", errors)
    return None


def _read_municipality_org(address: JSON, where: str, errors: ErrorCollector) -> int | None:
    found = single_extension(address, MUNICIPALITY_ORGANIZATION_EXTENSION, where, errors)
    if found is None:
        return None
    path, ext = found
    ref = parse_reference_int(
        ext.get("valueReference"), ("Organization",), f"{path}.valueReference", errors
    )
    return None if ref is None else ref[1]


def _read_gp(res: JSON, errors: ErrorCollector) -> int | None:
    gp: int | None = None
    for i, element in enumerate(res.get("generalPractitioner", [])):
        where = f"Patient.generalPractitioner[{i}]"
        ref = parse_reference_int(element, ("Organization",), where, errors)
        if ref is None:
            continue
        if gp is not None:
            errors.add(where, "at most one GP clinic can be registered", "structure")
            continue
        gp = ref[1]
    return gp
