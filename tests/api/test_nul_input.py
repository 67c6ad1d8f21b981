"""Text with NUL characters is refused at every door, naming where it was, and changes nothing
(PostgreSQL cannot store it: before this guard such a request ended in a 500)."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.inputs import nul_paths
from coordinator.messaging.models import InboundMessage
from coordinator.organisations.models import Organisation
from tests import scenario as sc
from tests.api.conftest import Login

FIXTURES = Path(__file__).parents[1] / "fixtures" / "medcom"


def test_nul_paths_name_every_place() -> None:
    assert nul_paths({"a": "ok", "b": ["x", "y\x00"], "c": {"d\x00": 1}}) == ["b[1]", "c.d\x00"]
    assert nul_paths("\x00") == ["$"]
    assert nul_paths({"n": 1, "t": None, "s": "fine"}) == []


def test_rest_refuses_nul_in_a_query_or_a_body_with_field_errors(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    admin = login(world.nurse)
    query = admin.get("/api/v1/organisations?name=K%00benhavn")
    assert query.status_code == 422, query.json
    assert query.mimetype == "application/problem+json"
    assert [e["field"] for e in query.json["errors"]] == ["query.name"]
    before = session.scalar(sa.select(sa.func.count(Organisation.id)))
    body = admin.post(
        f"/api/v1/plans/{world.pathway.id}/share",
        data=json.dumps({"organisation_id": 1, "category": "care\u0000coordination"}),
        content_type="application/json",
    )
    assert body.status_code == 422
    assert [e["field"] for e in body.json["errors"]] == ["category"]
    assert session.scalar(sa.select(sa.func.count(Organisation.id))) == before


def test_a_medcom_message_with_nul_is_refused_and_not_remembered(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    text = (FIXTURES / "admit-inpatient.json").read_text(encoding="utf-8")
    poisoned = text.replace('"family": "', '"family": "\\u0000', 1)
    assert poisoned != text
    answer = login(world.nurse).post(
        "/fhir/$process-message", data=poisoned, content_type="application/fhir+json"
    )
    assert answer.status_code == 400
    assert answer.json["resourceType"] == "OperationOutcome"
    assert "name" in answer.json["issue"][0]["diagnostics"]
    assert session.scalar(sa.select(sa.func.count(InboundMessage.id))) == 0
