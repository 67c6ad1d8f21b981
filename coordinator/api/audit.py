"""The audit log for auditors and administrators (JSON and CSV)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.api.core import clock, current_actor, unit_of_work
from coordinator.api.schemas import AuditEntrySchema, AuditQuerySchema
from coordinator.audit.queries import AuditFilter, audit_csv, query_audit
from coordinator.db import get_session
from pathways.audit import AuditAction, AuditOutcome

blp = Blueprint(
    "audit", __name__, url_prefix="/audit", description="Who did what to which patient's data."
)


def _filters(query: dict[str, Any]) -> AuditFilter:
    return AuditFilter(
        **{
            **query,
            "action": AuditAction(query["action"]) if query["action"] else None,
            "outcome": AuditOutcome(query["outcome"]) if query["outcome"] else None,
        }
    )


@blp.route("")
class AuditLog(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEntrySchema(many=True))
    @unit_of_work
    def get(self, query: dict[str, Any]) -> list[Any]:
        """Newest first; page with before_id (the last id you got)."""
        return query_audit(get_session(), current_actor(), clock(), _filters(query))


@blp.route("/export")
class AuditCsv(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, content_type="text/csv")
    @unit_of_work
    def get(self, query: dict[str, Any]) -> Response:
        """The same entries as CSV."""
        entries = query_audit(get_session(), current_actor(), clock(), _filters(query))
        return Response(
            audit_csv(entries),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
