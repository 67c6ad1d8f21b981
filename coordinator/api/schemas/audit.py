"""The audit log and its export."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.api.schemas.common import (
    ID_RANGE,
    AwareDateTime,
    StrictSchema,
)
from pathways.audit import AuditAction, AuditOutcome


class AuditQuerySchema(StrictSchema):
    patient_id = fields.Int(validate=ID_RANGE, load_default=None)
    actor_id = fields.Int(validate=ID_RANGE, load_default=None)
    organisation_id = fields.Int(validate=ID_RANGE, load_default=None)
    action = fields.Str(load_default=None, validate=validate.OneOf([a.value for a in AuditAction]))
    outcome = fields.Str(
        load_default=None, validate=validate.OneOf([o.value for o in AuditOutcome])
    )
    since = AwareDateTime(load_default=None)
    until = AwareDateTime(load_default=None)
    before_id = fields.Int(validate=ID_RANGE, load_default=None)
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=500))


class AuditEntrySchema(StrictSchema):
    id = fields.Int()
    occurred_at = AwareDateTime()
    actor_kind = fields.Str(attribute="actor_kind.value")
    actor_id = fields.Int(allow_none=True)
    actor_name = fields.Str()
    actor_organisation_id = fields.Int(allow_none=True)
    patient_id = fields.Int(allow_none=True)
    resource_type = fields.Str()
    resource_id = fields.Str()
    action = fields.Str(attribute="action.value")
    purpose = fields.Str()
    outcome = fields.Str(attribute="outcome.value")
    channel = fields.Str()
    request_id = fields.Str()


class AuditExportQuerySchema(AuditQuerySchema):
    format = fields.Str(
        load_default="csv",
        validate=validate.OneOf(["csv", "fhir"]),
        metadata={"description": "csv, or fhir for a Bundle of R4 AuditEvents"},
    )
