"""Login, sessions and request hardening, set up in one place: ``init_app(app)``.

- flask-login with a user loader that refuses deactivated accounts (coordinator.accounts.login);
- CSRF protection for every form (flask-wtf); token-authenticated JSON blueprints get exempted with
  ``csrf.exempt(blueprint)``;
- Flask-Limiter, one limiter per app (``get_limiter``), storage from ``RATELIMIT_STORAGE_URI``;
- an idle timeout: a logged-in session unused for ``SESSION_IDLE_MINUTES`` is ended;
- users with a temporary password are sent to the change-password page before anything else;
- a request id on every request: in the audit context, in the structlog context, in ``X-Request-ID``.

The clock lives in ``app.extensions[CLOCK_KEY]`` (SystemClock unless a test puts a FixedClock there); views
take it from ``get_clock()`` and pass it to the use cases.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import structlog
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from coordinator.accounts.login import load_user
from coordinator.audit.services import AuditContext, audit_context
from coordinator.config import DEFAULT_LOGIN_RATE_LIMIT
from pathways.clock import Clock, SystemClock
from pathways.identifiers import CPR_SHAPED

CLOCK_KEY = "carepath.clock"
LIMITER_KEY = "carepath.limiter"
# Epoch seconds of the session's latest request, kept in the signed session cookie.
LAST_SEEN_KEY = "last_seen"
REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a proxy as a request id; anything else is replaced by a new one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

# Pages a user with a temporary password may still reach (everything else leads to the change page).
_ALLOWED_BEFORE_PASSWORD_CHANGE = frozenset(
    {"accounts.change_password", "accounts.logout", "static", "web.healthz"}
)

# flask-wtf's CSRFProtect keeps only the names of exempted views and blueprints: one instance serves every
# app of the process.
csrf = CSRFProtect()


def get_clock(app: Flask | None = None) -> Clock:
    clock: Clock = (app or current_app).extensions[CLOCK_KEY]
    return clock


def get_limiter(app: Flask | None = None) -> Limiter:
    limiter: Limiter = (app or current_app).extensions[LIMITER_KEY]
    return limiter


def _caller() -> str:
    """Whom a rate limit counts: the bearer token (hashed: tokens are never kept), else the logged-in
    user, else the address."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()
    user_id = session.get("_user_id")
    return f"user:{user_id}" if user_id else f"address:{get_remote_address()}"


def limit_callers(app: Flask, blueprints: Sequence[Blueprint], *, scope: str) -> None:
    """One request budget per caller across these blueprints (API_RATE_LIMIT; off when empty, as it is
    by default under TESTING). Over it, the interface's own error shape (problem details,
    OperationOutcome) with status 429 and Retry-After."""
    limit = app.config["API_RATE_LIMIT"]
    if not limit:
        return
    shared = get_limiter(app).shared_limit(limit, scope=scope, key_func=_caller)
    for blueprint in blueprints:
        shared(blueprint)


def _login_url() -> str:
    # Only a page can be come back to: after a refused POST the user starts again from the form.
    if request.method != "GET":
        return str(current_app.url_for("accounts.login"))
    return str(current_app.url_for("accounts.login", next=request.full_path.rstrip("?")))


def _unauthorized() -> ResponseReturnValue:
    flash(_("Please log in to see this page."), "info")
    return redirect(_login_url())


def _channel() -> str:
    """Which door the request came through, for the audit log."""
    for prefix, channel in (("/api/", "rest"), ("/fhir", "fhir"), ("/oauth/", "oauth")):
        if request.path.startswith(prefix):
            return channel
    return "web"


def new_request_id() -> str:
    """A fresh request id with nothing CPR-shaped in it: the log redactor would mask such a run of digits,
    and the id would no longer lead from a log line to its audit rows."""
    while CPR_SHAPED.search(made := uuid.uuid4().hex):
        pass
    return made


def _bind_request_id() -> None:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    usable = _REQUEST_ID.fullmatch(offered) and not CPR_SHAPED.search(offered)
    request_id = offered if usable else new_request_id()
    g.request_id = request_id
    g.audit_context_token = audit_context.set(
        AuditContext(channel=_channel(), request_id=request_id)
    )
    g.structlog_tokens = structlog.contextvars.bind_contextvars(request_id=request_id)


def _unbind_request_id(_exc: BaseException | None) -> None:
    # Threads are reused between requests (and tests run requests in their own thread): put back what
    # was there before this request, so that nothing after it is attributed to it.
    token = g.pop("audit_context_token", None)
    if token is not None:
        audit_context.reset(token)
    tokens = g.pop("structlog_tokens", None)
    if tokens is not None:
        structlog.contextvars.reset_contextvars(**tokens)


def _end_idle_session() -> ResponseReturnValue | None:
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    now = get_clock().now()
    idle_limit = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    last_seen = session.get(LAST_SEEN_KEY)
    # A logged-in session without a timestamp was not made by our login view: end it too.
    if (
        not isinstance(last_seen, int | float)
        or now - datetime.fromtimestamp(last_seen, UTC) > idle_limit
    ):
        structlog.get_logger(__name__).info("session.idle_timeout", user_id=current_user.id)
        logout_user()
        session.clear()
        flash(
            _(
                "You were logged out after %(minutes)d minutes without activity.",
                minutes=current_app.config["SESSION_IDLE_MINUTES"],
            ),
            "info",
        )
        return redirect(_login_url())
    session[LAST_SEEN_KEY] = now.timestamp()
    return None


def _require_password_change() -> ResponseReturnValue | None:
    if request.endpoint in _ALLOWED_BEFORE_PASSWORD_CHANGE or not current_user.is_authenticated:
        return None
    if current_user.must_change_password:
        return redirect(current_app.url_for("accounts.change_password"), code=303)
    return None


def _finish_response(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    # Pages for a logged-in user may show patient data: no copy in the browser cache of a shared PC.
    if request.endpoint != "static" and "_user_id" in session:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    structlog.get_logger(__name__).info("csrf.refused", reason=error.description)
    retry = (
        request.path if request.endpoint in {"accounts.login", "accounts.change_password"} else "/"
    )
    return render_template("accounts/csrf_error.html", retry_url=retry), 400


def _trust_proxies(app: Flask, count: object) -> None:
    """Take the client address from X-Forwarded-For, as set by ``count`` reverse proxies of our own.

    Without proxies (0, the default) the header is ignored: anyone can write it, and login throttling
    and rate limits count by this address. With N proxies, ProxyFix takes the N-th address from the
    right, the one our outermost proxy saw; whatever the client put in front of it is ignored.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"TRUSTED_PROXY_COUNT must be a whole number from 0, not {count!r}")
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count)  # type: ignore[method-assign]


def init_app(app: Flask) -> None:
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_SECURE", False)
    app.config.setdefault("SESSION_IDLE_MINUTES", 30)
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("LOGIN_RATE_LIMIT", DEFAULT_LOGIN_RATE_LIMIT)
    app.config.setdefault("TRUSTED_PROXY_COUNT", 0)
    app.extensions.setdefault(CLOCK_KEY, SystemClock())
    _trust_proxies(app, app.config["TRUSTED_PROXY_COUNT"])

    login_manager = LoginManager(app)
    login_manager.login_view = "accounts.login"
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(_unauthorized)

    # Order matters: the request id first (so that every later refusal carries it), then the idle
    # timeout (a stale session is ended before its form is even checked), then CSRF, then rate limits.
    app.before_request(_bind_request_id)
    app.teardown_request(_unbind_request_id)
    app.before_request(_end_idle_session)
    csrf.init_app(app)
    app.register_error_handler(CSRFError, _csrf_error)
    # One limiter per app: a module-level Limiter would hand every app of the process (tests make many)
    # the storage and the on/off switch of whichever app was set up last.
    app.extensions[LIMITER_KEY] = Limiter(
        get_remote_address,
        app=app,
        storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        headers_enabled=app.config["RATELIMIT_HEADERS_ENABLED"],
    )
    app.before_request(_require_password_change)
    app.after_request(_finish_response)
