"""Patients, their GP and the citizen's access log."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.api.schemas.common import (
    ID_RANGE,
    AwareDateTime,
    StrictSchema,
)


class PatientSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    cpr = fields.Str(dump_only=True, allow_none=True)
    replacement_cpr = fields.Str(dump_only=True, allow_none=True)
    given_name = fields.Str(dump_only=True)
    family_name = fields.Str(dump_only=True)
    kommunekode = fields.Str(dump_only=True)
    gp_organisation_id = fields.Int(dump_only=True, allow_none=True)
    gp_absent_reason = fields.Str(
        dump_only=True,
        metadata={
            "description": "why the patient has no GP; empty when the GP is known or unknown"
        },
    )
    is_protected = fields.Bool(dump_only=True)
    version = fields.Int(
        dump_only=True, metadata={"description": "optimistic-lock version (the ETag)"}
    )


class GeneralPractitionerSchema(StrictSchema):
    gp_organisation_id = fields.Int(
        required=True,
        allow_none=True,
        validate=ID_RANGE,
        metadata={"description": "the GP clinic (an organisation of kind gp_clinic); null: none"},
    )
    reason = fields.Str(
        load_default="",
        validate=validate.Length(max=200),
        metadata={
            "description": "required with null: why the patient has no GP (shown on the plans)"
        },
    )


class PatientSearchSchema(StrictSchema):
    cpr = fields.Str(required=True, metadata={"description": "sent in the body, never in a URL"})


class AccessLogQuerySchema(StrictSchema):
    lang = fields.Str(load_default="da", validate=validate.OneOf(["da", "en"]))


class AccessLogLineSchema(StrictSchema):
    at = AwareDateTime()
    organisation = fields.Str()
    role = fields.Str()
    staff_name = fields.Str(allow_none=True)
    what = fields.Str()
