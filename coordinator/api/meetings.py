"""Network meetings (netværksmøder) and the actions agreed at them. Changes to a meeting or an action
need If-Match (its ETag). SMART scopes: Appointment for meetings, Task for the actions agreed (read with
their meeting); an overdue action's reminder is a Task under /reminders and /fhir/Task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.api.core import ETAG_HEADER, if_match_doc, operation, optional_version, with_etag
from coordinator.api.schemas.meetings import (
    ActionCreateSchema,
    ActionSchema,
    ActionStatusSchema,
    CancelSchema,
    MeetingRequestSchema,
    MeetingSchema,
    RecordSchema,
    ScheduleSchema,
)
from coordinator.db import get_session
from coordinator.edge import clock, current_actor
from coordinator.meetings import services
from coordinator.meetings.models import MeetingAction, NetworkMeeting

blp = Blueprint(
    "meetings",
    __name__,
    url_prefix="",
    description="Network meetings: request, schedule, record; the actions agreed, done or not done.",
)
MEETING_CHANGE = if_match_doc("meeting", {"409": "illegal transition"})
ACTION_CHANGE = if_match_doc("action", {"409": "the action is already closed"})


def _meeting(meeting: NetworkMeeting, status: int = 200) -> Any:
    return with_etag(meeting, meeting.version, status)


def _action(action: MeetingAction, status: int = 200) -> Any:
    return with_etag(action, action.version, status)


@blp.route("/patients/<id:patient_id>/meetings")
class PatientMeetings(MethodView):
    @operation("Appointment", "read")
    @blp.response(200, MeetingSchema(many=True))
    def get(self, patient_id: int) -> Any:
        """The patient's network meetings with their actions, newest first (audited)."""
        return services.list_patient_meetings(
            get_session(), current_actor(), clock(), patient_id=patient_id
        ).meetings

    @operation("Appointment", "write")
    @blp.arguments(MeetingRequestSchema)
    @blp.response(201, MeetingSchema, headers=ETAG_HEADER)
    def post(self, data: dict[str, Any], patient_id: int) -> Any:
        """Request a network meeting about the patient (starts the clock of its reminder)."""
        return _meeting(
            services.request_meeting(
                get_session(), current_actor(), clock(), patient_id=patient_id, **data
            ),
            201,
        )


@blp.route("/meetings/<id:meeting_id>")
class MeetingById(MethodView):
    @operation("Appointment", "read")
    @blp.response(200, MeetingSchema, headers=ETAG_HEADER)
    def get(self, meeting_id: int) -> Any:
        """One meeting with its actions (audited)."""
        return _meeting(
            services.get_meeting(get_session(), current_actor(), clock(), meeting_id=meeting_id)
        )


def _change(use_case: Callable[..., NetworkMeeting], meeting_id: int, data: dict[str, Any]) -> Any:
    """A change to a meeting: the use case with the If-Match version (required) and the body's fields."""
    return _meeting(
        use_case(
            get_session(),
            current_actor(),
            clock(),
            meeting_id=meeting_id,
            expected_version=optional_version("meeting"),
            version_required=True,
            **data,
        )
    )


@blp.route("/meetings/<id:meeting_id>/schedule")
class Schedule(MethodView):
    @operation("Appointment", "write")
    @blp.arguments(ScheduleSchema)
    @blp.response(200, MeetingSchema, headers=ETAG_HEADER)
    @blp.doc(**MEETING_CHANGE)
    def post(self, data: dict[str, Any], meeting_id: int) -> Any:
        """Set or move the time and place of a meeting not yet held."""
        return _change(services.schedule_meeting, meeting_id, data)


@blp.route("/meetings/<id:meeting_id>/record")
class Record(MethodView):
    @operation("Appointment", "write")
    @blp.arguments(RecordSchema)
    @blp.response(200, MeetingSchema, headers=ETAG_HEADER)
    @blp.doc(**MEETING_CHANGE)
    def post(self, data: dict[str, Any], meeting_id: int) -> Any:
        """The meeting was held: the day, who took part, the citizen's own words, a summary."""
        return _change(services.record_meeting, meeting_id, data)


@blp.route("/meetings/<id:meeting_id>/cancel")
class Cancel(MethodView):
    @operation("Appointment", "write")
    @blp.arguments(CancelSchema)
    @blp.response(200, MeetingSchema, headers=ETAG_HEADER)
    @blp.doc(**MEETING_CHANGE)
    def post(self, data: dict[str, Any], meeting_id: int) -> Any:
        """Call off a meeting that has not been held, with a reason."""
        return _change(services.cancel_meeting, meeting_id, data)


@blp.route("/meetings/<id:meeting_id>/actions")
class Actions(MethodView):
    @operation("Task", "write")
    @blp.arguments(ActionCreateSchema)
    @blp.response(201, ActionSchema, headers=ETAG_HEADER)
    def post(self, data: dict[str, Any], meeting_id: int) -> Any:
        """An action agreed at a held meeting: owned by an organisation in the patient's care, due on
        a day not before the meeting. Open past its due date, it is a reminder to its owner."""
        return _action(
            services.add_action(
                get_session(), current_actor(), clock(), meeting_id=meeting_id, **data
            ),
            201,
        )


@blp.route("/meeting-actions/<id:action_id>/status")
class ActionStatusChange(MethodView):
    @operation("Task", "write")
    @blp.arguments(ActionStatusSchema)
    @blp.response(200, ActionSchema, headers=ETAG_HEADER)
    @blp.doc(**ACTION_CHANGE)
    def post(self, data: dict[str, Any], action_id: int) -> Any:
        """Close an open action as done or not done (its reminder resolves)."""
        return _action(
            services.mark_action(
                get_session(),
                current_actor(),
                clock(),
                action_id=action_id,
                status=data["status"],
                expected_version=optional_version("action"),
                version_required=True,
            )
        )
