"""Reminders: my and my organisation's open reminders, most urgent first, and one reminder's page (the
page the link in every reminder mail opens) with acknowledge, snooze, dismiss with a reason and share
with another party by MedCom. The actions answer htmx with the reminder's card, and work without
JavaScript too (POST-redirect-GET)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import HiddenInput

from coordinator import edge
from coordinator.db import get_session
from coordinator.i18n import Form, request_language
from coordinator.messaging.outbound import share_reminder
from coordinator.reminders import services
from coordinator.reminders.models import Reminder
from coordinator.web.kit import (
    FieldMessages,
    actor,
    is_htmx,
    now,
    perform,
    show_field_errors,
    web_blueprint,
)
from pathways.access import NO_CLINICAL_CONTENT
from pathways.clock import COPENHAGEN, to_copenhagen
from pathways.errors import ValidationFailed
from pathways.labels import label_or_code, reminder_message
from pathways.legal import all_legal_bases
from pathways.permissions import Permission, roles_with
from pathways.reminders import MAX_SNOOZE_DAYS, ReminderStatus
from pathways.reminders.lifecycle import MAX_DISMISS_REASON

bp = web_blueprint("reminders_web", __name__, url_prefix="/reminders")

# Who has a reminder inbox (the menu shows it to them only): those who handle reminders and read clinical
# content (reminders.services._require_inbox).
INBOX_ROLES = frozenset(
    role.value
    for role in roles_with(Permission.HANDLE_REMINDERS)
    if role not in NO_CLINICAL_CONTENT
)
PAGE_SIZE = 25
SHARE_CATEGORIES = ("carecoordination", "discharge", "psychiatry-social-disability")
SCOPES = ("all", "mine")
_REQUIRED = _l("This field is required")


# ---------------------------------------------------------------------------- forms
class _LocalDateTimeField(DateTimeLocalField):
    """A date and time in Copenhagen (``<input type="datetime-local">``), with a Danish message."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(_("Enter a date and a time")) from error


class _VersionedForm(Form):
    class Meta:
        # The card holds four forms: the app-wide CSRF check (CSRFProtect) reads the one token each form
        # carries as ``csrf_token``, instead of a prefixed token field per form.
        csrf = False

    # The version the person saw: a change made meanwhile by someone else is refused, not overwritten.
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class AcknowledgeForm(_VersionedForm):
    pass


class SnoozeForm(_VersionedForm):
    snoozed_until = _LocalDateTimeField(
        _l("Snooze until"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],  # what a datetime-local input sends
        validators=[InputRequired(message=_REQUIRED)],
    )


class DismissForm(_VersionedForm):
    reason = TextAreaField(
        _l("Why does the reminder not apply?"),
        validators=[
            DataRequired(message=_l("Give a reason")),
            Length(max=MAX_DISMISS_REASON, message=_l("That is too long")),
        ],
    )


class ShareForm(_VersionedForm):
    organisation_id = SelectField(
        _l("Share with"),
        coerce=lambda value: int(value) if str(value).isdigit() else 0,
        validate_choice=False,
    )
    # The MedCom categories offered (as the REST API offers them); named in pathways/data/labels.toml.
    category = SelectField(_l("Category"), default=SHARE_CATEGORIES[0], validate_choice=False)

    def validate_organisation_id(self, field: SelectField) -> None:
        offered = {value for value, _label in field.choices or [] if value}
        if field.data not in offered:
            raise ValidationError(_("Choose whom to share the reminder with"))

    def validate_category(self, field: SelectField) -> None:
        if field.data not in SHARE_CATEGORIES:
            raise ValidationError(_("Choose a category"))


def _forms(details: services.ReminderDetails) -> dict[str, Form]:
    """The card's forms, each filled from the request when it is the one submitted."""
    reminder = details.reminder
    version = {"version": reminder.version}
    snooze = SnoozeForm(prefix="snooze", data=version)
    if snooze.snoozed_until.data is None:
        tomorrow = to_copenhagen(now()) + timedelta(days=1)
        snooze.snoozed_until.data = tomorrow.replace(hour=8, minute=0, second=0, microsecond=0)
    share = ShareForm(prefix="share", data=version)
    share.organisation_id.choices = [("", _("Choose a party"))] + [
        (org.id, org.name) for org in details.share_with
    ]
    share.category.choices = [
        (code, label_or_code("care_communication_category", code, request_language()))
        for code in SHARE_CATEGORIES
    ]
    return {
        "acknowledge": AcknowledgeForm(prefix="acknowledge", data=version),
        "snooze": snooze,
        "dismiss": DismissForm(prefix="dismiss", data=version),
        "share": share,
    }


# ---------------------------------------------------------------------------- reading
def legal_text(key: str) -> str:
    """The legal basis in the reader's language, its reference first ("" for an unknown key)."""
    basis = all_legal_bases().get(key)
    return "" if basis is None else f"{basis.reference}: {basis.text(request_language())}"


def legal_reference(key: str) -> str:
    basis = all_legal_bases().get(key)
    return "" if basis is None else basis.reference


def reminder_text(reminder: Reminder) -> str:
    """Why: the gap in words, in the reader's language (pathways/data/labels.toml)."""
    return reminder_message(reminder.rule, reminder.params, request_language())


def is_overdue(reminder: Reminder) -> bool:
    return reminder.due_at <= now() and reminder.status in services.OPEN_STATES


def _context() -> dict[str, Any]:
    return {
        "legal_text": legal_text,
        "legal_reference": legal_reference,
        "reminder_text": reminder_text,
        "is_overdue": is_overdue,
        "open_states": services.OPEN_STATES,
        "statuses": ReminderStatus,
        "max_snooze_days": MAX_SNOOZE_DAYS,
        "now_local": to_copenhagen(now()),
    }


@bp.get("")
def index() -> ResponseReturnValue:
    scope = request.args.get("scope", "all")
    if scope not in SCOPES:
        scope = "all"
    page = request.args.get("page", 1, type=int) or 1
    found = perform(  # the read is audited: its rows are committed
        lambda: services.inbox_page(
            get_session(),
            actor(),
            edge.clock(),
            mine_only=scope == "mine",
            page=max(page, 1),
            page_size=PAGE_SIZE,
        )
    )
    if page > found.pages:  # past the end (the inbox shrank): its last page
        return redirect(url_for("reminders_web.index", scope=scope, page=found.pages))
    return render_template("reminders/index.html", found=found, scope=scope, **_context())


def _details(reminder_id: int) -> services.ReminderDetails:
    """The reminder, read and audited (committed: the page shows patient data)."""
    return perform(
        lambda: services.reminder_details(get_session(), actor(), edge.clock(), reminder_id)
    )


def _render_show(
    details: services.ReminderDetails,
    forms: dict[str, Form] | None = None,
    *,
    status: int = 200,
    message: str = "",
) -> ResponseReturnValue:
    forms = forms or _forms(details)
    template = "reminders/_card.html" if is_htmx() else "reminders/show.html"
    body = render_template(template, details=details, forms=forms, message=message, **_context())
    return body, status


@bp.get("/<int:reminder_id>")
def show(reminder_id: int) -> ResponseReturnValue:
    return _render_show(_details(reminder_id))


# ---------------------------------------------------------------------------- actions
# The use case's field errors by code, in the reader's language (the domain's own words are English).
def _field_messages() -> FieldMessages:
    return {
        "in-past": _("Choose a time in the future"),
        "too-far": _("Choose a time at most %(days)d days ahead", days=MAX_SNOOZE_DAYS),
        "required": _("Give a reason"),
        "too-long": _("That is too long"),
        "unknown": _("That party has no MedCom address in carepath"),
    }


def _act(
    reminder_id: int,
    name: str,
    work: Callable[[Form], object],
    done: str,
) -> ResponseReturnValue:
    """Validate the named form of the card, run its use case once, then answer: htmx gets the card
    again, a browser without JavaScript is sent back to the reminder's page (POST-redirect-GET); an
    invalid form is shown again with its errors (422)."""
    details = _details(reminder_id)
    forms = _forms(details)
    form = forms[name]
    if form.validate_on_submit():
        try:
            perform(lambda: work(form))
        except ValidationFailed as error:
            edge.rollback()  # nothing of the refused change is kept
            show_field_errors(form, error, _field_messages())
        else:
            if is_htmx():
                return _render_show(_details(reminder_id), message=done)
            flash(done, "success")
            return redirect(url_for("reminders_web.show", reminder_id=reminder_id))
    return _render_show(details, forms, status=422)


def _version(form: Form) -> int:
    return int(form.version.data)


@bp.post("/<int:reminder_id>/acknowledge")
def acknowledge(reminder_id: int) -> ResponseReturnValue:
    return _act(
        reminder_id,
        "acknowledge",
        lambda form: services.acknowledge_reminder(
            get_session(),
            actor(),
            edge.clock(),
            reminder_id=reminder_id,
            expected_version=_version(form),
        ),
        _("The reminder is acknowledged"),
    )


def _copenhagen(value: datetime) -> datetime:
    return value.replace(tzinfo=COPENHAGEN) if value.tzinfo is None else value


@bp.post("/<int:reminder_id>/snooze")
def snooze(reminder_id: int) -> ResponseReturnValue:
    return _act(
        reminder_id,
        "snooze",
        lambda form: services.snooze_reminder(
            get_session(),
            actor(),
            edge.clock(),
            reminder_id=reminder_id,
            until=_copenhagen(form.snoozed_until.data),
            expected_version=_version(form),
        ),
        _("The reminder is snoozed"),
    )


@bp.post("/<int:reminder_id>/dismiss")
def dismiss(reminder_id: int) -> ResponseReturnValue:
    return _act(
        reminder_id,
        "dismiss",
        lambda form: services.dismiss_reminder(
            get_session(),
            actor(),
            edge.clock(),
            reminder_id=reminder_id,
            reason=form.reason.data,
            expected_version=_version(form),
        ),
        _("The reminder is dismissed"),
    )


@bp.post("/<int:reminder_id>/share")
def share(reminder_id: int) -> ResponseReturnValue:
    return _act(
        reminder_id,
        "share",
        lambda form: share_reminder(
            get_session(),
            actor(),
            edge.clock(),
            reminder_id=reminder_id,
            organisation_id=form.organisation_id.data,
            category=form.category.data,
            config=current_app.config,
        ),
        _("The reminder is shared by MedCom"),
    )
