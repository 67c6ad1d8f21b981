"""Reminders: the inbox of a person and their team; acknowledge, snooze, dismiss (resolving is automatic),
and share with an organisation in the patient's care (MedCom CareCommunication)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.api.core import (
    LINK_HEADER,
    keyset_page,
    operation,
    optional_version,
    with_etag,
)
from coordinator.api.schemas.reminders import (
    DismissSchema,
    ReminderQuerySchema,
    ReminderSchema,
    SharedSchema,
    ShareSchema,
    SnoozeSchema,
)
from coordinator.db import get_session
from coordinator.edge import clock, current_actor
from coordinator.messaging.outbound import share_reminder
from coordinator.reminders import services
from coordinator.reminders.models import Reminder

blp = Blueprint(
    "reminders",
    __name__,
    url_prefix="/reminders",
    description="Gaps in transitions that somebody must close, with their legal basis.",
)
ETAG_HEADER = {"ETag": {"schema": {"type": "string"}}}


@blp.route("")
class Reminders(MethodView):
    @operation("Task", "read")
    @blp.arguments(ReminderQuerySchema, location="query")
    @blp.response(200, ReminderSchema(many=True), headers=LINK_HEADER)
    def get(self, query: dict[str, Any]) -> Any:
        """Your inbox: yours and your organisation's open reminders (filter by status, patient, severity)."""
        found = services.list_reminders(
            get_session(),
            current_actor(),
            clock(),
            services.ReminderQuery(
                statuses=frozenset(query["status"]) or services.OPEN_STATES,
                mine_only=query["mine"],
                patient_id=query["patient_id"],
                severity=query["severity"],
                due_before=query["due_before"],
                after_id=query["after"],
                limit=query["limit"],
            ),
        )
        return keyset_page(found, query["limit"])


def _reply(reminder: Reminder) -> Any:
    return with_etag(reminder, reminder.version)


@blp.route("/<id:reminder_id>")
class ReminderById(MethodView):
    @operation("Task", "read")
    @blp.response(200, ReminderSchema, headers=ETAG_HEADER)
    def get(self, reminder_id: int) -> Any:
        """One reminder with its legal basis."""
        return _reply(services.get_reminder(get_session(), current_actor(), clock(), reminder_id))


@blp.route("/<id:reminder_id>/acknowledge")
class Acknowledge(MethodView):
    @operation("Task", "write")
    @blp.response(200, ReminderSchema, headers=ETAG_HEADER)
    def post(self, reminder_id: int) -> Any:
        """I have seen it and I am on it (it stays until the gap closes)."""
        return _reply(
            services.acknowledge_reminder(
                get_session(),
                current_actor(),
                clock(),
                reminder_id=reminder_id,
                expected_version=optional_version("reminder"),
            )
        )


@blp.route("/<id:reminder_id>/snooze")
class Snooze(MethodView):
    @operation("Task", "write")
    @blp.arguments(SnoozeSchema)
    @blp.response(200, ReminderSchema, headers=ETAG_HEADER)
    def post(self, data: dict[str, Any], reminder_id: int) -> Any:
        """Hide it until a time in the next 30 days; it comes back then if the gap is still open."""
        return _reply(
            services.snooze_reminder(
                get_session(),
                current_actor(),
                clock(),
                reminder_id=reminder_id,
                until=data["until"],
                expected_version=optional_version("reminder"),
            )
        )


@blp.route("/<id:reminder_id>/dismiss")
class Dismiss(MethodView):
    @operation("Task", "write")
    @blp.arguments(DismissSchema)
    @blp.response(200, ReminderSchema, headers=ETAG_HEADER)
    def post(self, data: dict[str, Any], reminder_id: int) -> Any:
        """Not relevant here, with a reason (audited); resolved automatically when the gap closes."""
        return _reply(
            services.dismiss_reminder(
                get_session(),
                current_actor(),
                clock(),
                reminder_id=reminder_id,
                reason=data["reason"],
                expected_version=optional_version("reminder"),
            )
        )


@blp.route("/<id:reminder_id>/share")
class ShareReminder(MethodView):
    @operation("Communication", "write")
    @blp.arguments(ShareSchema)
    @blp.response(202, SharedSchema)
    def post(self, data: dict[str, Any], reminder_id: int) -> Any:
        """Tell an organisation in the patient's care about the gap, as a MedCom CareCommunication
        (queued; 202): its title, due time and legal basis, no clinical content. 422 when the
        organisation has no part in the patient's care or no messaging address."""
        return share_reminder(
            get_session(),
            current_actor(),
            clock(),
            reminder_id=reminder_id,
            organisation_id=data["organisation_id"],
            category=data["category"],
            config=current_app.config,
        )
