"""The edge: what every door (REST ``/api/v1``, the FHIR facade ``/fhir``, MedCom ``$process-message`` and
the web UI) shares, so that no door decides these things on its own.

- **The caller** (``current_actor``): a system client with a bearer token or a logged-in user, resolved once
  per request, before anything in the body is looked at; and the **clock** (``clock``).
- **Scopes** (``require_scope``): a system client is held to its token's SMART scopes, the same scope names
  on every door; a refusal is audited.
- **Input guards** (``guard_input``): body size, JSON nesting depth, the JSON media type on state-changing
  requests, and text that no database stores (NUL), checked before any parsing or use case.
- **One unit of work** (``unit_of_work``): one commit per request. When a concurrent request committed the
  same unique row first (an Idempotency-Key, a MedCom message id, a CPR), the work runs once more and then
  sees that row (an idempotent replay, or the domain's own conflict): the loser of a race never gets a 500.
- **One table from failures to HTTP statuses** (``failure_for``), which first rolls the unit of work back and
  keeps the §13c record of a refused access (``refuse``). The doors only render a ``Failure`` in their own
  shape: problem details, an OperationOutcome, a negative Acknowledgement.
- **Security headers** on every response (``init_app``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

import structlog
from flask import Flask, Response, current_app, g, request
from sqlalchemy import exc as sa_exc
from werkzeug import serving
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    RequestEntityTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)

from coordinator.access.services import AccessDenied, persist_denial
from coordinator.audit.services import record
from coordinator.db import get_session
from coordinator.inputs import body_nul_paths, query_nul_names
from coordinator.security import get_clock
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import Clock
from pathways.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    FieldError,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
    VersionRequired,
)
from pathways.people import Actor
from pathways.scopes import Mode, actor_scope_allows

log = structlog.get_logger(__name__)
T = TypeVar("T")

BEARER_CHALLENGE = 'Bearer realm="carepath"'
# Seconds a client should wait after a 503 (the database is unreachable) before it tries again.
RETRY_AFTER_UNAVAILABLE = 30
# A FHIR resource nests about 15 levels at most (Bundle.entry.resource.contained.extension...); far deeper
# JSON is an attack on the parser, which recurses.
DEFAULT_MAX_JSON_DEPTH = 64
DEFAULT_MAX_BODY = 2_000_000
# Methods that carry a body that changes state (DELETE carries none: a browser cannot send it cross-site
# without a CORS preflight anyway).
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


# ---------------------------------------------------------------------------- the caller and the clock
def clock() -> Clock:
    return get_clock()


def current_actor() -> Actor:
    """The caller: a system client with a bearer token, or a logged-in user (session cookie). Resolved once
    per request; 401 when there is neither."""
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
    # accounts imports the audit and access features, which import nothing of the edge; the login module
    # needs flask-login's request context, so it is looked up here rather than at import.
    from coordinator.accounts.login import current_login_actor  # noqa: PLC0415

    actor = current_login_actor()
    if actor is None:
        raise Unauthorized("log in or send a bearer token")
    return actor


class ScopeDenied(PermissionDenied):
    """A system client's token lacks the SMART scope for what it asks: refused, and audited like every
    refusal (ADR 0004)."""

    code = "scope-denied"

    def __init__(self, actor: Actor, resource: str, mode: Mode, at: datetime) -> None:
        super().__init__(f"the token has no scope for system/{resource}.{mode}")
        self.actor = actor
        self.resource = resource
        self.mode = mode
        self.at = at


def require_scope(actor: Actor, resource: str | None, mode: Mode) -> None:
    """A system client is held to its token's scopes for ``resource`` (the FHIR resource type the data is,
    on every door); people and jobs have no scopes: their role decides, in the use cases."""
    if resource is not None and not actor_scope_allows(actor, resource, mode):
        raise ScopeDenied(actor, resource, mode, clock().now())


def etag_version(raw: str) -> int | None:
    """The version an ETag in If-Match names (``"3"`` or ``W/"3"``), or None when it names none."""
    tag = raw.strip().removeprefix("W/").strip('"')
    return int(tag) if tag.isascii() and tag.isdigit() else None


# ---------------------------------------------------------------------------- input guards
# A JSON string (skipped whole, escapes included) or one bracket: enough to measure nesting without parsing.
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_depth_exceeds(data: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than ``limit``, measured without parsing it (the
    parser recurses, so a deep enough body would crash it)."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for token in _JSON_TOKENS.finditer(data):
        first = token.group()[0]
        if first in b"[{":
            depth += 1
            if depth > limit:
                return True
        elif first in b"]}":
            depth -= 1
    return False


@dataclass(frozen=True, slots=True)
class NulInput:
    """Where text holds NUL: query parameter names, and paths in the JSON body (``a.b[2]``)."""

    query: list[str]
    body: list[str]

    def __bool__(self) -> bool:
        return bool(self.query or self.body)


def guard_input(*, json_only: bool = True) -> NulInput:
    """The checks every door runs before it parses a body or calls a use case, in this order: body size
    (413), the JSON media type on state-changing requests (415; also stops cross-site form posts riding on
    a session cookie, with or without a body), nesting depth (400). Returns where text holds NUL, for the
    door to name in its own terms (a field, a FHIRPath, a parameter)."""
    limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_BODY)
    if (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(f"bodies are limited to {limit} bytes")
    if json_only and request.method in WITH_BODY and not request.is_json:
        raise UnsupportedMediaType("send JSON (Content-Type: application/json)")
    data = request.get_data(cache=True)  # Flask stops a longer body without a length (413)
    depth = int(current_app.config.get("MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH))
    if data and json_depth_exceeds(data, depth):
        raise BadRequest(f"the JSON body nests deeper than {depth} levels")
    return NulInput(query_nul_names(), body_nul_paths())


# ---------------------------------------------------------------------------- the unit of work
def unit_of_work(work: Callable[[], T]) -> T:
    """Run ``work`` and commit once. If the commit (or a flush) loses a race on a unique row to a
    concurrent request, roll back and run the work once more: it then finds what the winner wrote (the
    stored answer of an Idempotency-Key or a MedCom message, an existing patient) and answers as for a
    repeat. A second loss is a conflict (409). Errors propagate to the door, which calls ``failure_for``."""
    session = get_session()
    try:
        result = work()
        session.commit()
    except sa_exc.IntegrityError:
        session.rollback()
        log.info("edge.unique_race_retried", path=request.path)
    else:
        return result
    try:
        result = work()
        session.commit()
    except sa_exc.IntegrityError:
        raise Conflict(
            "a concurrent request changed the same data at the same moment; send it again"
        ) from None
    return result


def rollback() -> None:
    try:
        get_session().rollback()
    except Exception:
        log.exception("edge.rollback_failed")


def refuse(error: PermissionDenied) -> None:
    """After the rollback: keep the §13c record of a refused access (a care relation or a scope), in a
    transaction of its own."""
    session = get_session()
    if isinstance(error, AccessDenied):
        persist_denial(session, error)
    elif isinstance(error, ScopeDenied):
        record(
            session,
            actor=error.actor,
            at=error.at,
            action=AuditAction.READ if error.mode == "read" else AuditAction.UPDATE,
            resource_type=error.resource,
            outcome=AuditOutcome.DENIED,
            purpose=f"system/{error.resource}.{error.mode}",
            details={"reason": error.message},
        )
    else:
        return
    session.commit()


# ---------------------------------------------------------------------------- failures
Kind = Literal[
    "invalid",
    "unauthenticated",
    "forbidden",
    "not-found",
    "conflict",
    "stale-version",
    "business-rule",
    "unavailable",
    "http",
    "internal",
]
# Domain errors to statuses, most specific first: one table for every door.
STATUS: tuple[tuple[type[DomainError], int, Kind], ...] = (
    (ValidationFailed, 422, "invalid"),
    (StaleVersion, 412, "stale-version"),
    (VersionRequired, 428, "stale-version"),
    (IllegalTransition, 409, "business-rule"),
    (Conflict, 409, "conflict"),
    (NotFound, 404, "not-found"),
    (AuthenticationFailed, 401, "unauthenticated"),
    (PermissionDenied, 403, "forbidden"),
)
# The database cannot be reached (down, restarting, out of connections): try again later.
UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed request as every door sees it: the status, what kind of failure, a message for the caller
    (never a stack trace, never a statement's parameters), field errors, headers and the error itself."""

    status: int
    kind: Kind
    message: str
    code: str = ""
    errors: tuple[FieldError, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None


def failure_for(error: BaseException) -> Failure:
    """Roll back the unit of work, keep the record of a refusal, and say what the caller is told."""
    rollback()
    if isinstance(error, DomainError):
        return _domain_failure(error)
    if isinstance(error, HTTPException):
        return _http_failure(error)
    if isinstance(error, UNAVAILABLE):
        log.error(
            "edge.database_unavailable",
            error_type=type(error).__name__,
            cause=type(getattr(error, "orig", None)).__name__,
        )
        return Failure(
            503,
            "unavailable",
            "the database is not reachable at the moment; try again shortly",
            code="unavailable",
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
            error=error,
        )
    if isinstance(error, sa_exc.StatementError):
        # Its text carries the statement's parameters, and those may be a CPR number: never logged.
        log.error(
            "edge.unhandled_error",
            error_type=type(error).__name__,
            cause=type(error.orig).__name__,
            statement=error.statement,
        )
    else:
        log.error("edge.unhandled_error", error_type=type(error).__name__, exc_info=error)
    return Failure(500, "internal", "the server could not handle the request", error=error)


def _domain_failure(error: DomainError) -> Failure:
    status, kind = next(
        ((s, k) for cls, s, k in STATUS if isinstance(error, cls)), (400, "invalid")
    )
    if isinstance(error, PermissionDenied):
        refuse(error)
    errors = error.errors if isinstance(error, ValidationFailed) else ()
    headers = {"WWW-Authenticate": BEARER_CHALLENGE} if status == 401 else {}
    return Failure(status, kind, error.message, error.code, errors, headers, error)


def _http_failure(error: HTTPException) -> Failure:
    status = error.code or 500
    headers = dict(error.get_headers())  # e.g. Allow on 405, WWW-Authenticate on 401
    headers.pop("Content-Type", None)
    if status == 401:
        headers.setdefault("WWW-Authenticate", BEARER_CHALLENGE)
    if status >= 500:
        return Failure(
            status, "internal", "the server could not handle the request", "", (), headers
        )
    message = error.description or "request refused"
    return Failure(status, "http", message, "", (), headers, error)


# ---------------------------------------------------------------------------- security headers
_CSP = (
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'; img-src 'self' data:"
)
# Swagger UI (flask-smorest's page) starts itself with an inline script and styles itself inline.
_CSP_API_DOCS = _CSP + "; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'"
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def _security_headers(response: Response) -> Response:
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    docs = current_app.config.get("OPENAPI_SWAGGER_UI_PATH")
    is_docs = bool(docs) and request.path.rstrip("/").endswith(f"/{docs}")
    response.headers.setdefault("Content-Security-Policy", _CSP_API_DOCS if is_docs else _CSP)
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    # Texts for people are Danish unless the request asks for English (coordinator.i18n).
    response.vary.add("Accept-Language")
    return response


def _hide_server_version() -> None:
    """The development server announces ``Werkzeug/x Python/y`` in ``Server``; a production server is
    configured on its own (docs). Say only the product's name."""
    serving.WSGIRequestHandler.server_version = "carepath"  # type: ignore[assignment]
    serving.WSGIRequestHandler.sys_version = ""


# ---------------------------------------------------------------------------- failures by door
FailureHandler = Callable[[Exception], Any]


def handle_failures_under(app: Flask, prefix: str, handler: FailureHandler) -> None:
    """Failures of requests whose path starts with ``prefix`` (no view of a door's blueprint may have
    been found, e.g. an unknown address) are answered by that door's ``handler``; the longest prefix
    wins. Paths of no door keep Flask's own answer."""
    handlers: dict[str, FailureHandler] = app.extensions.setdefault("carepath.failure_doors", {})
    handlers[prefix] = handler


def answer_failure(error: Exception) -> Any:
    handlers: dict[str, FailureHandler] = current_app.extensions.get("carepath.failure_doors", {})
    for prefix in sorted(handlers, key=len, reverse=True):
        if request.path.startswith(prefix):
            return handlers[prefix](error)
    if isinstance(error, HTTPException):
        return error
    raise error


def init_app(app: Flask) -> None:
    app.register_error_handler(Exception, answer_failure)
    app.config.setdefault("MAX_CONTENT_LENGTH", DEFAULT_MAX_BODY)
    app.config.setdefault("MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH)
    app.after_request(_security_headers)
    _hide_server_version()
