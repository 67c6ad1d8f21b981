"""Organization <-> OrganisationRecord, with the DK-core organisation identifiers.

- ``identifier`` (DK-core Organization slices): SOR ``urn:oid:1.2.208.176.1.1``, ydernummer
  ``urn:oid:1.2.208.176.1.4`` (6 digits, zero-padded), kommunekode (system = the DK-core municipality
  CodeSystem, 4-digit value ``0101``), region code (system = the DK-core regional subdivision CodeSystem,
  ``DK-84``), GLN with system ``https://www.gs1.org/gln`` and use ``official``. On input the legacy MedCom
  GLN system ``urn:oid:1.3.88`` is accepted too; it is never emitted.
- ``type``: our organisation kind (CodeSystem ``organisation-kind``); ``name``; ``active``; the team inbox
  as ``telecom`` (email).
- ``partOf``: ``Organization/{parent_id}``; the parent's kind rides along as the extension
  ``.../StructureDefinition/organisation-parent-kind`` (valueCoding) so the record round-trips.
  On input the hierarchy rule (a ward belongs to a psychiatric centre, ...) is checked when the parent's
  kind is known: from ``parent_kind_of(parent_id)`` if the caller passes it, else from that extension;
  otherwise the caller's use case checks it when it resolves ``partOf``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fhir.resources.R4B.organization import Organization as FhirOrganization
from pathways.errors import ErrorCollector, ValidationFailed
from pathways.identifiers import (
    GLN_LEGACY_SYSTEM,
    GLN_SYSTEM,
    MUNICIPALITY_SYSTEM,
    REGION_SYSTEM,
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
)
from pathways.organisations import ALLOWED_PARENTS, OrganisationKind, new_organisation

from fhir_adapters.codesystems import ORGANISATION_KIND
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
    single_extension,
)
from fhir_adapters.records import OrganisationRecord

PARENT_KIND_EXTENSION = extension_url("organisation-parent-kind")

# identifier system -> the Organisation field it fills
_SLOTS = {
    SOR_SYSTEM: "sor_code",
    YDERNUMMER_SYSTEM: "ydernummer",
    MUNICIPALITY_SYSTEM: "kommunekode",
    REGION_SYSTEM: "region_code",
    GLN_SYSTEM: "gln",
    GLN_LEGACY_SYSTEM: "gln",
}

FIELD_PATHS = {
    "name": "Organization.name",
    "kind": "Organization.type",
    "parent": "Organization.partOf",
    "sor_code": "Organization.identifier",
    "ydernummer": "Organization.identifier",
    "kommunekode": "Organization.identifier",
    "region_code": "Organization.identifier",
    "gln": "Organization.identifier",
}


def organization_to_fhir(record: OrganisationRecord) -> FhirOrganization:
    org = record.organisation
    identifiers: list[JSON] = []
    if org.sor_code:
        identifiers.append({"use": "official", "system": SOR_SYSTEM, "value": org.sor_code})
    if org.ydernummer:
        identifiers.append({"system": YDERNUMMER_SYSTEM, "value": org.ydernummer})
    if org.kommunekode:
        identifiers.append({"system": MUNICIPALITY_SYSTEM, "value": org.kommunekode.zfill(4)})
    if org.region_code:
        identifiers.append({"system": REGION_SYSTEM, "value": org.region_code.value})
    if org.gln:
        identifiers.append({"use": "official", "system": GLN_SYSTEM, "value": org.gln})
    extension: list[JSON] = []
    if org.parent_kind is not None:
        extension.append(
            {"url": PARENT_KIND_EXTENSION, "valueCoding": ORGANISATION_KIND.coding(org.parent_kind)}
        )
    body = compact(
        {
            "resourceType": "Organization",
            "id": None if record.id is None else str(record.id),
            "meta": meta(record.version, record.updated_at),
            "extension": extension,
            "identifier": identifiers,
            "active": record.active,
            "type": [{"coding": [ORGANISATION_KIND.coding(org.kind)]}],
            "name": org.name,
            "telecom": [{"system": "email", "value": record.email}] if record.email else [],
            "partOf": (
                reference("Organization", record.parent_id)
                if record.parent_id is not None
                else None
            ),
        }
    )
    return build(FhirOrganization, body)


def organization_from_fhir(
    data: object,
    *,
    parent_kind_of: Callable[[int], OrganisationKind | None] | None = None,
) -> OrganisationRecord:
    """An Organization as an OrganisationRecord; raises ValidationFailed naming FHIRPath expressions.

    ``parent_kind_of(parent_id)`` (optional) looks up the parent's kind; returning None means the parent does
    not exist, reported at ``Organization.partOf.reference``.
    """
    res = parse_resource(data, FhirOrganization)
    errors = ErrorCollector()
    rid, version, updated = read_identity(res, "Organization", errors)
    paths = dict(FIELD_PATHS)
    values = _read_identifiers(res, paths, errors)
    kind, kind_reported = _read_kind(res, paths, errors)
    parent_id: int | None = None
    if "partOf" in res:
        ref = parse_reference_int(res["partOf"], ("Organization",), "Organization.partOf", errors)
        parent_id = None if ref is None else ref[1]
    parent_kind, known = _read_parent_kind(res, parent_id, parent_kind_of, errors)
    stand_in = parent_kind
    if kind is not None and "partOf" in res and not known:
        # The parent's kind is unknown here: check everything else against a permitted parent kind (a
        # top-level kind has none, so a partOf on a region is still reported).
        stand_in = next(
            (k for k in ALLOWED_PARENTS[kind] if k is not None), OrganisationKind.REGION
        )
    organisation = None
    try:
        organisation = new_organisation(
            name=res.get("name"),
            kind=kind.value if kind is not None else None,
            parent_kind=stand_in,
            **values,
        )
    except ValidationFailed as exc:
        for error in exc.errors:
            if not (error.field == "kind" and kind_reported):
                errors.add(paths.get(error.field, "Organization"), error.message, error.code)
    errors.raise_if_any()
    assert organisation is not None  # new_organisation raised otherwise
    telecom = res.get("telecom", [])
    email = next((t.get("value", "") for t in telecom if t.get("system") == "email"), "")
    return OrganisationRecord(
        organisation=replace(organisation, parent_kind=parent_kind),
        id=rid,
        version=version,
        updated_at=updated,
        parent_id=parent_id,
        active=res.get("active", True),
        email=email,
    )


def _read_identifiers(res: JSON, paths: dict[str, str], errors: ErrorCollector) -> dict[str, Any]:
    values: dict[str, Any] = {}
    seen: set[str] = set()
    for i, ident in enumerate(res.get("identifier", [])):
        system = ident.get("system", "")
        slot = _SLOTS.get(system)
        if slot is None:
            continue  # CVR, KOMBIT and local identifiers are not ours to keep
        where = f"Organization.identifier[{i}]"
        if slot in seen:
            errors.add(
                where, f"only one {slot.replace('_', ' ')} identifier is allowed", "structure"
            )
            continue
        seen.add(slot)
        paths[slot] = f"{where}.value"
        if "value" not in ident:
            errors.add(f"{where}.value", "the identifier has no value", "required")
            continue
        values[slot] = ident["value"]
    return values


def _read_kind(
    res: JSON, paths: dict[str, str], errors: ErrorCollector
) -> tuple[OrganisationKind | None, bool]:
    """(kind, whether a problem with it was already reported)."""
    for t, concept in enumerate(res.get("type", [])):
        for where, coding in codings(concept, ORGANISATION_KIND.url, f"Organization.type[{t}]"):
            paths["kind"] = f"{where}.code"
            kind = ORGANISATION_KIND.member(coding.get("code"))
            if kind is None:
                errors.add(
                    f"{where}.code",
                    f"unknown organisation kind; known: {', '.join(ORGANISATION_KIND.codes)}",
                    "code-invalid",
                )
                return None, True
            return kind, False
    errors.add(
        "Organization.type",
        f"a type coding from {ORGANISATION_KIND.url} is required",
        "required",
    )
    return None, True


def _read_parent_kind(
    res: JSON,
    parent_id: int | None,
    parent_kind_of: Callable[[int], OrganisationKind | None] | None,
    errors: ErrorCollector,
) -> tuple[OrganisationKind | None, bool]:
    """(the parent's kind, whether it is known). Without partOf the parent kind is known to be None."""
    if parent_id is None:
        return None, "partOf" not in res
    if parent_kind_of is not None:
        kind = parent_kind_of(parent_id)
        if kind is None:
            errors.add(
                "Organization.partOf.reference",
                f"Organization/{parent_id} does not exist",
                "not-found",
            )
        return kind, kind is not None
    found = single_extension(res, PARENT_KIND_EXTENSION, "Organization", errors)
    if found is None:
        return None, False
    where, ext = found
    kind = ORGANISATION_KIND.member((ext.get("valueCoding") or {}).get("code"))
    if kind is None:
        errors.add(f"{where}.valueCoding.code", "unknown organisation kind", "code-invalid")
        return None, False
    return kind, True
