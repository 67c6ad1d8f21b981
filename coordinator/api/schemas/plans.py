"""Plans: discharge agreements (§13a) and coordination plans (§13b), their versions and answers."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.api.schemas.common import (
    ID_RANGE,
    AwareDateTime,
    Date,
    StrictSchema,
    enum_field,
)
from pathways.agreements import EndReason
from pathways.plans import (
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanStatus,
    ResponseStatus,
)


class ParticipantSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    role = enum_field(ParticipantRole, dump_only=True)
    organisation_id = fields.Int(dump_only=True, allow_none=True)
    person_name = fields.Str(dump_only=True)
    is_required = fields.Bool(dump_only=True)
    response = enum_field(ResponseStatus, dump_only=True)
    response_note = fields.Str(dump_only=True)
    responded_version_number = fields.Int(dump_only=True, allow_none=True)
    responded_at = AwareDateTime(dump_only=True, allow_none=True)


class PlanSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    kind = enum_field(PlanKind, dump_only=True)
    status = enum_field(PlanStatus, dump_only=True)
    patient_id = fields.Int(dump_only=True)
    pathway_id = fields.Int(dump_only=True, allow_none=True)
    responsible_organisation_id = fields.Int(dump_only=True)
    version = fields.Int(
        dump_only=True, metadata={"description": "optimistic-lock version (the ETag)"}
    )
    current_version_number = fields.Int(dump_only=True)
    sections = fields.Dict(dump_only=True, attribute="current_version.sections")
    valid_from = Date(dump_only=True, allow_none=True)
    valid_to = Date(dump_only=True, allow_none=True)
    review_on = Date(dump_only=True, allow_none=True)
    patient_participation = enum_field(PatientParticipation, dump_only=True)
    patient_refused_on = Date(dump_only=True, allow_none=True)
    supersedes_plan_id = fields.Int(dump_only=True, allow_none=True)
    agreed_at = AwareDateTime(dump_only=True, allow_none=True)
    activated_at = AwareDateTime(dump_only=True, allow_none=True)
    ended_at = AwareDateTime(dump_only=True, allow_none=True)
    ended_reason = fields.Str(dump_only=True)
    participants = fields.Nested(ParticipantSchema, many=True, dump_only=True)
    missing_party_reasons = fields.Dict(
        keys=fields.Str(),
        values=fields.Str(),
        dump_only=True,
        metadata={
            "description": "role -> why a party the rules require is not on the plan "
            '(e.g. {"gp": "patienten har ingen egen læge"})'
        },
    )
    created_at = AwareDateTime(dump_only=True)
    updated_at = AwareDateTime(dump_only=True)


class PlanCreateSchema(StrictSchema):
    pathway_id = fields.Int(validate=ID_RANGE, required=True)
    kind = enum_field(PlanKind, load_default=None, allow_none=True)


class PlanEditSchema(StrictSchema):
    sections = fields.Dict(
        keys=fields.Str(),
        values=fields.Raw(allow_none=True),
        load_default=dict,
        metadata={"description": "section key -> fields; null removes a section"},
    )
    review_on = Date(load_default=None, allow_none=True)
    valid_to = Date(load_default=None, allow_none=True)
    change_note = fields.Str(load_default="", validate=validate.Length(max=500))


class RespondSchema(StrictSchema):
    participant_id = fields.Int(validate=ID_RANGE, required=True)
    response = fields.Str(
        required=True, validate=validate.OneOf(["accepted", "rejected", "commented"])
    )
    note = fields.Str(load_default="", validate=validate.Length(max=2000))


class ParticipationSchema(StrictSchema):
    participates = fields.Bool(required=True)
    on = Date(load_default=None, allow_none=True)


class MissingPartySchema(StrictSchema):
    role = enum_field(ParticipantRole, required=True)
    reason = fields.Str(
        required=True,
        validate=validate.Length(max=200),
        metadata={"description": "why the party is missing; empty takes the reason back"},
    )


class ReasonSchema(StrictSchema):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=500))


class EndPlanSchema(StrictSchema):
    reason = fields.Str(required=True, validate=validate.OneOf([r.value for r in EndReason]))
    note = fields.Str(load_default="", validate=validate.Length(max=150))


class VersionSchema(StrictSchema):
    number = fields.Int(dump_only=True)
    sections = fields.Dict(dump_only=True)
    review_on = Date(dump_only=True, allow_none=True)
    change_note = fields.Str(dump_only=True)
    created_by_id = fields.Int(dump_only=True, allow_none=True)
    created_at = AwareDateTime(dump_only=True)


class DiffQuerySchema(StrictSchema):
    from_ = fields.Int(required=True, data_key="from", validate=ID_RANGE)
    to = fields.Int(required=True, validate=ID_RANGE)


class FieldChangeSchema(StrictSchema):
    section = fields.Str()
    field = fields.Str()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class DiffSchema(StrictSchema):
    plan_id = fields.Int()
    from_number = fields.Int(data_key="from")
    to_number = fields.Int(data_key="to")
    changes = fields.Nested(FieldChangeSchema, many=True)


class PlanListQuerySchema(StrictSchema):
    status = fields.List(
        enum_field(PlanStatus),
        load_default=list,
        metadata={"description": "repeat for several statuses"},
    )
    kind = enum_field(PlanKind, load_default=None)
    kommunekode = fields.Str(
        load_default=None, metadata={"description": "the patients' municipality"}
    )
    patient_id = fields.Int(validate=ID_RANGE, load_default=None)
    review_before = Date(load_default=None)
    after = fields.Int(
        validate=ID_RANGE,
        load_default=None,
        metadata={"description": "cursor: the last id of the previous page"},
    )
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=100))
