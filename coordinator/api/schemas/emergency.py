"""Emergency access to a patient, and its review."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.api.schemas.common import (
    AwareDateTime,
    StrictSchema,
)


class EmergencyRequestSchema(StrictSchema):
    reason = fields.Str(required=True)
    hours = fields.Int(load_default=4, validate=validate.Range(min=1, max=12))


class EmergencyAccessSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    user_id = fields.Int(dump_only=True)
    organisation_id = fields.Int(dump_only=True)
    patient_id = fields.Int(dump_only=True)
    reason = fields.Str(dump_only=True)
    granted_at = AwareDateTime(dump_only=True)
    expires_at = AwareDateTime(dump_only=True)
    reviewed_at = AwareDateTime(dump_only=True, allow_none=True)
    review_note = fields.Str(dump_only=True)


class ReviewSchema(StrictSchema):
    note = fields.Str(required=True)
