"""The edge every door shares (coordinator.edge), tried through REST, FHIR and MedCom on apps of their own
with a database of their own: requests race for real, and the database can be taken away."""

from __future__ import annotations

import copy
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from coordinator import create_app, migrate
from coordinator.care_pathways.models import Pathway
from coordinator.db import get_database
from coordinator.edge import json_depth_exceeds
from coordinator.idempotency.models import IdempotencyKey
from coordinator.messaging.models import InboundMessage
from coordinator.organisations.services import create_organisation
from coordinator.patients.models import Patient
from coordinator.plans.models import Plan
from coordinator.security import CLOCK_KEY
from pathways.clock import FixedClock
from tests import scenario as sc
from tests.conftest import fresh_database_url
from tests.fhir.support import bearer_token

FIXTURES = Path(__file__).parents[1] / "fixtures" / "medcom"
CLOCK = FixedClock(datetime(2026, 11, 26, 9, 30, tzinfo=UTC))


@pytest.fixture(scope="module")
def race_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = fresh_database_url(
        os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("edge"), "edge"
    )
    migrate.upgrade(url)
    return url


def _app(url: str) -> Flask:
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test"})
    app.extensions[CLOCK_KEY] = CLOCK
    return app


@pytest.fixture(scope="module")
def world(race_url: str) -> Iterator[tuple[Flask, sc.Scenario]]:
    """An app of its own on the module's database, with a committed scenario (built once)."""
    app = _app(race_url)
    with get_database(app).transaction() as session:
        world = sc.build(session, CLOCK)
    yield app, world
    get_database(app).dispose()


@pytest.fixture(scope="module")
def medcom_token(world: tuple[Flask, sc.Scenario]) -> str:
    """A system client of the centre above the MedCom fixtures' ward (SOR 990111000016009)."""
    app, w = world
    with get_database(app).transaction() as session:
        create_organisation(
            session,
            sc.SYSTEM,
            CLOCK,
            name="Sengeafsnit P3",
            kind="ward",
            parent_id=w.centre.id,
            sor_code="990111000016009",
        )
        return bearer_token(session, CLOCK, w.centre.id, "system/Encounter.write", name="EHR")


def _logged_in(app: Flask, user_id: int) -> FlaskClient:
    return sc.log_in(app.test_client(), user_id, CLOCK.now())


def _at_once(calls: list[Callable[[], TestResponse]]) -> list[TestResponse]:
    """Start every call together (a barrier), and wait for all of them."""
    barrier = threading.Barrier(len(calls))
    answers: list[TestResponse | BaseException] = [RuntimeError("no answer")] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = calls[index]()
        except BaseException as exc:
            answers[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers  # type: ignore[return-value]


def test_concurrent_posts_with_one_idempotency_key_get_one_answer(
    world: tuple[Flask, sc.Scenario],
) -> None:
    app, w = world
    key = f"create-{uuid.uuid4()}"
    body = {"pathway_id": w.pathway.id, "kind": "discharge_agreement"}
    clients = [_logged_in(app, w.nurse.id) for _ in range(8)]
    answers = _at_once(
        [
            lambda c=c: c.post("/api/v1/plans", json=body, headers={"Idempotency-Key": key})  # type: ignore[misc]
            for c in clients
        ]
    )
    assert sorted(a.status_code for a in answers) == [201] * 8, [a.json for a in answers]
    assert len({a.json["id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 7
    with get_database(app).transaction() as session:
        plans = session.scalar(
            sa.select(sa.func.count(Plan.id)).where(Plan.pathway_id == w.pathway.id)
        )
        keys = session.scalar(
            sa.select(sa.func.count(IdempotencyKey.id)).where(IdempotencyKey.key == key)
        )
    assert (plans, keys) == (1, 1)


def _admission(cpr: str, episode: str) -> dict[str, Any]:
    """The admit-inpatient fixture for another patient and episode, with a message id of its own."""
    text = (FIXTURES / "admit-inpatient.json").read_text()
    header_id = json.loads(text)["entry"][0]["resource"]["id"]
    body = json.loads(text.replace("0101701234", cpr).replace(header_id, str(uuid.uuid4())))
    for entry in body["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Encounter":
            resource["episodeOfCare"][0]["identifier"]["value"] = episode
    return body


def _medcom(client: FlaskClient, token: str, body: dict[str, Any]) -> TestResponse:
    return client.post(
        "/fhir/$process-message",
        data=json.dumps(body),
        content_type="application/fhir+json",
        headers={"Authorization": f"Bearer {token}"},
    )


def _ack_code(response: TestResponse) -> str:
    header = response.json["entry"][0]["resource"]
    return str(header["response"]["code"])


def test_copies_of_one_medcom_message_at_once_get_one_answer(
    world: tuple[Flask, sc.Scenario], medcom_token: str
) -> None:
    app, token = world[0], medcom_token
    cpr = "0101709998"
    body = _admission(cpr, f"urn:uuid:{uuid.uuid4()}")
    answers = _at_once([lambda: _medcom(app.test_client(), token, copy.deepcopy(body))] * 8)
    assert [a.status_code for a in answers] == [200] * 8, [
        a.get_data(as_text=True) for a in answers
    ]
    assert {_ack_code(a) for a in answers} == {"ok"}
    assert len({json.dumps(a.json["entry"][0]["resource"]["id"]) for a in answers}) == 1
    with get_database(app).transaction() as session:
        message_id = body["entry"][0]["resource"]["id"]
        assert (
            session.scalar(
                sa.select(sa.func.count(InboundMessage.id)).where(
                    InboundMessage.message_id == message_id
                )
            )
            == 1
        )
        patient = session.scalar(sa.select(Patient).where(Patient.cpr == cpr))
        assert patient is not None
        stays = session.scalar(
            sa.select(sa.func.count(Pathway.id)).where(Pathway.patient_id == patient.id)
        )
    assert stays == 1


def test_admissions_of_one_new_patient_at_once_never_fail_the_server(
    world: tuple[Flask, sc.Scenario], medcom_token: str
) -> None:
    app, token = world[0], medcom_token
    cpr = "0101709997"
    bodies = [_admission(cpr, f"urn:uuid:{uuid.uuid4()}") for _ in range(4)]
    answers = _at_once(
        [lambda b=b: _medcom(app.test_client(), token, b) for b in bodies]  # type: ignore[misc]
    )
    assert [a.status_code for a in answers] == [200] * 4, [
        a.get_data(as_text=True) for a in answers
    ]
    assert "ok" in {_ack_code(a) for a in answers}
    with get_database(app).transaction() as session:
        assert session.scalar(sa.select(sa.func.count(Patient.id)).where(Patient.cpr == cpr)) == 1


# ---------------------------------------------------------------------------- nesting and media types
def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_json_depth_is_measured_without_parsing() -> None:
    assert not json_depth_exceeds(b'{"a": [[1, 2], {"b": "[[[[[[["}]}', 3)
    assert json_depth_exceeds(b'{"a": [[1, 2], {"b": [["x"]]}]}', 4)
    assert not json_depth_exceeds(b'{"a": "\\"[[[[[[[[[[[[[[[\\""}', 2)
    assert json_depth_exceeds(_deep(100_000), 64)


@pytest.mark.parametrize(
    ("path", "content_type", "shape"),
    [
        ("/api/v1/plans", "application/json", "problem"),
        ("/fhir/CarePlan", "application/fhir+json", "outcome"),
        ("/fhir", "application/fhir+json", "outcome"),
        ("/fhir/$process-message", "application/fhir+json", "outcome"),
    ],
)
def test_deeply_nested_json_is_a_400_in_each_doors_shape(
    world: tuple[Flask, sc.Scenario], path: str, content_type: str, shape: str
) -> None:
    app, w = world
    response = _logged_in(app, w.nurse.id).post(path, data=_deep(50_000), content_type=content_type)
    assert response.status_code == 400, response.get_data(as_text=True)
    if shape == "problem":
        assert response.mimetype == "application/problem+json"
        assert response.json["detail"] == "the JSON body nests deeper than 64 levels"
    else:
        assert response.json["resourceType"] == "OperationOutcome"
        assert "nests deeper than 64 levels" in response.json["issue"][0]["diagnostics"]


def test_a_state_change_without_json_is_refused_even_without_a_body(
    world: tuple[Flask, sc.Scenario],
) -> None:
    app, w = world
    client = _logged_in(app, w.nurse.id)
    client.post("/api/v1/plans", json={"pathway_id": w.pathway.id, "kind": "discharge_agreement"})
    [plan] = client.get(f"/api/v1/patients/{w.patient.id}/plans").json
    url = f"/api/v1/plans/{plan['id']}/withdrawal"
    refused = client.post(url, content_type="text/plain", headers={"If-Match": '"1"'})
    assert refused.status_code == 415
    assert refused.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/plans/{plan['id']}").json["status"] == plan["status"]


def test_oversized_bodies_are_refused_before_they_are_read(
    world: tuple[Flask, sc.Scenario],
) -> None:
    app, w = world
    big = b'{"x": "' + b"a" * 2_100_000 + b'"}'
    client = _logged_in(app, w.nurse.id)
    assert (
        client.post("/api/v1/plans", data=big, content_type="application/json").status_code == 413
    )
    fhir = client.post("/fhir/CarePlan", data=big, content_type="application/fhir+json")
    assert fhir.status_code == 413
    assert fhir.json["issue"][0]["code"] == "too-costly"


# ---------------------------------------------------------------------------- outage
@pytest.fixture
def unreachable(tmp_path: Path) -> Iterator[Flask]:
    """An app whose database cannot be opened (as when the server is down)."""
    app = _app(f"sqlite:///{tmp_path / 'no-such-folder' / 'carepath.sqlite3'}")
    yield app
    get_database(app).dispose()


def test_a_database_outage_is_a_503_with_retry_after_on_every_door(unreachable: Flask) -> None:
    client = unreachable.test_client()
    auth = {"Authorization": "Bearer some-token"}
    rest = client.get("/api/v1/plans", headers=auth)
    assert rest.status_code == 503
    assert rest.mimetype == "application/problem+json"
    assert rest.json["type"] == "/api/v1/problems/unavailable"
    assert int(rest.headers["Retry-After"]) > 0
    fhir = client.get("/fhir/CarePlan/1", headers=auth)
    assert fhir.status_code == 503
    assert fhir.json["issue"][0]["code"] == "transient"
    assert int(fhir.headers["Retry-After"]) > 0
    medcom = client.post(
        "/fhir/$process-message",
        data=(FIXTURES / "admit-inpatient.json").read_bytes(),
        content_type="application/fhir+json",
        headers=auth,
    )
    assert medcom.status_code == 503
    header = medcom.json["entry"][0]["resource"]
    assert header["response"]["code"] == "transient-error"
    assert int(medcom.headers["Retry-After"]) > 0


# ---------------------------------------------------------------------------- headers
def test_every_response_carries_the_security_headers(world: tuple[Flask, sc.Scenario]) -> None:
    app, _w = world
    client = app.test_client()
    for path in ("/login", "/api/v1/plans", "/fhir/metadata", "/healthz"):
        headers = client.get(path).headers
        assert headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path
        assert "Strict-Transport-Security" not in headers, path
        assert "Accept-Language" in headers["Vary"], path
    secure = client.get("/login", base_url="https://carepath.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    docs = client.get("/api/v1/docs").headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline'" in docs


def test_a_medcom_message_needs_the_scope_of_what_it_writes(
    world: tuple[Flask, sc.Scenario],
) -> None:
    app, w = world
    with get_database(app).transaction() as session:
        directory = bearer_token(session, CLOCK, w.centre.id, "system/Organization.read", "Dir")
    body = _admission("0101709996", f"urn:uuid:{uuid.uuid4()}")
    refused = _medcom(app.test_client(), directory, body)
    assert refused.status_code == 403
    assert refused.json["resourceType"] == "OperationOutcome"
    assert refused.json["issue"][0]["diagnostics"] == (
        "the token has no scope for system/Encounter.write"
    )
    with get_database(app).transaction() as session:
        assert session.scalar(sa.select(Patient.id).where(Patient.cpr == "0101709996")) is None
