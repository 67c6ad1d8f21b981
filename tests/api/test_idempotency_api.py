"""Idempotency-Key on POST: a retried request gets the first answer and changes nothing."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.contacts.models import ContactAssignment
from coordinator.plans.models import Plan
from tests import scenario as sc
from tests.api.conftest import Login


def test_same_key_same_body_returns_the_first_answer(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    headers = {"Idempotency-Key": "create-plan-1"}
    first = nurse.post("/api/v1/plans", json={"pathway_id": world.pathway.id}, headers=headers)
    again = nurse.post("/api/v1/plans", json={"pathway_id": world.pathway.id}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert (again.headers["Location"], again.headers["ETag"]) == (
        first.headers["Location"],
        first.headers["ETag"],
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (
        session.scalar(sa.select(sa.func.count(Plan.id))) == 1
    )  # without the key the retry would be a 409


def test_same_key_other_body_is_refused(world: sc.Scenario, login: Login, session: Session) -> None:
    client = login(world.case_worker)
    url = f"/api/v1/patients/{world.patient.id}/contacts"
    body = {
        "organisation_id": world.municipality.id,
        "person_id": world.case_worker.id,
        "valid_from": "2026-11-01",
    }
    assert client.post(url, json=body, headers={"Idempotency-Key": "k"}).status_code == 201
    other = client.post(
        url, json={**body, "valid_from": "2027-01-01"}, headers={"Idempotency-Key": "k"}
    )
    assert other.status_code == 422
    assert other.json["errors"][0] == {
        "field": "Idempotency-Key",
        "code": "key-reused",
        "message": "this key was used for a different request; use a new key",
    }
    assert session.scalar(sa.select(sa.func.count(ContactAssignment.id))) == 1


def test_keys_belong_to_their_caller_and_failures_are_not_stored(
    world: sc.Scenario, login: Login
) -> None:
    bad = login(world.nurse).post(
        "/api/v1/plans", json={"pathway_id": 424242}, headers={"Idempotency-Key": "x"}
    )
    assert bad.status_code == 403  # an unknown pathway is refused as someone else's
    good = login(world.nurse).post(
        "/api/v1/plans", json={"pathway_id": world.pathway.id}, headers={"Idempotency-Key": "x"}
    )
    assert good.status_code == 201  # a failed attempt does not burn the key
    other_user = login(world.chief).post(
        "/api/v1/plans", json={"pathway_id": world.pathway.id}, headers={"Idempotency-Key": "x"}
    )
    assert (
        other_user.status_code == 409
    )  # not the nurse's stored answer: a real attempt, and a duplicate
