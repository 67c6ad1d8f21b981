"""Reminders (gaps in a transition), pathway facts and sharing with MedCom."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.api.schemas.common import (
    ID_RANGE,
    AwareDateTime,
    StrictSchema,
    enum_field,
    label_field,
)
from coordinator.i18n import request_language
from pathways.labels import label_or_code, reminder_message
from pathways.legal import legal_basis
from pathways.reminders import ReminderStatus, Severity
from pathways.stays import PathwayFactType


def legal_text(key: str, language: str = "da") -> str | None:
    """The legal basis shown with a reminder (the reference first, in ``language``); None for an unknown
    key."""
    try:
        basis = legal_basis(key)
    except KeyError:
        return None
    return f"{basis.reference}: {basis.text(language)}"


class ReminderSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    reference = fields.Function(lambda r: f"R-{r.id}", dump_only=True)
    rule = fields.Str(dump_only=True)
    obligation_key = fields.Str(dump_only=True)
    status = enum_field(ReminderStatus, dump_only=True)
    severity = enum_field(Severity, dump_only=True)
    legal_basis = fields.Str(dump_only=True, metadata={"description": "key of the legal basis"})
    legal_text = fields.Function(
        lambda r: legal_text(r.legal_basis, request_language()), dump_only=True, allow_none=True
    )
    title = fields.Function(
        lambda r: label_or_code("gap_rule", r.rule, request_language()),
        dump_only=True,
        metadata={"description": "what the rule is called, in the request's language"},
    )
    message = fields.Function(
        lambda r: reminder_message(r.rule, r.params, request_language()),
        dump_only=True,
        metadata={"description": "the gap in words, in the request's language"},
    )
    severity_text = label_field("severity", "severity")
    params = fields.Dict(keys=fields.Str(), values=fields.Str(), dump_only=True)
    due_at = AwareDateTime(dump_only=True)
    patient_id = fields.Int(dump_only=True)
    pathway_id = fields.Int(dump_only=True)
    plan_id = fields.Int(dump_only=True, allow_none=True)
    owner_organisation_id = fields.Int(dump_only=True)
    owner_person_id = fields.Int(dump_only=True, allow_none=True)
    escalate_to_person_id = fields.Int(dump_only=True, allow_none=True)
    escalation_level = fields.Int(dump_only=True)
    snoozed_until = AwareDateTime(dump_only=True, allow_none=True)
    acknowledged_at = AwareDateTime(dump_only=True, allow_none=True)
    resolved_at = AwareDateTime(dump_only=True, allow_none=True)
    dismissed_reason = fields.Str(dump_only=True)
    version = fields.Int(dump_only=True)


class ReminderQuerySchema(StrictSchema):
    status = fields.List(
        enum_field(ReminderStatus),
        load_default=list,
        metadata={"description": "repeat for several; default: open, acknowledged, snoozed"},
    )
    mine = fields.Bool(
        load_default=False, metadata={"description": "only those addressed to me personally"}
    )
    patient_id = fields.Int(validate=ID_RANGE, load_default=None)
    severity = enum_field(Severity, load_default=None)
    due_before = AwareDateTime(load_default=None)
    after = fields.Int(
        validate=ID_RANGE,
        load_default=None,
        metadata={"description": "cursor: the last id of the previous page"},
    )
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=100))


class SnoozeSchema(StrictSchema):
    until = AwareDateTime(required=True)


class DismissSchema(StrictSchema):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=500))


class PathwayFactCreateSchema(StrictSchema):
    type = enum_field(PathwayFactType, required=True)
    occurred_at = AwareDateTime(required=True)
    plan_id = fields.Int(validate=ID_RANGE, load_default=None)
    organisation_id = fields.Int(
        validate=ID_RANGE,
        load_default=None,
        metadata={"description": "the party concerned, e.g. the GP clinic that read the plan"},
    )
    idempotency_key = fields.Str(required=True, validate=validate.Length(min=1, max=200))


class PathwayFactSchema(StrictSchema):
    id = fields.Int()
    type = fields.Str(attribute="type.value")
    occurred_at = AwareDateTime()
    recorded_at = AwareDateTime()
    plan_id = fields.Int(allow_none=True)
    organisation_id = fields.Int(allow_none=True)


class ShareSchema(StrictSchema):
    organisation_id = fields.Int(
        required=True, validate=ID_RANGE, metadata={"description": "the receiving organisation"}
    )
    category = fields.Str(
        load_default="carecoordination",
        validate=validate.OneOf(["carecoordination", "discharge", "psychiatry-social-disability"]),
        metadata={"description": "MedCom CareCommunication category"},
    )


class SharedSchema(StrictSchema):
    message_id = fields.Str(metadata={"description": "MedCom MessageHeader id"})
    recipient = fields.Str(metadata={"description": "the receiver's GLN"})
    status = fields.Str(attribute="status.value")
    created_at = AwareDateTime()
