"""carepath coordinator: the Flask application (web UI, APIs, persistence, CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from coordinator import api, cli, db, edge, fhir, i18n, logging_setup, scheduler, security, web
from coordinator.clients import oauth as api_clients
from coordinator.config import load_config
from coordinator.fhir import history as fhir_history
from coordinator.fhir import notifications as fhir_notifications
from coordinator.messaging import views as messaging
from coordinator.reminders import triggers as reminder_triggers

# Reminders follow every committed change, in any process that uses the models (app, scheduler, CLI, tests).
reminder_triggers.install()
fhir_history.install()
# After the two above: their work just before the commit changes reminders and plans, which notify too.
fhir_notifications.install()


DEFAULT_RATE_LIMIT = "1200 per minute"


def _settle_testing_defaults(app: Flask) -> None:
    """Settings left unset whose default depends on TESTING (see coordinator.config)."""
    if app.config.get("FHIR_VALIDATE_OUTPUT") is None:
        app.config["FHIR_VALIDATE_OUTPUT"] = app.testing or app.debug
    if app.config.get("SUBSCRIPTION_ALLOW_LOCAL_HTTP") is None:
        app.config["SUBSCRIPTION_ALLOW_LOCAL_HTTP"] = app.testing
    if app.config.get("API_RATE_LIMIT") is None:
        app.config["API_RATE_LIMIT"] = "" if app.testing else DEFAULT_RATE_LIMIT


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory. Starts no background work: the scheduler is a process of its own."""
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path))
    if config:
        app.config.from_mapping(config)
    _settle_testing_defaults(app)

    logging_setup.configure(app)
    db.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    edge.init_app(app)
    api.init_app(app)
    fhir.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    scheduler.init_app(app)
    api_clients.init_app(app)
    messaging.init_app(app)
    return app
