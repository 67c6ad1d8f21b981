"""Issue 18.1 over FHIR: Patient update of generalPractitioner only (Organization/<id>, ydernummer or SOR
identifier, or none with a reason), other changes refused by FHIRPath, and the reason for a missing GP
shown on the CarePlan."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy.orm import Session

from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from fhir_adapters.careplan import MISSING_PARTY_EXTENSION
from fhir_adapters.patient import GP_ABSENT_REASON_EXTENSION
from pathways.identifiers import SOR_SYSTEM, YDERNUMMER_SYSTEM
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import issues, ok, outcome

NO_GP = "patienten har ingen egen læge"


def _patient(session: Session, world: sc.Scenario) -> Patient:
    session.expire_all()
    patient = session.get(Patient, world.patient.id)
    assert patient is not None
    return patient


def _with_gp(resource: dict[str, Any], gp: dict[str, Any] | None) -> dict[str, Any]:
    changed = copy.deepcopy(resource)
    changed.pop("generalPractitioner", None)
    changed.pop("extension", None)
    if gp is not None:
        changed["generalPractitioner"] = [gp]
    return changed


def test_the_gp_is_changed_by_reference_or_identifier(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    url = f"Patient/{world.patient.id}"
    read = ok(nurse.get(url))
    assert read["meta"]["versionId"] == "1"
    other = {"reference": f"Organization/{world.other_gp_clinic.id}"}
    response = nurse.put(url, _with_gp(read, other), **{"If-Match": 'W/"1"'})
    updated = ok(response)
    assert response.headers["ETag"] == 'W/"2"'
    assert updated["generalPractitioner"] == [other]
    by_yder = {"identifier": {"system": YDERNUMMER_SYSTEM, "value": "12345"}}
    updated = ok(nurse.put(url, _with_gp(updated, by_yder), **{"If-Match": 'W/"2"'}))
    assert updated["generalPractitioner"] == [{"reference": f"Organization/{world.gp_clinic.id}"}]
    assert _patient(session, world).gp_organisation_id == world.gp_clinic.id
    clinic = session.get(Organisation, world.other_gp_clinic.id)
    assert clinic is not None
    clinic.sor_code = "480001000016001"
    session.flush()
    by_sor = {"identifier": {"system": SOR_SYSTEM, "value": "480001000016001"}}
    updated = ok(nurse.put(url, _with_gp(updated, by_sor), **{"If-Match": 'W/"3"'}))
    assert updated["generalPractitioner"] == [other]
    outcome(nurse.put(url, updated), 428, "required")
    outcome(nurse.put(url, _with_gp(updated, other), **{"If-Match": 'W/"1"'}), 412, "conflict")


def test_other_changes_and_unknown_clinics_are_refused_by_fhirpath(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    url = f"Patient/{world.patient.id}"
    read = ok(nurse.get(url))
    other = {"reference": f"Organization/{world.other_gp_clinic.id}"}
    renamed = _with_gp(read, other)
    renamed["name"][0]["family"] = "Anden"
    renamed["name"][0]["text"] = "Mette Anden"
    found = issues(outcome(nurse.put(url, renamed, **{"If-Match": 'W/"1"'}), 422, "business-rule"))
    assert found == {"Patient.name[0].family": "business-rule"}
    unknown = {"identifier": {"system": YDERNUMMER_SYSTEM, "value": "99999"}}
    outcome(
        nurse.put(url, _with_gp(read, unknown), **{"If-Match": 'W/"1"'}),
        422,
        "not-found",
        "Patient.generalPractitioner[0].identifier",
    )
    ward = {"reference": f"Organization/{world.ward.id}"}
    outcome(
        nurse.put(url, _with_gp(read, ward), **{"If-Match": 'W/"1"'}),
        422,
        "not-found",
        "Patient.generalPractitioner[0]",
    )
    outcome(
        nurse.put(url, _with_gp(read, None), **{"If-Match": 'W/"1"'}),
        422,
        "required",
        f"Patient.extension('{GP_ABSENT_REASON_EXTENSION}')",
    )
    strange = {"identifier": {"system": "urn:example", "value": "1"}}
    outcome(
        nurse.put(url, _with_gp(read, strange), **{"If-Match": 'W/"1"'}),
        422,
        "code-invalid",
        "Patient.generalPractitioner[0].identifier.system",
    )
    patient = _patient(session, world)
    assert (patient.gp_organisation_id, patient.family_name, patient.version) == (
        world.gp_clinic.id,
        "Test",
        1,
    )


def test_no_gp_with_a_reason_shows_on_the_patient_and_the_careplan(
    world: sc.Scenario, login: Login
) -> None:
    nurse = login(world.nurse)
    created = nurse.client.post("/api/v1/plans", json={"pathway_id": world.pathway.id}).json
    url = f"Patient/{world.patient.id}"
    cleared = _with_gp(ok(nurse.get(url)), None)
    cleared["extension"] = [{"url": GP_ABSENT_REASON_EXTENSION, "valueString": NO_GP}]
    updated = ok(nurse.put(url, cleared, **{"If-Match": 'W/"1"'}))
    assert "generalPractitioner" not in updated
    assert updated["extension"] == [{"url": GP_ABSENT_REASON_EXTENSION, "valueString": NO_GP}]
    plan = ok(nurse.get(f"CarePlan/{created['id']}"))
    missing = [e for e in plan["extension"] if e["url"] == MISSING_PARTY_EXTENSION]
    assert missing == [
        {
            "url": MISSING_PARTY_EXTENSION,
            "extension": [
                {"url": "role", "valueCode": "gp"},
                {"url": "reason", "valueString": NO_GP},
            ],
        }
    ]
    assert plan["note"][-1] == {"text": f"**Manglende part: Egen læge**\n\n{NO_GP}"}
