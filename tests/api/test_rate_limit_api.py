"""One request budget per caller across the API: over it, 429 problem details with Retry-After."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from coordinator import create_app
from coordinator.db import get_database


@pytest.fixture
def limited(database_url: str) -> Iterator[Callable[[str], Flask]]:
    """Apps of their own with a rate limit; their engines are disposed at the end (an engine left to
    the garbage collector closes its connections during some later test, as a ResourceWarning)."""
    made: list[Flask] = []

    def make(limit: str) -> Flask:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "SECRET_KEY": "test",
                "API_RATE_LIMIT": limit,
            }
        )
        made.append(app)
        return app

    yield make
    for app in made:
        get_database(app).dispose()


def test_a_caller_over_the_budget_gets_429_problem_details(
    limited: Callable[[str], Flask],
) -> None:
    client = limited("3 per minute").test_client()
    for _ in range(3):
        assert client.get("/api/v1/organisations").status_code == 401  # counted all the same
    over = client.get("/api/v1/plans")  # one budget for the whole API, not per resource
    assert over.status_code == 429
    assert over.mimetype == "application/problem+json"
    assert over.json["status"] == 429
    assert over.json["title"]
    assert int(over.headers["Retry-After"]) > 0
    other = client.get("/api/v1/organisations", headers={"Authorization": "Bearer another"})
    assert other.status_code == 401, "another caller (a token) has a budget of its own"
    assert client.get("/healthz").status_code != 429, "only the API is limited"


def test_no_limit_when_switched_off(limited: Callable[[str], Flask]) -> None:
    client = limited("").test_client()
    assert all(client.get("/api/v1/organisations").status_code == 401 for _ in range(20))


def test_the_fhir_facade_has_a_budget_of_its_own_and_answers_an_operation_outcome(
    limited: Callable[[str], Flask],
) -> None:
    client = limited("2 per minute").test_client()
    assert client.get("/api/v1/organisations").status_code == 401
    assert client.get("/api/v1/organisations").status_code == 401
    for _ in range(2):  # the REST budget is spent; the FHIR one is not
        assert client.get("/fhir/Organization").status_code == 401
    over = client.get("/fhir/Organization")
    assert over.status_code == 429
    assert over.json["resourceType"] == "OperationOutcome"
    assert over.json["issue"][0]["code"] == "throttled"
    assert int(over.headers["Retry-After"]) > 0
