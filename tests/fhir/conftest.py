"""Fixtures for the FHIR facade over the test client: the scenario world, logged-in users and helpers
that check every answer is FHIR JSON that fhir.resources' R4B models parse."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from pathways.clock import FixedClock
from pathways.people import Actor
from tests import scenario as sc
from tests.fhir.support import Fhir

Login = Callable[[Actor], Fhir]


@pytest.fixture
def world(session: Session, clock: FixedClock, app: Flask) -> sc.Scenario:
    app.extensions["carepath.clock"] = clock
    return sc.build(session, clock)


@pytest.fixture
def login(app: Flask, clock: FixedClock) -> Login:
    """A FHIR test client logged in as the given actor's user (the web session cookie)."""

    def as_user(actor: Actor) -> Fhir:
        return Fhir(sc.log_in(app.test_client(), actor.id, clock.now()))

    return as_user


@pytest.fixture
def anonymous(app: Flask) -> Fhir:
    return Fhir(app.test_client())
