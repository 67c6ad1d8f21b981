"""The Api object, authentication of API callers, the unit of work and optimistic-concurrency headers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec
from urllib.parse import urlencode

from flask import Response, current_app, g, json, make_response, request
from flask_smorest import Api
from werkzeug.exceptions import (
    HTTPException,
    PreconditionRequired,
    Unauthorized,
    UnsupportedMediaType,
)
from werkzeug.routing import IntegerConverter

from coordinator.db import get_session
from coordinator.security import get_clock
from pathways.clock import Clock
from pathways.errors import StaleVersion
from pathways.people import Actor

P = ParamSpec("P")


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message", "code"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
}


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI document what the API really sends on errors: application/problem+json with the
    problem schema (flask-smorest documents its own JSON error shape)."""
    document.setdefault("components", {}).setdefault("schemas", {})["Error"] = PROBLEM_SCHEMA
    for section in ("responses",):
        for response in document["components"].get(section, {}).values():
            _problem_content(response)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")) or status == "default":
                    _problem_content(response)
    return document


def _problem_content(response: dict[str, Any]) -> None:
    if "$ref" in response:
        return
    response["content"] = {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Error"}}
    }


class IdConverter(IntegerConverter):
    """``<id:plan_id>``: a positive id that fits a PostgreSQL integer; anything else is a 404."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=2**31 - 1)


class CarepathApi(Api):  # type: ignore[misc]
    """flask-smorest's Api with RFC 9457 problem details for every HTTP error, keeping its headers."""

    def _openapi_json(self) -> Response:
        return current_app.response_class(
            json.dumps(document_problems(self.spec.to_dict())), mimetype="application/json"
        )

    def handle_http_exception(self, error: HTTPException) -> Response | HTTPException:
        from coordinator.api.errors import http_problem  # noqa: PLC0415

        # smorest registers this for the whole app: web pages keep Flask's own error pages.
        return http_problem(error) if request.path.startswith("/api/") else error


def clock() -> Clock:
    return get_clock()


def current_actor() -> Actor:
    """The caller: a system client with a bearer token, or a logged-in user (session cookie). Resolved once
    per request (the unit of work and the view both ask)."""
    found: Actor | None = g.get("carepath_actor")
    if found is None:
        found = g.carepath_actor = _resolve_actor()
    return found


def _resolve_actor() -> Actor:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        resolver = current_app.extensions.get("carepath.token_resolver")
        actor = resolver(get_session(), clock(), header[7:].strip()) if resolver else None
        if actor is None:
            raise Unauthorized("the bearer token is not valid or has expired")
        return actor
    from coordinator.accounts.login import current_account  # noqa: PLC0415
    from coordinator.accounts.services import actor_for  # noqa: PLC0415

    user = current_account()
    if user is None:
        raise Unauthorized("log in or send a bearer token")
    return actor_for(user)


def unit_of_work(view: Callable[P, Any]) -> Callable[P, Response]:
    """The outermost decorator of every API view: commit once when the view succeeds (the error handlers
    roll back otherwise), and honour Idempotency-Key on POST within that same transaction."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        from coordinator.api import idempotency  # noqa: PLC0415 - models module, loaded with the API

        session = get_session()
        key = idempotency.requested_key()
        actor = current_actor() if key else None
        if key and actor is not None:
            stored = idempotency.replay(session, actor, key)
            if stored is not None:
                return stored
        response = make_response(view(*args, **kwargs))
        if key and actor is not None and response.status_code < 400:
            idempotency.remember(session, actor, key, response, clock().now())
        session.commit()
        return response

    return wrapper


def require_json_body() -> None:
    """Bodies are JSON. This also stops cross-site form posts riding on a session cookie (no CSRF token
    is needed on the JSON API: browsers cannot send application/json cross-site without CORS)."""
    if (
        request.method in ("POST", "PUT", "PATCH")
        and request.content_length
        and not request.is_json
    ):
        raise UnsupportedMediaType("send JSON (application/json)")


# ---------------------------------------------------------------------------- pagination
LINK_HEADER = {"Link": {"schema": {"type": "string"}, "description": 'RFC 8288: rel="next"'}}


def keyset_page(
    items: list[Any],
    limit: int,
    cursor: Callable[[Any], object] | None = None,
    *,
    param: str = "after",
) -> Any:
    """A full page gets a ``Link: <...?{param}=last>; rel="next"`` header; the last page gets none."""
    headers: dict[str, str] = {}
    if items and len(items) == limit:
        last = cursor(items[-1]) if cursor else items[-1].id
        args = request.args.to_dict(flat=False) | {param: [str(last)]}
        headers["Link"] = f'<{request.base_url}?{urlencode(args, doseq=True)}>; rel="next"'
    return items, 200, headers


# ---------------------------------------------------------------------------- ETag / If-Match
def etag(version: int) -> str:
    return f'"{version}"'


def with_etag(
    body: Any, version: int, status: int = 200, headers: dict[str, str] | None = None
) -> tuple[Any, int, dict[str, str]]:
    return body, status, {"ETag": etag(version), **(headers or {})}


def etag_version(raw: str) -> int | None:
    """The version an ETag names (``"3"`` or ``W/"3"``), or None when it names none. REST and FHIR both
    read If-Match with it."""
    tag = raw.strip().removeprefix("W/").strip('"')
    return int(tag) if tag.isascii() and tag.isdigit() else None


def optional_version(what: str = "resource") -> int | None:
    """If-Match where it may be left out: None without it; 412 when it names no version."""
    raw = request.headers.get("If-Match")
    if not raw:
        return None
    version = etag_version(raw)
    if version is None:
        raise StaleVersion(what, 0, 0)
    return version


def required_version(current: int | None = None) -> int:
    """The version the client edits, from If-Match (428 when missing, 412 when it is not the current one)."""
    raw = request.headers.get("If-Match")
    if not raw:
        raise PreconditionRequired("send If-Match with the ETag of the version you edit")
    version = etag_version(raw)
    if version is None:
        raise StaleVersion("resource", 0, current or 0)
    if current is not None and version != current:
        raise StaleVersion("resource", version, current)
    return version
