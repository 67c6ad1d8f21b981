"""Logging in and out, and changing one's own password (web UI).

Each view calls one use case and commits once after it succeeds. The exception is a refused login: its
bookkeeping (failed-attempt counter, lockout, audit entry) is committed although the login failed.
"""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import urlsplit

import structlog
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user

from coordinator.accounts.forms import ChangePasswordForm, LoginForm
from coordinator.accounts.login import LoginUser, current_account
from coordinator.accounts.models import User
from coordinator.accounts.services import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    authenticate,
    change_own_password,
)
from coordinator.db import get_session
from coordinator.security import LAST_SEEN_KEY, get_clock, get_limiter
from pathways.errors import AccountLocked, AuthenticationFailed, FieldError, ValidationFailed

bp = Blueprint("accounts", __name__)


def _log() -> Any:
    # A fresh logger each time: create_app configures structlog, and a logger cached on first use would
    # keep the configuration of whichever app (of the many a test run makes) used it first.
    return structlog.get_logger(__name__)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: an open redirect after login is a phishing tool."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def _refusal_message(refusal: AuthenticationFailed) -> str:
    if isinstance(refusal, AccountLocked):
        if refusal.locked_until is None:
            return _(
                "The account is temporarily locked after too many failed logins. Try again later."
            )
        seconds = (refusal.locked_until - get_clock().now()).total_seconds()
        minutes = max(1, math.ceil(seconds / 60))
        return ngettext(
            "The account is temporarily locked for logins from your address after too many "
            "failed attempts. Try again in %(num)d minute.",
            "The account is temporarily locked for logins from your address after too many "
            "failed attempts. Try again in %(num)d minutes.",
            minutes,
        )
    return _("Wrong username or password")


def _field_message(error: FieldError) -> str:
    messages = {
        ("current_password", "wrong"): _("The current password is wrong"),
        ("new_password", "too-short"): _(
            "Use at least %(num)d characters", num=MIN_PASSWORD_LENGTH
        ),
        ("new_password", "too-long"): _("Use at most %(num)d characters", num=MAX_PASSWORD_LENGTH),
        ("new_password", "unchanged"): _("Choose a password different from the current one"),
    }
    if error.code.startswith("weak"):
        return _weak_password_message(error.code)
    return messages.get((error.field, error.code), error.message)


def _weak_password_message(code: str) -> str:
    """Why zxcvbn finds a new password easy to guess (passwords.WEAK_REASONS), and what helps."""
    reasons = {
        "weak-personal": _(
            "It contains your name, username, e-mail address, organisation or the product's name."
        ),
        "weak-common": _("It is a common password or close to one."),
        "weak-repeat": _("It repeats characters or words."),
        "weak-sequence": _("It contains a sequence like abc or 6543."),
        "weak-keyboard": _("It follows a pattern on the keyboard."),
        "weak-date": _("It contains a year or a date."),
        "weak-words": _("Common words and names alone are not enough."),
    }
    parts = [_("The password is too easy to guess."), reasons.get(code, "")]
    parts.append(_("Add another word or two; uncommon words are better."))
    return " ".join(part for part in parts if part)


def _start_session(user: User) -> None:
    session.clear()  # nothing from before the login survives it, the CSRF token included
    login_user(LoginUser(user))
    session[LAST_SEEN_KEY] = get_clock().now().timestamp()


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    next_url = _safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("web.index"))
    form = LoginForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            user = authenticate(
                db,
                get_clock(),
                form.username.data or "",
                form.password.data or "",
                address=request.remote_addr or "",
            )
        except AuthenticationFailed as refusal:
            db.commit()
            _log().info("login.refused", code=refusal.code)
            form.form_errors.append(_refusal_message(refusal))
        else:
            db.commit()
            _start_session(user)
            _log().info("login.succeeded", user_id=user.id)
            if user.must_change_password:
                return redirect(url_for(".change_password"), code=HTTPStatus.SEE_OTHER)
            return redirect(next_url or url_for("web.index"), code=HTTPStatus.SEE_OTHER)
    return render_template("accounts/login.html", form=form, next_url=next_url)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    account = current_account()
    if account is not None:
        _log().info("logout", user_id=account.id)
    logout_user()
    session.clear()
    flash(_("You have been logged out."), "info")
    return redirect(url_for(".login"), code=HTTPStatus.SEE_OTHER)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    user = current_account()
    assert user is not None  # login_required let us in
    form = ChangePasswordForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            change_own_password(
                db,
                user,
                get_clock(),
                form.current_password.data or "",
                form.new_password.data or "",
            )
        except ValidationFailed as invalid:
            db.rollback()
            for error in invalid.errors:
                if error.field in form:
                    form[error.field].errors.append(_field_message(error))
                else:
                    form.form_errors.append(_field_message(error))
        else:
            db.commit()
            _log().info("password.changed", user_id=user.id)
            flash(_("Your password has been changed."), "info")
            return redirect(url_for("web.index"), code=HTTPStatus.SEE_OTHER)
    return render_template(
        "accounts/change_password.html",
        form=form,
        must_change=user.must_change_password,
        min_length=MIN_PASSWORD_LENGTH,
    )


@bp.errorhandler(HTTPStatus.TOO_MANY_REQUESTS)
def too_many_attempts(_error: Exception) -> ResponseReturnValue:
    _log().warning("login.rate_limited", endpoint=request.endpoint)
    return render_template("accounts/too_many_requests.html"), HTTPStatus.TOO_MANY_REQUESTS


def _attempt_failed(response: Response) -> bool:
    # Success answers with 303 See Other; everything else (a refusal, a form with errors) uses up the
    # allowance, so that staff behind one hospital NAT address can all log in at the start of a shift.
    return response.status_code != HTTPStatus.SEE_OTHER


def _attempt_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@bp.record_once
def _limit_attempts(state: BlueprintSetupState) -> None:
    """Rate-limit the password-checking POSTs with this app's own limiter (security.get_limiter).

    Applied here, per app, rather than with a decorator at import time, which would need one limiter
    shared by every app of the process. Runs after the routes above are registered (deferred in order).
    """
    app = cast(Flask, state.app)
    limiter = get_limiter(app)
    for endpoint in (f"{bp.name}.login", f"{bp.name}.change_password"):
        app.view_functions[endpoint] = limiter.limit(  # type: ignore[assignment]
            _attempt_limit, methods=["POST"], deduct_when=_attempt_failed
        )(app.view_functions[endpoint])
