from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from importlib.metadata import version

import pytest
import structlog
from flask import Flask
from flask.testing import FlaskClient

from coordinator import create_app
from coordinator.db import get_database
from pathways.people import Role
from tests import scenario as sc
from tests.factories import PatientFactory, UserFactory, WardFactory


def test_factory_reads_database_url_from_config(app: Flask, database_url: str) -> None:
    assert app.config["DATABASE_URL"] == database_url
    assert get_database(app).url == database_url
    assert app.config["BABEL_DEFAULT_LOCALE"] == "da"


def test_factory_defaults_to_sqlite_in_instance_folder(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app({"TESTING": True})
    try:
        assert app.config["DATABASE_URL"].startswith("sqlite:///")
        assert app.config["DATABASE_URL"].endswith("instance/carepath.sqlite3")
        assert app.config["SECRET_KEY_IS_EPHEMERAL"] is True
        assert len(app.config["SECRET_KEY"]) >= 64
    finally:
        get_database(app).dispose()


def test_factory_takes_database_url_and_secret_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db.invalid/carepath")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app({"TESTING": True})
    assert app.config["DATABASE_URL"] == "postgresql+psycopg://u@db.invalid/carepath"
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["SECRET_KEY_IS_EPHEMERAL"] is False


def test_healthz_reports_a_reachable_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'nope.sqlite3'}"
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}


def _log_in(client: FlaskClient, **kwargs: object) -> None:
    """A session cookie as the login view makes it (the user's id and the time it was last used)."""
    user = UserFactory(organisation=WardFactory(), **kwargs)
    sc.log_in(client, user.id, datetime.now(UTC))


def test_start_page_is_the_worklist_in_danish_by_default(client: FlaskClient, session) -> None:
    _log_in(client)  # a discharge nurse at a ward with no patients yet
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="da">' in page
    assert "Aktuelle indlæggelser på" in page
    assert "Søg på navn eller CPR-nummer" in page
    assert "Ingen indlæggelser passer." in page
    assert "Tjenesten kører" not in page  # the service status is the administrators' start page


def test_administrators_start_page_shows_the_service_status(client: FlaskClient, session) -> None:
    PatientFactory()
    PatientFactory()
    _log_in(client, role=Role.SYSTEM_ADMIN)
    page = client.get("/").get_data(as_text=True)
    assert "Tjenesten kører" in page
    assert "2 patienter" in page
    assert f"carepath {version('carepath')}" in page


def test_start_page_in_english_on_request(client: FlaskClient, session) -> None:
    _log_in(client)
    page = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Current stays at" in page
    english_browser = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Search by name or CPR number" in english_browser.get_data(as_text=True)


def test_no_cpr_in_structlog_events_or_stdlib_log_lines(
    app: Flask, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # structlog writes to stdout (a logger made now writes to the captured one)
    structlog.get_logger("test.redaction").info(
        "patient.looked_up", query="identifier=urn:oid:1.2.208.176.1.2|0101701235"
    )
    printed = capsys.readouterr().out
    assert "patient.looked_up" in printed
    assert "0101701235" not in printed
    assert "urn:oid:1.2.208.176.1.2|[CPR]" in printed
    # the request loggers and the app's own logger, through the stdlib
    caplog.set_level(logging.INFO)
    logging.getLogger("werkzeug").info('"%s" %s', "GET /fhir/Patient?identifier=010170-1235", 200)
    app.logger.warning("looked up %s", "0101701235")
    assert [r.getMessage() for r in caplog.records] == [
        '"GET /fhir/Patient?identifier=[CPR]" 200',
        "looked up [CPR]",
    ]


def test_anonymous_start_page_shows_no_counts_and_no_version(client: FlaskClient, session) -> None:
    WardFactory()
    PatientFactory()
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Tværsektorielle forløb i psykiatrien" in page
    prompt = re.search(r'<p data-testid="login-prompt">(.*?)</p>', page, re.S)
    assert prompt
    assert prompt.group(1) == '<a href="/login">Log ind for at fortsætte.</a>'
    assert 'data-testid="service-status"' not in page
    for hidden in ("Tjenesten kører", "patient", "organisation", version("carepath")):
        assert hidden not in page
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Log in to continue." in english
    assert "patient" not in english
    assert "The service is running" not in english
