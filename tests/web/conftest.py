"""Web pages through Flask's test client, logged in as a scenario person (tests/scenario.py) with the test's
clock. CSRF is checked as in production; ``form_post`` sends the page's token like a browser would."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from pathways.clock import FixedClock
from pathways.people import Actor
from tests import scenario as sc

Login = Callable[[Actor], FlaskClient]
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture
def world(session: Session, clock: FixedClock, app: Flask) -> sc.Scenario:
    app.extensions["carepath.clock"] = clock
    return sc.build(session, clock)


@pytest.fixture
def login(app: Flask, clock: FixedClock) -> Login:
    """A test client logged in as the given actor's user (the session cookie the login page makes)."""

    def as_user(actor: Actor) -> FlaskClient:
        return sc.log_in(app.test_client(), actor.id, clock.now())

    return as_user


def csrf_token(client: FlaskClient, page: str) -> str:
    """The CSRF token of a page's form (GET the page first, as a browser does)."""
    html = client.get(page).get_data(as_text=True)
    found = _CSRF.search(html)
    assert found, f"no CSRF token on {page}"
    return found.group(1)


def form_post(
    client: FlaskClient, page: str, action: str, data: dict[str, Any], **kwargs: Any
) -> TestResponse:
    """POST a form to ``action`` with the CSRF token of ``page``, like a browser submitting it."""
    return client.post(action, data={"csrf_token": csrf_token(client, page), **data}, **kwargs)


def count_statements(connection: sa.Connection, client: FlaskClient, url: str) -> int:
    """How many SQL statements one GET of ``url`` runs (it must answer 200): a page's N+1 check."""
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    sa.event.listen(connection, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(connection, "before_cursor_execute", count)
    return len(seen)
