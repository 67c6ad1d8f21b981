"""The audit log for auditors and administrators (JSON and CSV)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.api.core import LINK_HEADER, keyset_page, operation
from coordinator.api.schemas.audit import AuditEntrySchema, AuditExportQuerySchema, AuditQuerySchema
from coordinator.audit.queries import AuditFilter, audit_csv, audit_record, query_audit
from coordinator.db import get_session
from coordinator.edge import clock, current_actor
from fhir_adapters.audit_event import audit_bundle
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
    @operation("AuditEvent", "read")
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEntrySchema(many=True), headers=LINK_HEADER)
    def get(self, query: dict[str, Any]) -> Any:
        """Newest first; follow the Link header (or pass before_id, the last id you got)."""
        found = query_audit(get_session(), current_actor(), clock(), _filters(query))
        return keyset_page(found, query["limit"], param="before_id")


@blp.route("/export")
class AuditExport(MethodView):
    @blp.arguments(AuditExportQuerySchema, location="query")
    @blp.response(200, content_type="text/csv")
    @blp.alt_response(
        200,
        content_type="application/fhir+json",
        description="a Bundle of AuditEvents",
        success=True,
    )
    @operation("AuditEvent", "read")
    def get(self, query: dict[str, Any]) -> Response:
        """The same entries as CSV, or as FHIR R4 AuditEvents (format=fhir)."""
        export_format = query.pop("format")
        entries = query_audit(get_session(), current_actor(), clock(), _filters(query))
        if export_format == "fhir":
            bundle = audit_bundle([audit_record(e) for e in entries])
            return Response(
                bundle.model_dump_json(exclude_none=True), mimetype="application/fhir+json"
            )
        return Response(
            audit_csv(entries),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
