"""The plans API over HTTP: happy path, every error class as RFC 9457 problem details, ETag/If-Match."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from coordinator.plans.models import Plan
from pathways.audit import AuditOutcome
from tests import scenario as sc
from tests.api.conftest import Login

PROBLEM = "application/problem+json"


def _create(client: FlaskClient, world: sc.Scenario) -> tuple[dict[str, Any], str]:
    response = client.post("/api/v1/plans", json={"pathway_id": world.pathway.id})
    assert response.status_code == 201, response.json
    return response.json, response.headers["ETag"]


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    body = response.json
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    return body


def test_create_read_edit_with_etags(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    plan, tag = _create(nurse, world)
    assert plan["status"] == "draft"
    assert [p["role"] for p in plan["participants"]] == ["patient", "ward", "municipality", "gp"]
    read = nurse.get(f"/api/v1/plans/{plan['id']}")
    assert (read.status_code, read.headers["ETag"]) == (200, tag)
    edited = nurse.patch(
        f"/api/v1/plans/{plan['id']}",
        json={"sections": sc.COMPLETE_SECTIONS},
        headers={"If-Match": tag},
    )
    assert edited.status_code == 200, edited.json
    assert edited.headers["ETag"] != tag
    assert edited.json["current_version_number"] == 2
    assert edited.json["sections"]["crisis_plan"]["call_night"] == "1813"
    versions = nurse.get(f"/api/v1/plans/{plan['id']}/versions").json
    assert [v["number"] for v in versions] == [1, 2]
    diff = nurse.get(f"/api/v1/plans/{plan['id']}/diff?from=1&to=2").json
    assert {
        "section": "housing",
        "field": "text",
        "before": None,
        "after": "Egen lejlighed",
    } in diff["changes"]


def test_if_match_missing_or_stale(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    plan, tag = _create(nurse, world)
    url = f"/api/v1/plans/{plan['id']}"
    _problem(nurse.patch(url, json={"sections": {}}), 428)
    nurse.patch(url, json={"sections": {"housing": {"text": "a"}}}, headers={"If-Match": tag})
    stale = _problem(
        nurse.patch(url, json={"sections": {"housing": {"text": "b"}}}, headers={"If-Match": tag}),
        412,
    )
    assert "reload" in stale["detail"]
    assert nurse.get(url).json["sections"]["housing"] == {"text": "a"}  # no lost update


def test_validation_errors_name_the_fields(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    plan, tag = _create(nurse, world)
    bad = _problem(
        nurse.patch(
            f"/api/v1/plans/{plan['id']}",
            headers={"If-Match": tag},
            json={"sections": {"housing": {"txt": "x"}, "first_follow_up": {"date": "snart"}}},
        ),
        422,
    )
    assert {e["field"] for e in bad["errors"]} == {
        "sections.housing.txt",
        "sections.first_follow_up.date",
    }
    missing = _problem(nurse.post("/api/v1/plans", json={}), 422)
    assert [e["field"] for e in missing["errors"]] == ["pathway_id"]
    incomplete = _problem(
        nurse.post(f"/api/v1/plans/{plan['id']}/propose", json={}, headers={"If-Match": tag}), 422
    )
    assert "sections.treatment" in {e["field"] for e in incomplete["errors"]}


def test_lifecycle_over_http(world: sc.Scenario, login: Login, session: Session) -> None:
    nurse, case_worker, gp = login(world.nurse), login(world.case_worker), login(world.gp)
    plan, tag = _create(nurse, world)
    url = f"/api/v1/plans/{plan['id']}"
    tag = nurse.patch(
        url, json={"sections": sc.COMPLETE_SECTIONS}, headers={"If-Match": tag}
    ).headers["ETag"]
    proposed = nurse.post(f"{url}/propose", json={}, headers={"If-Match": tag})
    assert proposed.json["status"] == "proposed"
    parts = {p["role"]: p["id"] for p in proposed.json["participants"]}
    tag = proposed.headers["ETag"]
    for client, role in ((nurse, "patient"), (case_worker, "municipality"), (gp, "gp")):
        answered = client.post(
            f"{url}/responses",
            headers={"If-Match": tag},
            json={"participant_id": parts[role], "response": "accepted"},
        )
        assert answered.status_code == 200, answered.json
        tag = answered.headers["ETag"]
    assert answered.json["status"] == "agreed"
    conflict = _problem(
        nurse.post(f"{url}/withdrawal", headers={"If-Match": tag}, json={"reason": "x"}), 409
    )
    assert "cannot go from 'agreed' to 'withdrawn'" in conflict["detail"]


def test_answering_for_another_organisation_is_forbidden_and_audited(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    plan, tag = _create(nurse, world)
    url = f"/api/v1/plans/{plan['id']}"
    tag = nurse.patch(
        url, json={"sections": sc.COMPLETE_SECTIONS}, headers={"If-Match": tag}
    ).headers["ETag"]
    proposed = nurse.post(f"{url}/propose", json={}, headers={"If-Match": tag})
    municipality = next(
        p["id"] for p in proposed.json["participants"] if p["role"] == "municipality"
    )
    refused = login(world.gp).post(
        f"{url}/responses",
        headers={"If-Match": proposed.headers["ETag"]},
        json={"participant_id": municipality, "response": "accepted"},
    )
    _problem(refused, 403)
    denied = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.outcome == AuditOutcome.DENIED)
    ).all()
    assert [(e.actor_id, e.patient_id) for e in denied] == [(world.gp.id, world.patient.id)]
    stranger = _problem(login(world.other_case_worker).get(url), 403)
    unknown = _problem(login(world.other_case_worker).get("/api/v1/patients/999999/plans"), 403)
    assert stranger["detail"] == unknown["detail"] == "you have no care relation to this patient"


def test_unauthenticated_unknown_and_wrong_media_type(
    world: sc.Scenario, login: Login, app: Flask
) -> None:
    anonymous = app.test_client()
    body = _problem(anonymous.get("/api/v1/plans/1"), 401)
    assert body["type"] == "/api/v1/problems/unauthenticated"
    assert anonymous.get("/api/v1/plans/1").headers["WWW-Authenticate"].startswith("Bearer")
    _problem(login(world.nurse).get("/api/v1/plans/424242"), 403)  # no oracle for plan ids
    _problem(
        login(world.nurse).post(
            "/api/v1/plans", data="pathway_id=1", content_type="application/x-www-form-urlencoded"
        ),
        415,
    )
    not_allowed = login(world.nurse).delete("/api/v1/plans/1")
    _problem(not_allowed, 405)
    assert "GET" in not_allowed.headers["Allow"]


def test_nothing_is_written_when_a_request_fails(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    _create(nurse, world)
    second_open_plan = nurse.post("/api/v1/plans", json={"pathway_id": world.pathway.id})
    _problem(second_open_plan, 409)
    assert session.scalar(sa.select(sa.func.count(Plan.id))) == 1
