from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from fhir_adapters.codesystems import ORGANISATION_KIND
from fhir_adapters.organization import organization_from_fhir, organization_to_fhir
from fhir_adapters.records import OrganisationRecord
from pathways.identifiers import (
    GLN_LEGACY_SYSTEM,
    GLN_SYSTEM,
    MUNICIPALITY_SYSTEM,
    REGION_SYSTEM,
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
)
from pathways.organisations import OrganisationKind, new_organisation
from tests.unit.fhir.helpers import errors_of, reparse, systems
from tests.unit.fhir.strategies import organisation_records

WARD = OrganisationRecord(
    organisation=new_organisation(
        name="Afsnit P1",
        kind="ward",
        sor_code="123456789012",
        gln="5790000123452",
        parent_kind=OrganisationKind.PSYCHIATRIC_CENTRE,
    ),
    id=12,
    version=1,
    parent_id=3,
    email="p1@region.dk",
)


def _ward() -> dict[str, Any]:
    return reparse(organization_to_fhir(WARD))


@settings(max_examples=75, deadline=None)
@given(organisation_records())
def test_round_trip_is_lossless(record: OrganisationRecord) -> None:
    data = reparse(organization_to_fhir(record))
    assert organization_from_fhir(data) == record
    org = record.organisation
    expected = {
        SOR_SYSTEM: org.sor_code,
        YDERNUMMER_SYSTEM: org.ydernummer,
        MUNICIPALITY_SYSTEM: org.kommunekode,
        REGION_SYSTEM: org.region_code,
        GLN_SYSTEM: org.gln,
    }
    assert systems(data) == {system for system, value in expected.items() if value}


def test_dk_core_identifiers_on_output() -> None:
    data = _ward()
    assert data["identifier"] == [
        {"use": "official", "system": SOR_SYSTEM, "value": "123456789012"},
        {"use": "official", "system": "https://www.gs1.org/gln", "value": "5790000123452"},
    ]
    assert data["partOf"] == {"reference": "Organization/3"}
    assert data["type"][0]["coding"][0]["code"] == "ward"
    assert data["telecom"] == [{"system": "email", "value": "p1@region.dk"}]


def test_municipality_and_region_codes() -> None:
    municipality = OrganisationRecord(
        organisation=new_organisation(name="Aarhus Kommune", kind="municipality", kommunekode="751")
    )
    region = OrganisationRecord(
        organisation=new_organisation(name="Region Hovedstaden", kind="region", region_code="DK-84")
    )
    assert reparse(organization_to_fhir(municipality))["identifier"] == [
        {"system": MUNICIPALITY_SYSTEM, "value": "0751"}
    ]
    assert reparse(organization_to_fhir(region))["identifier"] == [
        {"system": REGION_SYSTEM, "value": "DK-84"}
    ]


def test_legacy_gln_system_is_accepted_and_ydernummer_padded() -> None:
    data = {
        "resourceType": "Organization",
        "identifier": [
            {"system": YDERNUMMER_SYSTEM, "value": "77410"},
            {"system": GLN_LEGACY_SYSTEM, "value": "5790000123452"},
            {"system": "urn:oid:2.16.840.1.113883.2.24.1.1", "value": "cvr-ignored"},
        ],
        "type": [{"coding": [ORGANISATION_KIND.coding(OrganisationKind.GP_CLINIC)]}],
        "name": "Lægerne Hasseris Bymidte",
    }
    record = organization_from_fhir(data)
    assert record.organisation.ydernummer == "077410"
    assert record.organisation.gln == "5790000123452"
    out = reparse(organization_to_fhir(record))
    assert GLN_LEGACY_SYSTEM not in systems(out)
    assert GLN_SYSTEM in systems(out)


def test_identifier_rules_name_the_identifier() -> None:
    data = _ward()
    data["identifier"] = [
        {"system": SOR_SYSTEM, "value": "1234567890"},  # 10 digits: too short
        {"system": GLN_SYSTEM, "value": "5790000123453"},  # wrong check digit
        {"system": MUNICIPALITY_SYSTEM, "value": "0999"},
        {"system": REGION_SYSTEM, "value": "DK-99"},
    ]
    assert errors_of(organization_from_fhir, data) == {
        "Organization.identifier[0].value": "invalid",
        "Organization.identifier[1].value": "invalid",
        "Organization.identifier[2].value": "invalid",
        "Organization.identifier[3].value": "invalid",
    }


def test_a_ward_needs_a_sor_code() -> None:
    data = _ward()
    data["identifier"] = [{"system": GLN_SYSTEM, "value": "5790000123452"}]
    assert errors_of(organization_from_fhir, data) == {"Organization.identifier": "required"}


def test_duplicate_identifier() -> None:
    data = _ward()
    data["identifier"].append({"system": GLN_LEGACY_SYSTEM, "value": "5790000123452"})
    assert errors_of(organization_from_fhir, data) == {"Organization.identifier[2]": "structure"}


def test_kind_is_required_and_must_be_known() -> None:
    data = _ward()
    del data["type"]
    assert errors_of(organization_from_fhir, data) == {"Organization.type": "required"}
    data["type"] = [{"coding": [{"system": ORGANISATION_KIND.url, "code": "hospital"}]}]
    assert errors_of(organization_from_fhir, data) == {
        "Organization.type[0].coding[0].code": "code-invalid"
    }


def test_hierarchy_is_checked_when_the_parent_kind_is_known() -> None:
    data = _ward()
    del data["extension"]
    # unknown parent kind: accepted, the use case checks the hierarchy when it resolves partOf
    assert organization_from_fhir(data).organisation.parent_kind is None
    # a lookup says the parent is a region: a ward must hang under a psychiatric centre
    assert errors_of(
        lambda d: organization_from_fhir(d, parent_kind_of=lambda _: OrganisationKind.REGION), data
    ) == {"Organization.partOf": "invalid"}
    assert errors_of(lambda d: organization_from_fhir(d, parent_kind_of=lambda _: None), data) == {
        "Organization.partOf.reference": "not-found"
    }
    found = organization_from_fhir(
        data, parent_kind_of=lambda _: OrganisationKind.PSYCHIATRIC_CENTRE
    )
    assert found.organisation.parent_kind is OrganisationKind.PSYCHIATRIC_CENTRE
    # a ward without partOf
    del data["partOf"]
    assert errors_of(organization_from_fhir, data) == {"Organization.partOf": "invalid"}


def test_a_region_has_no_parent() -> None:
    data = reparse(
        organization_to_fhir(
            OrganisationRecord(
                organisation=new_organisation(name="Region", kind="region", region_code="DK-81"),
                parent_id=4,
            )
        )
    )
    assert errors_of(organization_from_fhir, data) == {"Organization.partOf": "invalid"}
