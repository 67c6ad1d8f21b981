"""The REST door's own pieces: the Api object with problem details, the operation decorator (scope, guards,
unit of work and Idempotency-Key, through coordinator.edge), pagination and ETag headers."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec
from urllib.parse import urlencode

from flask import Response, current_app, json, make_response, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from coordinator import edge
from coordinator.db import get_session
from coordinator.idempotency import services as idempotency
from coordinator.inputs import MESSAGE
from pathways.errors import FieldError, StaleVersion, ValidationFailed
from pathways.people import Actor
from pathways.scopes import Mode

REPLAYED_HEADERS = ("Content-Type", "Location", "ETag", "Link")
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


class CarepathApi(Api):
    """flask-smorest's Api with RFC 9457 problem details for every HTTP error, keeping its headers."""

    def _openapi_json(self) -> Response:
        return current_app.response_class(
            json.dumps(document_problems(self.spec.to_dict())), mimetype="application/json"
        )

    def handle_http_exception(self, error: HTTPException) -> Any:
        # smorest registers this for the whole app: every door answers its own (edge.handle_failures_under).
        return edge.answer_failure(error)


# ---------------------------------------------------------------------------- one operation
@dataclass(frozen=True, slots=True)
class Declared:
    """The SMART scope an operation needs: the FHIR resource type of its data and read or write."""

    resource: str
    mode: Mode


def operation(resource: str, mode: Mode) -> Callable[[Callable[P, Any]], Callable[P, Response]]:
    """The outermost decorator of every API view, declaring the scope it needs (the same resource names as
    the FHIR facade: CarePlan, Patient, CareTeam, Encounter, Task, ...). In this order: the caller (401
    before anything about the body is said), the scope (403, audited), the input guards (coordinator.edge),
    then the view in one unit of work, honouring Idempotency-Key on POST within that same transaction."""

    def decorate(view: Callable[P, Any]) -> Callable[P, Response]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            actor = edge.current_actor()
            edge.require_scope(actor, resource, mode)
            found = edge.guard_input()
            if found:
                fields = [f"query.{n}" for n in found.query] + found.body
                raise ValidationFailed([FieldError(f, MESSAGE, "invalid") for f in fields])
            key = _idempotency_key()
            return edge.unit_of_work(lambda: _answer(view, args, kwargs, actor, key))

        wrapper.declared_scope = Declared(resource, mode)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _answer(
    view: Callable[..., Any], args: Any, kwargs: Any, actor: Actor, key: str | None
) -> Response:
    session = get_session()
    if key is not None:
        stored = idempotency.stored_answer(session, actor, key, _fingerprint())
        if stored is not None:
            replayed = Response(stored.body, status=stored.status_code, headers=stored.headers)
            replayed.headers["Idempotent-Replayed"] = "true"
            return replayed
    response = make_response(view(*args, **kwargs))
    if key is not None and response.status_code < 400:
        answer = idempotency.StoredAnswer(
            response.status_code,
            {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers},
            response.get_data(as_text=True),
        )
        idempotency.remember(session, actor, key, _fingerprint(), answer, now=edge.clock().now())
    return response


def _idempotency_key() -> str | None:
    if request.method != "POST":
        return None
    key = request.headers.get("Idempotency-Key", "").strip()
    return idempotency.check_key(key) if key else None


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}?{request.query_string.decode()}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


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
ETAG_HEADER = {"ETag": {"schema": {"type": "string"}}}


def if_match_doc(what: str, responses: dict[str, str] | None = None) -> dict[str, Any]:
    """The OpenAPI of an operation that changes ``what`` under If-Match: the header, 412 when stale and 428
    when missing, and the operation's other ``responses`` (status -> description)."""
    return {
        "parameters": [
            {
                "in": "header",
                "name": "If-Match",
                "required": True,
                "schema": {"type": "string"},
                "description": f"the ETag of the {what} as you read it",
            }
        ],
        "responses": {
            **{status: {"description": text} for status, text in (responses or {}).items()},
            "412": {"description": f"the {what} changed since you read it"},
            "428": {"description": "If-Match missing"},
        },
    }


def etag(version: int) -> str:
    return f'"{version}"'


def with_etag(
    body: Any, version: int, status: int = 200, headers: dict[str, str] | None = None
) -> tuple[Any, int, dict[str, str]]:
    return body, status, {"ETag": etag(version), **(headers or {})}


def optional_version(what: str = "resource") -> int | None:
    """The version If-Match names, or None without it: the use case, once it has settled access, says
    whether a version was required (428) and whether it is the current one (412). 412 here only when
    If-Match names no version at all."""
    raw = request.headers.get("If-Match")
    if not raw:
        return None
    version = edge.etag_version(raw)
    if version is None:
        raise StaleVersion(what, 0, 0)
    return version
