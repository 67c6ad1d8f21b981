"""Network meetings of one patient: request, schedule, record (who took part, the citizen's own words),
cancel; the actions agreed, each with an owner organisation and a due date, marked done or not done.

One page (``meetings_web.index``) lists the meetings with their actions and carries every form; each form
posts to its own address, calls one use case (coordinator.meetings.services) and redirects back, or
re-renders the page with the errors next to the fields (422). Field ids carry the meeting's (or action's)
id, so the forms of several meetings on one page never share an id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from coordinator import edge
from coordinator.db import get_session
from coordinator.i18n import Form
from coordinator.meetings import services
from coordinator.meetings.models import MeetingAction, NetworkMeeting
from coordinator.web.kit import (
    FieldMessages,
    actor,
    now,
    perform,
    show_field_errors,
    web_blueprint,
)
from pathways import meetings as domain
from pathways.clock import COPENHAGEN, to_copenhagen
from pathways.errors import ValidationFailed

bp = web_blueprint("meetings_web", __name__)

# The use cases' field errors people meet, in their language (by field and code); others are shown as
# the use case words them.
_FIELD_MESSAGES: FieldMessages = {
    ("reason", "required"): _l("Write why the meeting is needed."),
    ("scheduled_for", "in-past"): _l("The time must not lie in the past."),
    ("held_on", "in-future"): _l("The meeting cannot be recorded before it is held."),
    ("held_on", "too-early"): _l("The meeting cannot be held before it was requested."),
    ("participants", "required"): _l("Name at least one participant."),
    ("participants", "too-long"): _l("A participant can be at most 200 characters."),
    ("participants", "too-many"): _l("At most 30 participants."),
    ("owner_organisation_id", "not-a-party"): _l(
        "The owner must be an organisation with a part in the citizen's care."
    ),
    ("owner_organisation_id", "required"): _l("Choose the organisation that owns the action."),
    ("due_on", "too-early"): _l("The due date cannot be before the meeting."),
    ("description", "required"): _l("Describe the action."),
}


# ------------------------------------------------------------------------------------ forms
class RequestForm(Form):
    reason = TextAreaField(
        _l("Why is the meeting needed?"),
        validators=[DataRequired(_l("Write why the meeting is needed.")), Length(max=500)],
    )


class ScheduleForm(Form):
    version = HiddenField()
    day = DateField(_l("Date"), validators=[InputRequired(_l("Choose a date."))])
    time = TimeField(_l("Time"), validators=[InputRequired(_l("Choose a time."))])
    place = StringField(_l("Place (optional)"), validators=[Optional(), Length(max=200)])


class RecordForm(Form):
    version = HiddenField()
    held_on = DateField(_l("Held on"), validators=[InputRequired(_l("Choose a date."))])
    participants = TextAreaField(
        _l("Who took part (one per line)"),
        validators=[DataRequired(_l("Name at least one participant."))],
    )
    citizen_took_part = BooleanField(_l("The citizen took part"))
    citizen_words = TextAreaField(
        _l("The citizen's own words"), validators=[Optional(), Length(max=4000)]
    )
    summary = TextAreaField(_l("Summary (optional)"), validators=[Optional(), Length(max=4000)])


class CancelForm(Form):
    version = HiddenField()
    cancel_reason = StringField(
        _l("Reason for cancelling"),
        validators=[DataRequired(_l("Write why the meeting is cancelled.")), Length(max=500)],
    )


class ActionForm(Form):
    description = StringField(
        _l("Action"), validators=[DataRequired(_l("Describe the action.")), Length(max=500)]
    )
    owner_organisation_id = SelectField(
        _l("Owner"),
        coerce=int,
        validate_choice=False,  # the use case checks the owner is a party
        validators=[InputRequired(_l("Choose the organisation that owns the action."))],
    )
    due_on = DateField(_l("Due date"), validators=[InputRequired(_l("Choose a date."))])


class ActionStatusForm(Form):
    version = IntegerField(validators=[Optional()])


# ------------------------------------------------------------------------------------ page
def _version(form: Form) -> int | None:
    raw = form.data.get("version")
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _meeting_forms(
    meeting: NetworkMeeting, parties: list[tuple[int, str]], bound: dict[str, Form]
) -> dict[str, Form]:
    """The forms of one meeting: the bound one (after a failed POST) keeps what was typed."""
    forms: dict[str, Form] = {}
    prefix = f"m{meeting.id}"

    def make(kind: str, cls: type[Form], **data: Any) -> None:
        key = f"{kind}-{meeting.id}"
        forms[kind] = bound.get(key) or cls(formdata=None, prefix=f"{prefix}-{kind}", **data)

    if meeting.status.is_open:
        local = to_copenhagen(meeting.scheduled_for) if meeting.scheduled_for else None
        make(
            "schedule",
            ScheduleForm,
            version=meeting.version,
            day=local.date() if local else None,
            time=local.time() if local else None,
            place=meeting.place,
        )
        make("record", RecordForm, version=meeting.version, held_on=to_copenhagen(now()).date())
        make("cancel", CancelForm, version=meeting.version)
    elif meeting.status is domain.MeetingStatus.HELD:
        make("action", ActionForm)
        forms["action"].owner_organisation_id.choices = [(0, _("Choose the owner")), *parties]
    return forms


def _render(patient_id: int, bound: dict[str, Form] | None = None, status: int = 200) -> Any:
    page = perform(
        lambda: services.list_patient_meetings(
            get_session(), actor(), edge.clock(), patient_id=patient_id
        )
    )
    parties = [(o.id, o.name) for o in page.parties]
    bound = bound or {}
    request_form = bound.get("request") or RequestForm(formdata=None, prefix="request")
    return (
        render_template(
            "meetings/index.html",
            patient=page.patient,
            meetings=page.meetings,
            forms={m.id: _meeting_forms(m, parties, bound) for m in page.meetings},
            request_form=request_form,
            status_form=ActionStatusForm(formdata=None),
            now=now(),
            is_overdue=domain.is_overdue,
        ),
        status,
    )


@bp.get("/patients/<int:patient_id>/meetings")
def index(patient_id: int) -> ResponseReturnValue:
    return _render(patient_id)


def _back(patient_id: int, anchor: str = "") -> ResponseReturnValue:
    return redirect(url_for("meetings_web.index", patient_id=patient_id) + anchor)


def _submit(
    patient_id: int,
    key: str,
    form: Form,
    work: Callable[[], NetworkMeeting | MeetingAction],
    done: str,
) -> ResponseReturnValue:
    """Validate the form, run the use case once, redirect to the meeting (on its patient's page, whatever
    the address said); or the page again with the errors next to the fields (422)."""
    if form.validate_on_submit():
        try:
            changed = perform(work)
        except ValidationFailed as error:
            edge.rollback()  # nothing of the refused change may ride on the page's own commit
            show_field_errors(form, error, _FIELD_MESSAGES)
        else:
            flash(done, "success")
            meeting_id = changed.meeting_id if isinstance(changed, MeetingAction) else changed.id
            return _back(changed.patient_id, f"#meeting-{meeting_id}")
    return _render(patient_id, {key: form}, 422)


@bp.post("/patients/<int:patient_id>/meetings/request")
def request_meeting(patient_id: int) -> ResponseReturnValue:
    form = RequestForm(prefix="request")
    return _submit(
        patient_id,
        "request",
        form,
        lambda: services.request_meeting(
            get_session(), actor(), edge.clock(), patient_id=patient_id, reason=form.reason.data
        ),
        _("The network meeting was requested."),
    )


@bp.post("/patients/<int:patient_id>/meetings/<int:meeting_id>/schedule")
def schedule(patient_id: int, meeting_id: int) -> ResponseReturnValue:
    form = ScheduleForm(prefix=f"m{meeting_id}-schedule")

    def work() -> NetworkMeeting:
        at = datetime.combine(form.day.data, form.time.data, tzinfo=COPENHAGEN)
        return services.schedule_meeting(
            get_session(),
            actor(),
            edge.clock(),
            meeting_id=meeting_id,
            scheduled_for=at,
            place=form.place.data or "",
            expected_version=_version(form),
        )

    return _submit(
        patient_id,
        f"schedule-{meeting_id}",
        form,
        work,
        _("The meeting was scheduled."),
    )


@bp.post("/patients/<int:patient_id>/meetings/<int:meeting_id>/record")
def record(patient_id: int, meeting_id: int) -> ResponseReturnValue:
    form = RecordForm(prefix=f"m{meeting_id}-record")
    return _submit(
        patient_id,
        f"record-{meeting_id}",
        form,
        lambda: services.record_meeting(
            get_session(),
            actor(),
            edge.clock(),
            meeting_id=meeting_id,
            held_on=form.held_on.data,
            participants=form.participants.data or "",
            citizen_took_part=bool(form.citizen_took_part.data),
            citizen_words=form.citizen_words.data or "",
            summary=form.summary.data or "",
            expected_version=_version(form),
        ),
        _("The meeting was recorded. Add the actions agreed."),
    )


@bp.post("/patients/<int:patient_id>/meetings/<int:meeting_id>/cancel")
def cancel(patient_id: int, meeting_id: int) -> ResponseReturnValue:
    form = CancelForm(prefix=f"m{meeting_id}-cancel")
    return _submit(
        patient_id,
        f"cancel-{meeting_id}",
        form,
        lambda: services.cancel_meeting(
            get_session(),
            actor(),
            edge.clock(),
            meeting_id=meeting_id,
            reason=form.cancel_reason.data,
            expected_version=_version(form),
        ),
        _("The meeting was cancelled."),
    )


@bp.post("/patients/<int:patient_id>/meetings/<int:meeting_id>/actions")
def add_action(patient_id: int, meeting_id: int) -> ResponseReturnValue:
    form = ActionForm(prefix=f"m{meeting_id}-action")
    form.owner_organisation_id.choices = []  # filled on the page; the use case checks the owner

    def work() -> MeetingAction:
        owner = form.owner_organisation_id.data
        return services.add_action(
            get_session(),
            actor(),
            edge.clock(),
            meeting_id=meeting_id,
            description=form.description.data,
            owner_organisation_id=owner or None,
            due_on=form.due_on.data if isinstance(form.due_on.data, date) else None,
        )

    return _submit(
        patient_id,
        f"action-{meeting_id}",
        form,
        work,
        _("The action was added."),
    )


@bp.post("/patients/<int:patient_id>/meeting-actions/<int:action_id>/<any(done, not_done):status>")
def mark_action(patient_id: int, action_id: int, status: str) -> ResponseReturnValue:
    form = ActionStatusForm()
    if not form.validate_on_submit():
        return _render(patient_id, status=422)
    action = perform(
        lambda: services.mark_action(
            get_session(),
            actor(),
            edge.clock(),
            action_id=action_id,
            status=status,
            expected_version=form.version.data,
        )
    )
    flash(
        _("The action was marked as done.")
        if status == "done"
        else _("The action was marked as not done."),
        "success",
    )
    return _back(action.patient_id, f"#meeting-{action.meeting_id}")
