"""The REST door's error shape: RFC 9457 problem details (application/problem+json), never HTML, never a
stack trace. What a failure means (its status, the rollback, the record of a refusal) is decided once, in
coordinator.edge; this module only renders it."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from coordinator import edge

PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}
# Problem type slugs for failures that carry no domain code of their own.
_CODES = {
    401: "unauthenticated",
    404: "not-found",
    405: "method-not-allowed",
    412: "stale-version",
    413: "too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    428: "if-match-required",
    429: "rate-limited",
    503: "unavailable",
}


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


def render(failure: edge.Failure) -> Response:
    errors = [{"field": e.field, "message": e.message, "code": e.code} for e in failure.errors]
    data = getattr(failure.error, "data", None)
    if isinstance(failure.error, HTTPException) and isinstance(data, dict) and "messages" in data:
        # webargs' {"json": {"field": [...]}}: drop the location level, keep the field path.
        errors = [e for location in data["messages"].values() for e in _flatten(location)]
    return problem(
        failure.status,
        failure.message or TITLES.get(failure.status, ""),
        code=failure.code or _CODES.get(failure.status, ""),
        errors=errors or None,
        headers=failure.headers,
    )


def http_problem(error: HTTPException) -> Response:
    return render(edge.failure_for(error))


def register_error_handlers(app: Flask) -> None:
    """Failures under /api become problem details; other paths keep their own (FHIR, MedCom, pages)."""
    edge.handle_failures_under(app, "/api/", lambda error: render(edge.failure_for(error)))
