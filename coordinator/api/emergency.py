"""Emergency access ("break the glass"): time-limited, with a reason, reviewed by auditors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.access import services
from coordinator.access.models import EmergencyAccess
from coordinator.api.core import operation
from coordinator.api.schemas.emergency import (
    EmergencyAccessSchema,
    EmergencyRequestSchema,
    ReviewSchema,
)
from coordinator.db import get_session
from coordinator.edge import clock, current_actor
from pathways.errors import PermissionDenied
from pathways.people import ActorKind, Role

blp = Blueprint("emergency", __name__, url_prefix="", description="Emergency access to a patient.")


@blp.route("/patients/<id:patient_id>/emergency-access")
class BreakTheGlass(MethodView):
    @operation("Patient", "read")
    @blp.arguments(EmergencyRequestSchema)
    @blp.response(201, EmergencyAccessSchema)
    def post(self, data: dict[str, Any], patient_id: int) -> EmergencyAccess:
        """Get access without a care relation, for at most 12 hours. Logged and flagged for review."""
        return services.grant_emergency_access(
            get_session(),
            current_actor(),
            clock(),
            patient_id=patient_id,
            reason=data["reason"],
            duration=timedelta(hours=data["hours"]),
        )


@blp.route("/emergency-access/unreviewed")
class Unreviewed(MethodView):
    @operation("AuditEvent", "read")
    @blp.response(200, EmergencyAccessSchema(many=True))
    def get(self) -> list[EmergencyAccess]:
        """Emergency accesses no auditor has reviewed yet."""
        actor = current_actor()
        if actor.kind is not ActorKind.SYSTEM and actor.role not in (
            Role.AUDITOR,
            Role.SYSTEM_ADMIN,
        ):
            raise PermissionDenied("only auditors review emergency access")
        return services.unreviewed_emergency_access(get_session())


@blp.route("/emergency-access/<id:grant_id>/review")
class Review(MethodView):
    @operation("AuditEvent", "write")
    @blp.arguments(ReviewSchema)
    @blp.response(200, EmergencyAccessSchema)
    def post(self, data: dict[str, Any], grant_id: int) -> EmergencyAccess:
        """Record the auditor's review."""
        return services.review_emergency_access(
            get_session(), current_actor(), clock(), grant_id=grant_id, note=data["note"]
        )
