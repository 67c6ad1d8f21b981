"""The MedCom inbox's failures for system administrators: dead letters and messages being retried, and
replay (ADR 0013). The same use cases as `flask --app coordinator messages list|replay`."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.api.core import operation
from coordinator.api.schemas.inbox import InboundMessageSchema, InboxQuerySchema
from coordinator.db import get_session
from coordinator.edge import clock, current_actor
from coordinator.messaging import inbox
from coordinator.messaging.models import InboundMessage

blp = Blueprint(
    "inbox",
    __name__,
    url_prefix="/inbox",
    description="MedCom messages carepath could not process (system administrators).",
)


@blp.route("/failed")
class FailedMessages(MethodView):
    @operation("Communication", "read")
    @blp.arguments(InboxQuerySchema, location="query")
    @blp.response(200, InboundMessageSchema(many=True))
    def get(self, query: dict[str, Any]) -> Any:
        """Dead letters and messages that failed at least once, newest first; the error, never the
        message (it holds a CPR number)."""
        return inbox.list_problem_messages(get_session(), current_actor(), limit=query["limit"])


@blp.route("/<id:entry_id>/replay")
class Replay(MethodView):
    @operation("Communication", "write")
    @blp.response(200, InboundMessageSchema)
    def post(self, entry_id: int) -> InboundMessage:
        """Give a dead letter another round of attempts (audited); the inbox worker processes it within
        seconds and sends its Acknowledgement to the sender. 409 unless it is dead and still has its body."""
        return inbox.replay(get_session(), current_actor(), clock(), entry_id=entry_id)
