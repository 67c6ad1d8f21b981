"""carepath coordinator: the Flask application (web UI, APIs, persistence, CLI)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, has_app_context

from coordinator import api, cli, db, edge, fhir, i18n, logging_setup, scheduler, security, web
from coordinator.clients import oauth as api_clients
from coordinator.config import load_config
from coordinator.fhir import notifications as fhir_notifications
from coordinator.fhir.render import plan_json
from coordinator.messaging import views as messaging
from coordinator.plan_history import snapshots as plan_history
from coordinator.reminders import triggers as reminder_triggers
from coordinator.subscriptions import matching as subscription_matching
from pathways.clock import SystemClock


def commit_hooks() -> tuple[db.CommitHook, ...]:
    """What every session does just before its commit, in this order: reminders follow the change, the
    CarePlan history copies the changed plans, then subscribers are notified (the two before change
    reminders and plans, which notify too). The FHIR door gives the rendering; the features import no door.
    """
    return (
        reminder_triggers.HOOK,
        plan_history.hook(plan_json),
        subscription_matching.hook(fhir_notifications.render),
    )


class AppClock:
    """The clock of the app's sessions: the app's clock as it is at each call (tests put a FixedClock into
    the app after create_app) inside an app context (a request, a job, a CLI command); outside one (a
    script's own ``database.transaction()``) the wall clock, as the hooks always had it."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def now(self) -> datetime:
        clock = security.get_clock(self._app) if has_app_context() else SystemClock()
        return clock.now()


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
    db.init_app(app, clock=AppClock(app), hooks=commit_hooks())
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
