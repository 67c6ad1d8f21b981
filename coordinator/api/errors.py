"""One error shape for the API: RFC 9457 problem details (application/problem+json). Never HTML, never a
stack trace. Domain errors map to statuses here; refused access is audited after the rollback."""

from __future__ import annotations

from typing import Any

import structlog
from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException, InternalServerError

from coordinator.access.services import AccessDenied, persist_denial
from coordinator.db import get_session
from pathways.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
)

log = structlog.get_logger(__name__)
PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    415: "Unsupported media type",
    422: "Invalid input",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
}
STATUS: list[tuple[type[DomainError], int]] = [
    (ValidationFailed, 422),
    (StaleVersion, 412),
    (IllegalTransition, 409),
    (Conflict, 409),
    (NotFound, 404),
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
]


def problem(
    status: int,
    detail: str,
    *,
    code: str = "",
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"/api/v1/problems/{code}" if code else "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    response.headers.update(headers or {})
    return response


def _flatten(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """webargs/marshmallow messages ({"json": {"field": ["msg"]}}) as a flat list of field errors."""
    if isinstance(messages, dict):
        out: list[dict[str, str]] = []
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, name))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [{"field": prefix, "message": m, "code": "invalid"} for m in messages]
    return [{"field": prefix, "message": str(messages), "code": "invalid"}]


def http_problem(error: HTTPException) -> Response:
    _rollback()
    status = error.code or 500
    headers = dict(error.get_headers())  # e.g. Allow on 405, WWW-Authenticate on 401
    headers.pop("Content-Type", None)
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="carepath"')
    errors = None
    data = getattr(error, "data", None)
    if isinstance(data, dict) and "messages" in data:
        # {"json": {"field": [...]}}: drop the location level, keep the field path.
        errors = [e for location in data["messages"].values() for e in _flatten(location)]
    detail = error.description if status < 500 else "the server could not handle the request"
    return problem(
        status, detail or TITLES.get(status, ""), code=_code(status), errors=errors, headers=headers
    )


def _code(status: int) -> str:
    return {
        401: "unauthenticated",
        404: "not-found",
        405: "method-not-allowed",
        412: "stale-version",
        415: "unsupported-media-type",
        422: "validation-failed",
        428: "if-match-required",
        429: "rate-limited",
    }.get(status, "")


def _rollback() -> None:
    try:
        get_session().rollback()
    except Exception:
        log.exception("api.rollback_failed")


def domain_problem(error: DomainError) -> Response:
    _rollback()
    status = (
        next(s for cls, s in STATUS if isinstance(error, cls))
        if any(isinstance(error, cls) for cls, _ in STATUS)
        else 400
    )
    if isinstance(error, AccessDenied):
        session = get_session()
        persist_denial(session, error)
        session.commit()
    errors = None
    if isinstance(error, ValidationFailed):
        errors = [{"field": e.field, "message": e.message, "code": e.code} for e in error.errors]
    headers = {"WWW-Authenticate": 'Bearer realm="carepath"'} if status == 401 else None
    return problem(status, error.message, code=error.code, errors=errors, headers=headers)


def unexpected_problem(error: Exception) -> Response:
    log.exception("api.unhandled_error", error_type=type(error).__name__)
    return http_problem(InternalServerError())


def register_error_handlers(app: Flask) -> None:
    """Domain errors and crashes under /api become problem details; the web UI keeps its own pages."""

    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Response:
        if request.path.startswith("/api/"):
            return domain_problem(error)
        raise error

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response | HTTPException:
        if isinstance(error, HTTPException):
            return http_problem(error) if request.path.startswith("/api/") else error
        if request.path.startswith("/api/"):
            _rollback()
            return unexpected_problem(error)
        raise error
