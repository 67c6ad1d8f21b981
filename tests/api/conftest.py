from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from pathways.clock import FixedClock
from pathways.people import Actor
from tests import scenario as sc

Login = Callable[[Actor], FlaskClient]


@pytest.fixture
def world(session: Session, clock: FixedClock, app: Flask) -> sc.Scenario:
    app.extensions["carepath.clock"] = clock
    return sc.build(session, clock)


@pytest.fixture
def login(app: Flask, clock: FixedClock) -> Login:
    """A test client logged in as the given actor's user (a session cookie, as the web UI has)."""

    def as_user(actor: Actor) -> FlaskClient:
        return sc.log_in(app.test_client(), actor.id, clock.now())

    return as_user
