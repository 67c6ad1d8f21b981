from __future__ import annotations

from flask.testing import FlaskClient
from openapi_spec_validator import validate


def test_openapi_document_is_valid_3_1(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    validate(document)  # raises on any error
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    for expected in (
        "/api/v1/plans",
        "/api/v1/plans/{plan_id}",
        "/api/v1/plans/{plan_id}/responses",
        "/api/v1/patients/search",
        "/api/v1/patients/{patient_id}/contacts",
        "/api/v1/pathways/{pathway_id}/events",
        "/api/v1/audit",
    ):
        assert expected in paths
    patch = paths["/api/v1/plans/{plan_id}"]["patch"]
    assert {"412", "428", "422"} <= set(patch["responses"])
    assert any(p["name"] == "If-Match" and p["required"] for p in patch["parameters"])
