"""Stays (pathways), their events, the §13a assessment and worklists of stays."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from coordinator.api.schemas.common import (
    ID_RANGE,
    AwareDateTime,
    Date,
    StrictSchema,
)


class LeavePeriodSchema(StrictSchema):
    started_at = AwareDateTime()
    ended_at = AwareDateTime(allow_none=True)


class ObligationSchema(StrictSchema):
    key = fields.Str()
    status = fields.Str(attribute="status.value")
    legal_basis = fields.Str(attribute="basis.reference")
    reason = fields.Str()
    due_on = Date(allow_none=True)
    plan_id = fields.Int(allow_none=True)


class PathwaySchema(StrictSchema):
    id = fields.Int(dump_only=True)
    patient_id = fields.Int(dump_only=True)
    ward_id = fields.Int(dump_only=True)
    status = fields.Str(dump_only=True, attribute="status.value")
    admitted_at = AwareDateTime(dump_only=True)
    planned_discharge_on = Date(dump_only=True, allow_none=True)
    discharged_at = AwareDateTime(dump_only=True, allow_none=True)
    closed_at = AwareDateTime(dump_only=True, allow_none=True)
    readmission_of_id = fields.Int(dump_only=True, allow_none=True)
    receives_sel_support = fields.Bool(dump_only=True, allow_none=True)
    presumed_not_to_seek_treatment = fields.Bool(dump_only=True, allow_none=True)
    leave_periods = fields.Nested(LeavePeriodSchema, many=True, dump_only=True)
    obligation = fields.Nested(ObligationSchema, dump_only=True)


class StaySchema(StrictSchema):
    """A stay in a list (worklists): who, where, since when; no CPR number in lists."""

    id = fields.Int(dump_only=True)
    patient_id = fields.Int(dump_only=True)
    patient_name = fields.Function(
        lambda stay: f"{stay.patient.given_name} {stay.patient.family_name}", dump_only=True
    )
    ward_id = fields.Int(dump_only=True)
    status = fields.Str(dump_only=True, attribute="status.value")
    encounter_class = fields.Str(dump_only=True, attribute="encounter_class.value")
    admitted_at = AwareDateTime(dump_only=True)
    planned_discharge_on = Date(dump_only=True, allow_none=True)
    discharged_at = AwareDateTime(dump_only=True, allow_none=True)
    readmission_of_id = fields.Int(dump_only=True, allow_none=True)


class StayListQuerySchema(StrictSchema):
    ward_id = fields.Int(
        validate=ID_RANGE,
        load_default=None,
        metadata={"description": "the current stays of this ward (or of every ward of a centre)"},
    )
    kommunekode = fields.Str(
        load_default=None,
        validate=validate.Regexp(r"^[0-9]{3}$"),
        metadata={"description": "the stays of this municipality's citizens"},
    )
    discharged_since = Date(
        load_default=None,
        metadata={"description": "with kommunekode: also those discharged on or after this day"},
    )
    after = fields.Int(
        validate=ID_RANGE,
        load_default=None,
        metadata={"description": "cursor: the last id of the previous page"},
    )
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=100))

    @validates_schema
    def _one_list(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("ward_id") is None) == (data.get("kommunekode") is None):
            raise ValidationError("give either ward_id or kommunekode", "ward_id")
        if data.get("discharged_since") is not None and data.get("kommunekode") is None:
            raise ValidationError("only with kommunekode", "discharged_since")


class AssessmentSchema(StrictSchema):
    receives_sel_support = fields.Bool(required=True)
    presumed_not_to_seek_treatment = fields.Bool(required=True)


class RequirementSchema(StrictSchema):
    level = fields.Str(attribute="level.value")
    kind = fields.Str(attribute="kind.value", allow_none=True)
    legal_basis = fields.Str(attribute="basis.reference")
    reason = fields.Str()


class PathwayEventCreateSchema(StrictSchema):
    type = fields.Str(
        required=True,
        validate=validate.OneOf(
            [
                "leave_started",
                "leave_ended",
                "discharge_planned",
                "discharged",
                "follow_up_booked",
                "follow_up_held",
                "closed",
                "cancelled",
            ]
        ),
    )
    occurred_at = AwareDateTime(required=True)
    planned_discharge_on = Date(load_default=None, allow_none=True)
    idempotency_key = fields.Str(required=True, validate=validate.Length(min=1, max=200))


class PathwayEventSchema(StrictSchema):
    id = fields.Int()
    type = fields.Str(attribute="type.value")
    occurred_at = AwareDateTime()
    recorded_at = AwareDateTime()
    source = fields.Str(attribute="source.value")
