"""The start page (the worklist of the logged-in person's role) and the health check."""

from __future__ import annotations

import sqlalchemy as sa
import structlog
from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from coordinator.db import get_session
from coordinator.web import worklists

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
def index() -> ResponseReturnValue:
    # Anonymous visitors get the title and a way to log in, nothing of the service; logged-in staff
    # their role's worklist (coordinator.web.worklists).
    if not current_user.is_authenticated:
        return render_template("index.html", anonymous=True)
    return worklists.show_worklist()
