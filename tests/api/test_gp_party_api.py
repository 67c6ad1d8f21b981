"""Issue 18.1 over REST: PUT /patients/{id}/general-practitioner (If-Match, problem details), the plans
that follow it, and POST /plans/{id}/missing-party with the reasons shown in the plan JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from coordinator.patients.models import Patient
from tests import scenario as sc
from tests.api.conftest import Login

PROBLEM = "application/problem+json"
NO_GP = "patienten har ingen egen læge"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    return response.json  # type: ignore[no-any-return]


def test_the_gp_is_set_with_if_match_and_the_draft_follows(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    plan = nurse.post("/api/v1/plans", json={"pathway_id": world.pathway.id}).json
    read = nurse.get(f"/api/v1/patients/{world.patient.id}")
    assert (read.headers["ETag"], read.json["version"]) == ('"1"', 1)
    url = f"/api/v1/patients/{world.patient.id}/general-practitioner"
    body = {"gp_organisation_id": world.other_gp_clinic.id}
    _problem(nurse.put(url, json=body), 428)
    _problem(nurse.put(url, json=body, headers={"If-Match": '"9"'}), 412)
    changed = nurse.put(url, json=body, headers={"If-Match": read.headers["ETag"]})
    assert changed.status_code == 200, changed.json
    assert changed.headers["ETag"] == '"2"'
    assert (changed.json["gp_organisation_id"], changed.json["gp_absent_reason"]) == (
        world.other_gp_clinic.id,
        "",
    )
    parties = nurse.get(f"/api/v1/plans/{plan['id']}").json["participants"]
    assert [(p["role"], p["organisation_id"]) for p in parties][-1] == (
        "gp",
        world.other_gp_clinic.id,
    )


def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    url = f"/api/v1/patients/{world.patient.id}/general-practitioner"
    tag = {"If-Match": '"1"'}
    not_gp = _problem(nurse.put(url, json={"gp_organisation_id": world.ward.id}, headers=tag), 422)
    assert not_gp["errors"] == [
        {
            "field": "gp_organisation_id",
            "message": f"organisation {world.ward.id} is not a known GP clinic",
            "code": "unknown",
        }
    ]
    no_reason = _problem(nurse.put(url, json={"gp_organisation_id": None}, headers=tag), 422)
    assert [e["field"] for e in no_reason["errors"]] == ["reason"]
    missing = _problem(nurse.put(url, json={}, headers=tag), 422)
    assert [e["field"] for e in missing["errors"]] == ["gp_organisation_id"]
    forbidden = login(world.other_nurse).put(
        url, json={"gp_organisation_id": world.other_gp_clinic.id}, headers=tag
    )
    _problem(forbidden, 403)
    session.expire_all()
    patient = session.get(Patient, world.patient.id)
    assert patient is not None
    assert (patient.gp_organisation_id, patient.version) == (world.gp_clinic.id, 1)


def test_cleared_with_a_reason_the_plan_shows_it_and_is_agreed_without_the_gp(
    world: sc.Scenario, login: Login
) -> None:
    nurse, case_worker = login(world.nurse), login(world.case_worker)
    created = nurse.post("/api/v1/plans", json={"pathway_id": world.pathway.id})
    plan_url = f"/api/v1/plans/{created.json['id']}"
    tag = nurse.patch(
        plan_url,
        json={"sections": sc.COMPLETE_SECTIONS},
        headers={"If-Match": created.headers["ETag"]},
    ).headers["ETag"]
    cleared = nurse.put(
        f"/api/v1/patients/{world.patient.id}/general-practitioner",
        json={"gp_organisation_id": None, "reason": NO_GP},
        headers={"If-Match": '"1"'},
    )
    assert cleared.status_code == 200, cleared.json
    assert (cleared.json["gp_organisation_id"], cleared.json["gp_absent_reason"]) == (None, NO_GP)
    plan = nurse.get(plan_url)
    assert plan.json["missing_party_reasons"] == {"gp": NO_GP}
    assert [p["role"] for p in plan.json["participants"]] == ["patient", "ward", "municipality"]
    proposed = nurse.post(
        f"{plan_url}/propose", json={}, headers={"If-Match": plan.headers["ETag"]}
    )
    assert proposed.status_code == 200, proposed.json
    tag = proposed.headers["ETag"]
    parts = {p["role"]: p["id"] for p in proposed.json["participants"]}
    for client, role in ((nurse, "patient"), (case_worker, "municipality")):
        answered = client.post(
            f"{plan_url}/responses",
            headers={"If-Match": tag},
            json={"participant_id": parts[role], "response": "accepted"},
        )
        assert answered.status_code == 200, answered.json
        tag = answered.headers["ETag"]
    assert (answered.json["status"], answered.json["missing_party_reasons"]) == (
        "agreed",
        {"gp": NO_GP},
    )


def test_the_ward_records_why_a_party_is_missing(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    created = nurse.post("/api/v1/plans", json={"pathway_id": world.pathway.id})
    url = f"/api/v1/plans/{created.json['id']}/missing-party"
    tag = {"If-Match": created.headers["ETag"]}
    present = _problem(nurse.post(url, json={"role": "gp", "reason": NO_GP}, headers=tag), 422)
    assert present["errors"] == [
        {"field": "role", "message": "the plan has a gp party", "code": "business-rule"}
    ]
    _problem(nurse.post(url, json={"role": "gp", "reason": NO_GP}), 428)
    bad_role = _problem(nurse.post(url, json={"role": "doctor", "reason": "x"}, headers=tag), 422)
    assert [e["field"] for e in bad_role["errors"]] == ["role"]
