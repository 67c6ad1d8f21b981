"""The web door: server-rendered pages (Jinja, htmx, Det Fælles Designsystem) for discharge nurses, case
workers, GP clinics, administrators and auditors. Views call the features' use cases through the edge kit
(coordinator.web.kit); no view calls our own REST API, and no rule is written here.

Each screen is a module with its blueprint; ``init_app`` registers them and the main menu.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from coordinator import edge
from coordinator.accounts import views as accounts_views
from coordinator.web import admin, demo_mail, filters, home, meetings, patients, plans, reminders
from coordinator.web.kit import failure_page

# The main menu: (endpoint, title, roles that see it or None for everyone). An item whose screen is not
# registered is left out.
MENU: tuple[tuple[str, object, frozenset[str] | None], ...] = (
    ("web.index", _l("Worklist"), None),
    ("reminders_web.index", _l("Reminders"), reminders.INBOX_ROLES),
    ("admin_web.index", _l("Administration"), frozenset({"org_admin", "system_admin"})),
    ("admin_web.audit_log", _l("Audit log"), frozenset({"auditor", "system_admin"})),
    ("demo_mail.index", _l("Sent mail"), None),
)


@dataclass(frozen=True, slots=True)
class MenuItem:
    url: str
    title: str
    current: bool


def main_menu() -> list[MenuItem]:
    role = str(getattr(current_user, "role", ""))
    shown = [
        (endpoint, title)
        for endpoint, title, roles in MENU
        if endpoint in current_app.view_functions and (roles is None or role in roles)
    ]
    # The item of this very page is the current one; else the item of this page's screen (one
    # blueprint may have two items, e.g. administration and its audit log).
    exact = any(request.endpoint == endpoint for endpoint, _ in shown)
    items = []
    for endpoint, title in shown:
        blueprint = endpoint.split(".", 1)[0]
        current = request.endpoint == endpoint or (
            not exact and endpoint != "web.index" and (request.blueprint or "") == blueprint
        )
        items.append(MenuItem(url_for(endpoint), str(title), current))
    return items


def screen_url(endpoint: str, **values: Any) -> str:
    """The address of another screen, or "#" while that screen is not registered."""
    if endpoint not in current_app.view_functions:
        return "#"
    return url_for(endpoint, **values)


def _flask_answer(error: Exception) -> object:
    if isinstance(error, HTTPException):
        return error
    raise error


def init_app(app: Flask) -> None:
    filters.init_app(app)
    app.jinja_env.globals["main_menu"] = main_menu
    app.jinja_env.globals["screen_url"] = screen_url
    # Any address outside the API (coordinator.api), FHIR and OAuth doors is a page: its failures are
    # pages too.
    edge.handle_failures_under(app, "/", failure_page)
    for other_door in ("/fhir", "/oauth/", "/.well-known/"):
        edge.handle_failures_under(app, other_door, _flask_answer)
    app.register_blueprint(home.bp)
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(patients.bp)
    app.register_blueprint(reminders.bp)
    if demo_mail.is_wanted(app):  # development only: never in production
        app.register_blueprint(demo_mail.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(meetings.bp)
    app.register_blueprint(plans.bp)
