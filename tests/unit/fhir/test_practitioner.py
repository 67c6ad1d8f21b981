from __future__ import annotations

from datetime import UTC, datetime

from fhir_adapters.codesystems import STAFF_ROLE
from fhir_adapters.practitioner import (
    practitioner_from_fhir,
    practitioner_role_to_fhir,
    practitioner_to_fhir,
)
from fhir_adapters.records import PractitionerRecord
from pathways.people import Role
from tests.unit.fhir.helpers import errors_of, reparse

NURSE = PractitionerRecord(
    id=3,
    name="Anne Vestergaard",
    organisation_id=12,
    role=Role.DISCHARGE_NURSE,
    title="Sygeplejerske",
    phone="+45 7010 2030",
    email="anne@region.dk",
    version=2,
    updated_at=datetime(2026, 11, 26, tzinfo=UTC),
)


def test_practitioner_and_role_round_trip() -> None:
    person = reparse(practitioner_to_fhir(NURSE))
    role = reparse(practitioner_role_to_fhir(NURSE))
    assert person["name"] == [
        {"use": "official", "text": "Anne Vestergaard", "family": "Vestergaard", "given": ["Anne"]}
    ]
    assert role["practitioner"] == {"reference": "Practitioner/3", "display": "Anne Vestergaard"}
    assert role["organization"] == {"reference": "Organization/12"}
    assert role["code"][0] == {
        "coding": [STAFF_ROLE.coding(Role.DISCHARGE_NURSE)],
        "text": "Sygeplejerske",
    }
    assert practitioner_from_fhir(person, role) == NURSE


def test_a_name_without_text_and_an_inactive_gp() -> None:
    person = {
        "resourceType": "Practitioner",
        "active": False,
        "name": [{"family": "Læge", "given": ["Abraham"]}],
    }
    role = {
        "resourceType": "PractitionerRole",
        "organization": {"reference": "Organization/30"},
        "code": [{"coding": [{"system": STAFF_ROLE.url, "code": "gp"}]}],
    }
    record = practitioner_from_fhir(person, role)
    assert (record.name, record.role, record.active, record.id) == (
        "Abraham Læge",
        Role.GP,
        False,
        None,
    )


def test_errors_name_both_resources() -> None:
    person = reparse(practitioner_to_fhir(NURSE))
    role = reparse(practitioner_role_to_fhir(NURSE))
    person["telecom"][1]["value"] = "not-an-email"
    role["practitioner"] = {"reference": "Practitioner/4"}
    role["code"][0]["coding"][0]["code"] = "wizard"
    assert errors_of(lambda pair: practitioner_from_fhir(*pair), (person, role)) == {
        "PractitionerRole.practitioner.reference": "invariant",
        "PractitionerRole.code[0].coding[0].code": "code-invalid",
    }
    role["code"][0]["coding"][0]["code"] = "discharge-nurse"
    role["practitioner"] = {"reference": "Practitioner/3"}
    del role["organization"]
    assert errors_of(lambda pair: practitioner_from_fhir(*pair), (person, role)) == {
        "PractitionerRole.organization": "required",
        "Practitioner.telecom[1].value": "invalid",
    }
