"""Token scopes on the REST API: every operation declares the SMART scope of its data (the same names as the
FHIR facade), and a system client is held to it before anything else is looked at; refusals are audited."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coordinator.api.core import Declared
from coordinator.audit.models import AuditEntry
from coordinator.plans.models import Plan
from coordinator.reminders.scan import evaluate_pathways
from pathways.audit import AuditOutcome
from pathways.clock import FixedClock
from pathways.scopes import SCOPE_RESOURCES, parse_scopes
from tests import scenario as sc
from tests.api.conftest import Login
from tests.fhir.support import bearer_token

REST_BLUEPRINTS = (
    "plans",
    "patients",
    "contacts",
    "pathways",
    "emergency",
    "users",
    "organisations",
    "reminders",
    "audit",
    "meetings",
)


def _operations(app: Flask) -> Iterator[tuple[str, str, Declared | None]]:
    """(method, URL rule, declared scope) of every REST operation the app serves."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in REST_BLUEPRINTS:
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            handler = getattr(view_class, method.lower()) if view_class else view
            yield method, rule.rule, getattr(handler, "declared_scope", None)


def test_every_operation_declares_a_scope_that_can_be_granted(app: Flask) -> None:
    operations = list(_operations(app))
    assert len(operations) > 40
    undeclared = [f"{m} {r}" for m, r, d in operations if d is None]
    assert undeclared == []
    for _method, _rule, declared in operations:
        assert declared is not None
        assert declared.resource in SCOPE_RESOURCES
        assert parse_scopes(f"system/{declared.resource}.{declared.mode}")


def _other_scope(declared: Declared) -> str:
    """A scope a client could hold that does not cover ``declared``."""
    resource = "Organization" if declared.resource != "Organization" else "Patient"
    return f"system/{resource}.{declared.mode} system/{declared.resource}." + (
        "write" if declared.mode == "read" else "read"
    )


def test_a_token_without_the_scope_is_refused_everywhere_before_the_body_is_read(
    app: Flask, world: sc.Scenario, session: Session, clock: FixedClock
) -> None:
    refused = 0
    for method, rule, declared in _operations(app):
        assert declared is not None
        token = bearer_token(
            session, clock, world.ward.id, _other_scope(declared), name=f"EHR {refused}"
        )
        url = re.sub(r"<[^>]+>", "1", rule)
        response = app.test_client().open(
            url,
            method=method,
            json={"not": "read"},
            headers={"Authorization": f"Bearer {token}", "If-Match": '"1"'},
        )
        assert response.status_code == 403, (method, url, response.json)
        assert response.json["type"] == "/api/v1/problems/scope-denied", (method, url)
        wanted = f"system/{declared.resource}.{declared.mode}"
        assert response.json["detail"] == f"the token has no scope for {wanted}"
        refused += 1
    denials = session.scalars(
        sa.select(AuditEntry.purpose).where(AuditEntry.outcome == AuditOutcome.DENIED)
    ).all()
    assert len(denials) == refused
    assert all(p.startswith("system/") for p in denials)


@pytest.fixture
def bearer(
    app: Flask, world: sc.Scenario, session: Session, clock: FixedClock
) -> Callable[[str], FlaskClient]:
    def client_with(scopes: str) -> FlaskClient:
        token = bearer_token(session, clock, world.ward.id, scopes)
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return client_with


def _plan(world: sc.Scenario, login: Login) -> dict[str, Any]:
    created = login(world.nurse).post(
        "/api/v1/plans", json={"pathway_id": world.pathway.id, "kind": "discharge_agreement"}
    )
    assert created.status_code == 201, created.json
    body: dict[str, Any] = created.json
    return body


def test_an_organisation_token_reads_no_plan_and_a_plan_token_no_patient(
    world: sc.Scenario,
    login: Login,
    bearer: Callable[[str], FlaskClient],
    session: Session,
) -> None:
    plan = _plan(world, login)
    directory_only = bearer("system/Organization.read")
    assert directory_only.get(f"/api/v1/plans/{plan['id']}").status_code == 403
    assert directory_only.get("/api/v1/reminders").status_code == 403
    assert directory_only.get("/api/v1/organisations").status_code == 200
    plans_only = bearer("system/CarePlan.read")
    assert plans_only.get(f"/api/v1/plans/{plan['id']}").status_code == 200
    refused = plans_only.get(f"/api/v1/patients/{world.patient.id}")
    assert refused.status_code == 403
    assert "cpr" not in refused.get_data(as_text=True).lower()
    edit = plans_only.patch(
        f"/api/v1/plans/{plan['id']}",
        json={"change_note": "x"},
        headers={"If-Match": f'"{plan["version"]}"'},
    )
    assert edit.status_code == 403
    assert edit.json["detail"] == "the token has no scope for system/CarePlan.write"
    assert session.get(Plan, plan["id"]).version == plan["version"]  # type: ignore[union-attr]


def test_reminders_are_handled_with_task_write(
    world: sc.Scenario,
    bearer: Callable[[str], FlaskClient],
    session: Session,
    clock: FixedClock,
) -> None:
    evaluate_pathways(session, clock, [world.pathway.id])
    reader = bearer("system/Task.read")
    [reminder] = reader.get("/api/v1/reminders").json
    url = f"/api/v1/reminders/{reminder['id']}/acknowledge"
    refused = reader.post(url, json={})
    assert refused.json["detail"] == "the token has no scope for system/Task.write"
    acked = bearer("system/Task.read system/Task.write").post(url, json={})
    assert acked.status_code == 200, acked.json
    assert acked.json["status"] == "acknowledged"


def test_the_caller_is_known_before_the_body_is_judged(app: Flask) -> None:
    anonymous = app.test_client()
    response = anonymous.post("/api/v1/plans", json={})
    assert response.status_code == 401
    assert "errors" not in response.json
    assert anonymous.post("/api/v1/plans", json={"pathway_id": "\u0000"}).status_code == 401
