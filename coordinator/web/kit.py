"""The web door's side of the edge kit (coordinator.edge): who is asking, what time it is, one commit per
use case, and failures rendered for people.

A web view looks like this::

    bp = web_blueprint("plans", __name__, url_prefix="/plans")

    @bp.post("/<int:plan_id>/propose")
    def propose(plan_id: int) -> ResponseReturnValue:
        form = ProposeForm()
        if not form.validate_on_submit():
            return render_template("plans/propose.html", form=form), 422
        try:
            perform(lambda: plan_services.propose(get_session(), actor(), now(), plan_id, ...))
        except ValidationFailed as error:
            show_field_errors(form, error)          # next to the field, what was typed is kept
            return render_template("plans/propose.html", form=form), 422
        flash(_("The plan was proposed"), "success")
        return redirect(url_for("plans.show", plan_id=plan_id))

Any other error (refused access, not found, stale version, the database down) reaches the blueprint's
error handler: rolled back, a refusal audited (edge.failure_for), and a Danish page with no detail of the
data. "No such patient" and "not yours" are the same 404 page, so the page tells nothing of who exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any, TypeVar

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString  # type: ignore[import-untyped]
from flask_login import current_user

from coordinator import edge
from coordinator.i18n import Form
from pathways.errors import FieldError, ValidationFailed
from pathways.people import Actor

T = TypeVar("T")


def actor() -> Actor:
    """The logged-in person, resolved once per request (edge.current_actor)."""
    return edge.current_actor()


def now() -> datetime:
    return edge.clock().now()


def perform(work: Callable[[], T]) -> T:
    """Run one use case and commit once (edge.unit_of_work); errors go to the caller or the handler."""
    return edge.unit_of_work(work)


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


# ---------------------------------------------------------------------------- forms
# The use cases name their field errors in English for API callers. People read words from the catalogue:
# a screen's own by (field, code) or by code, else these by code, else a general one.
FIELD_CODE_MESSAGES: dict[str, LazyString] = {
    "required": _l("This field is required."),
    "too-long": _l("The text is too long."),
    "too-many": _l("There are too many."),
    "invalid-choice": _l("Choose one of the options."),
    "in-past": _l("Choose a time in the future."),
    "too-early": _l("The date is too early."),
    "unknown": _l("carepath does not know that choice."),
}
FieldMessages = Mapping[tuple[str, str] | str, str | LazyString]


def field_message(problem: FieldError, messages: FieldMessages | None = None) -> str:
    """The words a person reads for one of a use case's field errors (see FIELD_CODE_MESSAGES)."""
    own = messages or {}
    found = own.get((problem.field, problem.code)) or own.get(problem.code)
    found = found or FIELD_CODE_MESSAGES.get(problem.code)
    return str(found) if found is not None else _("Check what you entered here.")


def show_field_errors(
    form: Form,
    error: ValidationFailed | Iterable[FieldError],
    messages: FieldMessages | None = None,
    *,
    renamed: Mapping[str, str] | None = None,
) -> None:
    """Put a use case's field errors next to the form's fields (by name; the part before the first dot or
    bracket of a nested path, or as ``renamed`` says), the rest above the form, each in the words of
    ``field_message``. What was typed stays in the form."""
    errors = error.errors if isinstance(error, ValidationFailed) else tuple(error)
    if isinstance(error, ValidationFailed) and not errors:
        form.form_errors.append(_("The input could not be used."))
    for problem in errors:
        text = field_message(problem, messages)
        name = problem.field.split(".", 1)[0].split("[", 1)[0]
        field = form._fields.get((renamed or {}).get(name, name))
        if field is not None:
            field.errors = [*field.errors, text]
        else:
            form.form_errors.append(text)


# ---------------------------------------------------------------------------- failures
# Danish (and English) words for domain refusals people meet, by the error's code; a code not listed gets
# its kind's general explanation. The domain's own messages are for API callers and in English.
RULE_MESSAGES: dict[str, LazyString] = {
    "own-account-deactivation": _l(
        "You cannot deactivate your own account. Ask another administrator to do it."
    ),
    # Refusals of the plan use cases (codes of pathways.plans and pathways.agreements):
    "plan-not-editable": _l(
        "Only a draft or a plan under revision can be changed. Start a revision of the plan first."
    ),
    "plan-not-answerable": _l(
        "The plan is not waiting for answers: it has been answered already, or it has not been "
        "proposed yet. Reload the plan to see where it stands."
    ),
    "plan-exists": _l(
        "The stay already has an open discharge agreement or coordination plan. Open that one "
        "from the patient's page instead."
    ),
    "illegal-transition": _l(
        "The plan cannot take that step from the state it is in now. Reload the plan and check it."
    ),
}


def _kind(failure: edge.Failure) -> str:
    if failure.kind == "http":
        return {404: "not-found", 403: "forbidden", 405: "not-found"}.get(failure.status, "http")
    if failure.status == 403 and failure.code != "scope-denied":
        return "not-found"  # "not yours" looks like "no such"
    return failure.kind


def _title(kind: str) -> str:
    titles = {
        "not-found": _("The page was not found"),
        "forbidden": _("You do not have access"),
        "stale-version": _("Someone else changed this in the meantime"),
        "conflict": _("The change could not be made"),
        "business-rule": _("The change could not be made"),
        "invalid": _("The input could not be used"),
        "unavailable": _("carepath is not available at the moment"),
        "internal": _("Something went wrong"),
    }
    return titles.get(kind, _("The request could not be handled"))


def _explanation(kind: str, failure: edge.Failure) -> str:
    if failure.code in RULE_MESSAGES:
        return str(RULE_MESSAGES[failure.code])
    explanations = {
        "not-found": _(
            "There is no such page, or you have no care relation to the patient it concerns. "
            "Every refused access is recorded."
        ),
        "forbidden": _("Your role does not allow this."),
        "unavailable": _("The database cannot be reached. Try again in a moment."),
        "internal": _(
            "The error has been logged. Try again, and contact support if it happens again."
        ),
        "stale-version": _(
            "Reload the page to see the newest version, then make your change again."
        ),
        "business-rule": _(
            "The change does not fit the current state. Reload the page and check it."
        ),
        "conflict": _("Someone made a change at the same moment. Try again."),
        "invalid": _("Check what you entered and try again."),
    }
    return explanations.get(kind, _("Go back and try again."))


def failure_page(error: BaseException) -> ResponseReturnValue:
    """A failure as a page (or, for htmx, the same message as a fragment): rolled back and audited by the
    edge; a refused access and a missing record look the same (404)."""
    failure = edge.failure_for(error)
    if failure.status == 401:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    kind = _kind(failure)
    refused = failure.status == HTTPStatus.FORBIDDEN and failure.code != "scope-denied"
    status = HTTPStatus.NOT_FOUND if refused else failure.status
    template = "errors/_failure.html" if is_htmx() else "errors/failure.html"
    body = render_template(
        template, title=_title(kind), explanation=_explanation(kind, failure), status=status
    )
    response = make_response(body, status)
    for name, value in failure.headers.items():
        if name != "WWW-Authenticate":
            response.headers[name] = value
    return response


def _require_login() -> ResponseReturnValue | None:
    if not current_user.is_authenticated:
        if is_htmx():
            response = make_response("", HTTPStatus.UNAUTHORIZED)
            response.headers["HX-Redirect"] = url_for("accounts.login")
            return response
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    return None


def web_blueprint(name: str, import_name: str, **options: Any) -> Blueprint:
    """A blueprint of the web door: every view needs a logged-in person, and every error becomes a page."""
    bp = Blueprint(name, import_name, **options)
    bp.before_request(_require_login)
    bp.register_error_handler(Exception, failure_page)
    return bp
