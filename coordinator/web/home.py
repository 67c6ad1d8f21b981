"""The start page (the worklist of the logged-in person's role) and the health check."""

from __future__ import annotations

from importlib.metadata import version

import sqlalchemy as sa
import structlog
from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from coordinator.db import get_session
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient

bp = Blueprint("web", __name__)
log = structlog.get_logger(__name__)


def _database_ok() -> bool:
    try:
        get_session().execute(sa.text("SELECT 1"))
    except SQLAlchemyError:
        log.exception("healthz.database_unreachable")
        return False
    return True


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    ok = _database_ok()
    body = {"status": "ok" if ok else "unavailable", "database": "ok" if ok else "unreachable"}
    return body, 200 if ok else 503


@bp.get("/")
def index() -> str:
    # Counts and the version tell an outsider the size of the service and which flaws to try: only
    # logged-in staff see them. Anonymous visitors get the title and a way to log in.
    if not current_user.is_authenticated:
        return render_template("index.html", anonymous=True)
    ok = _database_ok()
    counts: dict[str, int] = {}
    if ok:
        session = get_session()
        counts = {
            "organisations": session.scalar(sa.select(sa.func.count(Organisation.id))) or 0,
            "patients": session.scalar(sa.select(sa.func.count(Patient.id))) or 0,
        }
    return render_template(
        "index.html",
        anonymous=False,
        database_ok=ok,
        counts=counts,
        app_version=version("carepath"),
    )
