"""Network meetings and the actions agreed at them."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.api.schemas.common import (
    ID_RANGE,
    AwareDateTime,
    Date,
    StrictSchema,
    enum_field,
    label_field,
)
from pathways import meetings as domain
from pathways.meetings import ActionStatus, MeetingStatus


class ActionSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    meeting_id = fields.Int(dump_only=True)
    patient_id = fields.Int(dump_only=True)
    description = fields.Str(dump_only=True)
    owner_organisation_id = fields.Int(dump_only=True)
    due_on = Date(dump_only=True)
    status = enum_field(ActionStatus, dump_only=True)
    status_text = label_field("meeting_action_status", "status")
    closed_at = AwareDateTime(dump_only=True, allow_none=True)
    version = fields.Int(dump_only=True)


class MeetingSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    patient_id = fields.Int(dump_only=True)
    pathway_id = fields.Int(dump_only=True, allow_none=True)
    status = enum_field(MeetingStatus, dump_only=True)
    status_text = label_field("meeting_status", "status")
    reason = fields.Str(dump_only=True)
    requested_at = AwareDateTime(dump_only=True)
    requesting_organisation_id = fields.Int(dump_only=True, allow_none=True)
    scheduled_for = AwareDateTime(dump_only=True, allow_none=True)
    place = fields.Str(dump_only=True)
    held_on = Date(dump_only=True, allow_none=True)
    participants = fields.List(fields.Str(), dump_only=True)
    citizen_took_part = fields.Bool(dump_only=True, allow_none=True)
    citizen_words = fields.Str(
        dump_only=True, metadata={"description": "what the citizen said, in the citizen's words"}
    )
    summary = fields.Str(dump_only=True)
    cancelled_reason = fields.Str(dump_only=True)
    actions = fields.List(fields.Nested(ActionSchema), dump_only=True)
    version = fields.Int(dump_only=True)


class MeetingRequestSchema(StrictSchema):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=domain.MAX_REASON))


class ScheduleSchema(StrictSchema):
    scheduled_for = AwareDateTime(required=True)
    place = fields.Str(load_default="", validate=validate.Length(max=domain.MAX_PLACE))


class RecordSchema(StrictSchema):
    held_on = Date(required=True)
    participants = fields.List(
        fields.Str(validate=validate.Length(min=1, max=domain.MAX_PARTICIPANT)),
        required=True,
        validate=validate.Length(min=1, max=domain.MAX_PARTICIPANTS),
    )
    citizen_took_part = fields.Bool(required=True)
    citizen_words = fields.Str(
        load_default="", validate=validate.Length(max=domain.MAX_CITIZEN_WORDS)
    )
    summary = fields.Str(load_default="", validate=validate.Length(max=domain.MAX_SUMMARY))


class CancelSchema(StrictSchema):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=domain.MAX_REASON))


class ActionCreateSchema(StrictSchema):
    description = fields.Str(required=True, validate=validate.Length(min=1, max=domain.MAX_ACTION))
    owner_organisation_id = fields.Int(required=True, validate=ID_RANGE)
    due_on = Date(required=True)


class ActionStatusSchema(StrictSchema):
    status = fields.Str(
        required=True,
        validate=validate.OneOf([ActionStatus.DONE.value, ActionStatus.NOT_DONE.value]),
    )
