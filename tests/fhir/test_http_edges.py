"""The edges of /fhir: crashes, ended web sessions, routes of other packages, Prefer, odd paths. Whatever
happens, the answer is an OperationOutcome in FHIR JSON, never an HTML page or a stack trace."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from coordinator.fhir.resources import organization
from pathways.clock import FixedClock
from pathways.scopes import SCOPE_RESOURCES, SIGNING_ALGORITHMS, parse_scope
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import Fhir, careplan_body, ok, outcome


def test_a_crash_is_a_500_operation_outcome_without_a_trace(
    world: sc.Scenario, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("secret internals: 0101701235")

    monkeypatch.setattr(organization, "get_organisation", boom)
    response = login(world.nurse).get(f"Organization/{world.ward.id}")
    body = outcome(response, 500, "exception")
    text = response.get_data(as_text=True)
    assert "secret" not in text
    assert "Traceback" not in text
    assert body["issue"][0]["diagnostics"] == "the server could not handle the request"


def test_an_ended_web_session_is_a_401_not_a_redirect(
    world: sc.Scenario, app: Flask, clock: FixedClock
) -> None:
    client = sc.log_in(app.test_client(), world.nurse.id, clock.now() - timedelta(hours=2))
    response = Fhir(client).get(f"Patient/{world.patient.id}")
    outcome(response, 401, "login")
    assert "Location" not in response.headers


def test_other_packages_operations_keep_their_routes(app: Flask, anonymous: Fhir) -> None:
    adapter = app.url_map.bind("localhost")
    endpoint, _ = adapter.match("/fhir/$process-message", method="POST")
    assert endpoint == "messaging.process"
    wrong_method = anonymous.get("$process-message")
    outcome(wrong_method, 405, "not-supported")
    assert wrong_method.headers["Allow"] == "POST"
    outcome(anonymous.get("$nothing"), 404, "not-supported")
    operations = ok(anonymous.get("metadata"))["rest"][0].get("operation", [])
    assert [o["name"] for o in operations] == ["process-message"]


def test_prefer_return_minimal(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    body = careplan_body(world.patient.id, world.ward.id, world.pathway.id)
    response = nurse.post("CarePlan", body, Prefer="return=minimal")
    assert response.status_code == 201
    assert response.get_data() == b""
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Location"].endswith("/_history/1")


def test_odd_paths(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    outcome(nurse.get("CarePlan/1/2/3/4"), 404, "not-supported")
    outcome(nurse.get("Basic"), 404, "not-supported")
    outcome(nurse.get("CarePlan/$everything"), 404, "not-supported")
    assert nurse.get("CarePlan/").status_code == 200  # a trailing slash is the same search
    options = nurse.request("OPTIONS", "CarePlan")
    assert (options.status_code, options.headers["Allow"]) == (204, "GET, POST, HEAD")
    outcome(
        nurse.request("POST", "Patient/_search", data="x", content_type="text/plain"),
        415,
        "not-supported",
    )


def test_smart_configuration_is_public_json_beside_the_catch_all(
    app: Flask, anonymous: Fhir
) -> None:
    adapter = app.url_map.bind("localhost")
    endpoint, _ = adapter.match("/fhir/.well-known/smart-configuration", method="GET")
    assert endpoint == "oauth.smart_configuration"  # not the FHIR facade's /fhir/<path:path>
    response = anonymous.get(".well-known/smart-configuration")  # no login, no token
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    resources = sorted(SCOPE_RESOURCES)
    assert document == {
        "token_endpoint": "http://localhost/oauth/token",
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": [
            f"system/{resource}.{mode}"
            for resource in (*resources, "*")
            for mode in ("read", "write")
        ],
        "capabilities": ["client-confidential-asymmetric", "permission-v1"],
    }
    assert set(SIGNING_ALGORITHMS) >= {"RS384", "ES384"}  # SMART Backend Services' two
    # every scope it names is one the token endpoint grants
    assert all(parse_scope(scope) is not None for scope in document["scopes_supported"])
    assert (
        anonymous.get(".well-known/smart-configuration", Accept="application/json").status_code
        == 200
    )
    # the configured audience, when set, is the endpoint it names
    app.config["OAUTH2_TOKEN_URL"] = "https://carepath.example/oauth/token"
    assert anonymous.get(".well-known/smart-configuration").get_json()["token_endpoint"] == (
        "https://carepath.example/oauth/token"
    )
