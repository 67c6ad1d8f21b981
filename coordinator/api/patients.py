"""Patients: read one, search by CPR (in the body, never in a URL), their plans and their access log."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.api.core import ETAG_HEADER, if_match_doc, operation, optional_version, with_etag
from coordinator.api.schemas.pathways import StaySchema
from coordinator.api.schemas.patients import (
    AccessLogLineSchema,
    AccessLogQuerySchema,
    GeneralPractitionerSchema,
    PatientSchema,
    PatientSearchSchema,
)
from coordinator.api.schemas.plans import PlanSchema
from coordinator.audit.queries import citizen_access_log
from coordinator.care_pathways.services import list_patient_pathways
from coordinator.db import get_session
from coordinator.edge import clock, current_actor
from coordinator.patients import services
from coordinator.plans.reads import patient_plans

blp = Blueprint(
    "patients", __name__, url_prefix="/patients", description="Patients with a care relation."
)


@blp.route("/search")
class PatientSearch(MethodView):
    @operation("Patient", "read")
    @blp.arguments(PatientSearchSchema)
    @blp.response(200, PatientSchema(many=True))
    def post(self, data: dict[str, Any]) -> list[Any]:
        """Find a patient by CPR. Empty unless you have a care relation: a search reveals no one else."""
        found = services.find_patient_by_cpr(
            get_session(), current_actor(), clock(), cpr=data["cpr"]
        )
        return [found] if found else []


@blp.route("/<id:patient_id>")
class PatientById(MethodView):
    @operation("Patient", "read")
    @blp.response(200, PatientSchema, headers=ETAG_HEADER)
    def get(self, patient_id: int) -> Any:
        """One patient (403 both for other organisations' patients and for unknown ids)."""
        patient = services.get_patient(
            get_session(), current_actor(), clock(), patient_id=patient_id
        )
        return with_etag(patient, patient.version)


@blp.route("/<id:patient_id>/general-practitioner")
class PatientGeneralPractitioner(MethodView):
    @operation("Patient", "write")
    @blp.arguments(GeneralPractitionerSchema)
    @blp.response(200, PatientSchema, headers=ETAG_HEADER)
    @blp.doc(**if_match_doc("patient"))
    def put(self, data: dict[str, Any], patient_id: int) -> Any:
        """Set or change the patient's GP clinic, or clear it with the reason the patient has none. The
        plans not agreed yet follow: the GP becomes a party, or the reason is recorded on them."""
        patient = services.set_general_practitioner(
            get_session(),
            current_actor(),
            clock(),
            patient_id=patient_id,
            gp_organisation_id=data["gp_organisation_id"],
            reason=data["reason"],
            expected_version=optional_version("patient"),
            version_required=True,
        )
        return with_etag(patient, patient.version)


@blp.route("/<id:patient_id>/pathways")
class PatientPathways(MethodView):
    @operation("Encounter", "read")
    @blp.response(200, StaySchema(many=True))
    def get(self, patient_id: int) -> Any:
        """The patient's stays, newest first (audited; needs a care relation)."""
        return list_patient_pathways(get_session(), current_actor(), clock(), patient_id=patient_id)


@blp.route("/<id:patient_id>/plans")
class PatientPlans(MethodView):
    @operation("CarePlan", "read")
    @blp.response(200, PlanSchema(many=True))
    def get(self, patient_id: int) -> list[Any]:
        """The patient's plans, newest first."""
        return patient_plans(get_session(), current_actor(), clock(), patient_id=patient_id)


@blp.route("/<id:patient_id>/access-log")
class PatientAccessLog(MethodView):
    @operation("AuditEvent", "read")
    @blp.arguments(AccessLogQuerySchema, location="query")
    @blp.response(200, AccessLogLineSchema(many=True))
    def get(self, query: dict[str, str], patient_id: int) -> list[Any]:
        """Who looked at or changed the patient's data, in plain language (the citizen's log)."""
        from flask import current_app  # noqa: PLC0415

        return citizen_access_log(
            get_session(),
            current_actor(),
            clock(),
            patient_id=patient_id,
            language=query["lang"],
            show_staff_names=bool(current_app.config.get("CITIZEN_LOG_SHOW_STAFF_NAMES")),
        )
