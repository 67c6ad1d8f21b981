from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings

from fhir_adapters.patient import MUNICIPALITY_EXTENSION, patient_from_fhir, patient_to_fhir
from fhir_adapters.records import PatientRecord
from pathways.identifiers import CPR_SYSTEM, MUNICIPALITY_SYSTEM, X_ECPR_SYSTEM
from pathways.patients import new_patient
from tests.unit.fhir.helpers import errors_of, reparse, systems
from tests.unit.fhir.strategies import patient_records

RECORD = PatientRecord(
    patient=new_patient(
        given_name="Anne Marie",
        family_name="Testesen",
        kommunekode="101",
        cpr="0101901234",
    ),
    id=5,
    version=2,
    updated_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    gp_clinic_id=7,
    municipality_id=9,
)


def _json() -> dict[str, Any]:
    return reparse(patient_to_fhir(RECORD))


@settings(max_examples=75, deadline=None)
@given(patient_records())
def test_round_trip_is_lossless(record: PatientRecord) -> None:
    data = reparse(patient_to_fhir(record))
    assert patient_from_fhir(data) == record
    assert systems(data) <= {CPR_SYSTEM, X_ECPR_SYSTEM}
    assert (CPR_SYSTEM in systems(data)) == (record.patient.cpr is not None)
    coding = data["address"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]
    assert (coding["system"], coding["code"]) == (
        MUNICIPALITY_SYSTEM,
        record.patient.kommunekode.zfill(4),
    )


def test_dk_core_shape() -> None:
    data = _json()
    assert data["identifier"] == [
        {"use": "official", "system": "urn:oid:1.2.208.176.1.2", "value": "0101901234"}
    ]
    assert data["birthDate"] == "1990-01-01"
    assert data["name"][0] == {
        "use": "official",
        "text": "Anne Marie Testesen",
        "family": "Testesen",
        "given": ["Anne Marie"],
    }
    assert data["address"][0]["district"] == "København"
    assert data["address"][0]["extension"][0]["url"] == MUNICIPALITY_EXTENSION
    assert data["generalPractitioner"] == [{"reference": "Organization/7"}]
    assert data["meta"] == {"versionId": "2", "lastUpdated": "2026-11-26T09:30:00Z"}
    assert "security" not in data["meta"]


def test_protected_patient_is_restricted_and_x_ecpr_is_temp() -> None:
    protected = PatientRecord(
        patient=new_patient(
            given_name="Ukendt",
            family_name="Madsen",
            kommunekode="0751",
            replacement_cpr="0703921VJ4",
            is_protected=True,
        )
    )
    data = reparse(patient_to_fhir(protected))
    assert data["meta"]["security"][0]["code"] == "R"
    assert data["identifier"] == [
        {"use": "temp", "system": "urn:oid:1.2.208.176.1.6.1.1", "value": "0703921VJ4"}
    ]
    assert "birthDate" not in data
    assert "id" not in data
    assert patient_from_fhir(data) == protected


def test_a_dk_core_example_without_our_extensions_parses() -> None:
    """Shaped like DK-core's Patient 'Confidential': security label without system, district only."""
    data = {
        "resourceType": "Patient",
        "meta": {"security": [{"code": "R", "display": "Restricted"}]},
        "identifier": [{"system": CPR_SYSTEM, "value": "150277-1234"}],
        "name": [{"use": "official", "family": "Berggren", "given": ["Ruddi", "Test"]}],
        "birthDate": "1977-02-15",
        "address": [{"use": "home", "city": "Kolding", "district": "Kolding"}],
    }
    record = patient_from_fhir(data)
    assert record.patient.cpr == "1502771234"
    assert record.patient.given_name == "Ruddi Test"
    assert record.patient.kommunekode == "621"
    assert record.patient.is_protected
    assert record.id is None


def test_cpr_without_modulus_11_is_accepted() -> None:
    data = _json()
    data["identifier"][0]["value"] = "0101901235"  # a valid date; no mod-11 rule since 2007
    data.pop("birthDate")
    assert patient_from_fhir(data).patient.cpr == "0101901235"


def test_invalid_cpr_date_is_reported_at_the_identifier_value() -> None:
    data = _json()
    data["identifier"] = [
        {"system": "urn:oid:9.9", "value": "x"},
        {"system": CPR_SYSTEM, "value": "3102901234"},
    ]
    assert errors_of(patient_from_fhir, data) == {"Patient.identifier[1].value": "invalid"}


def test_invalid_x_ecpr_and_missing_name_parts() -> None:
    data = _json()
    data["identifier"] = [{"system": X_ECPR_SYSTEM, "value": "3002921VJ4"}]
    data["name"] = [{"use": "usual", "family": "X"}, {"use": "official", "given": ["Y"]}]
    assert errors_of(patient_from_fhir, data) == {
        "Patient.identifier[0].value": "invalid",
        "Patient.name[1].family": "required",
    }


def test_no_dk_identifier_at_all() -> None:
    data = _json()
    data["identifier"] = [{"system": "urn:oid:9.9", "value": "x"}]
    assert errors_of(patient_from_fhir, data) == {"Patient.identifier": "required"}


def test_unknown_kommunekode_points_at_the_coding() -> None:
    data = _json()
    data["address"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = "0999"
    path = "Patient.address[0].extension[0].valueCodeableConcept.coding[0].code"
    assert errors_of(patient_from_fhir, data) == {path: "invalid"}


def test_missing_municipality() -> None:
    data = _json()
    del data["address"]
    assert errors_of(patient_from_fhir, data) == {"Patient.address": "required"}


def test_birth_date_must_match_the_cpr_number() -> None:
    data = _json()
    data["birthDate"] = "1990-01-02"
    assert errors_of(patient_from_fhir, data) == {"Patient.birthDate": "invariant"}


def test_gp_must_be_a_clinic_reference() -> None:
    data = _json()
    data["generalPractitioner"] = [{"reference": "Practitioner/3"}]
    assert errors_of(patient_from_fhir, data) == {
        "Patient.generalPractitioner[0].reference": "value"
    }


def test_structural_errors_are_fhirpath_expressions() -> None:
    data = _json()
    data["identifier"][0]["value"] = 101901234
    data["unknownElement"] = True
    data["meta"]["lastUpdated"] = "yesterday"
    assert errors_of(patient_from_fhir, data) == {
        "Patient.identifier[0].value": "structure",
        "Patient.unknownElement": "structure",
        "Patient.meta.lastUpdated": "value",
    }


def test_wrong_or_missing_resource_type_and_non_objects() -> None:
    data = _json()
    data["resourceType"] = "Organization"
    assert errors_of(patient_from_fhir, data) == {"Patient.resourceType": "invalid"}
    del data["resourceType"]
    assert errors_of(patient_from_fhir, data) == {"Patient.resourceType": "required"}
    assert errors_of(patient_from_fhir, ["not", "a", "resource"]) == {"Patient": "structure"}


def test_ids_are_server_integers() -> None:
    data = copy.deepcopy(_json())
    data["id"] = "abc"
    data["meta"]["versionId"] = "0"
    assert errors_of(patient_from_fhir, data) == {
        "Patient.id": "value",
        "Patient.meta.versionId": "value",
    }
