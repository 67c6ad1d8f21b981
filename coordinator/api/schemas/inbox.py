"""The MedCom inbox's failed messages, for system administrators (never the message itself)."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.api.schemas.common import AwareDateTime, StrictSchema, enum_field
from coordinator.messaging.models import InboxStatus


class InboundMessageSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    message_id = fields.Str(dump_only=True)
    event = fields.Str(dump_only=True)
    sender_sor = fields.Str(dump_only=True)
    status = enum_field(InboxStatus, dump_only=True)
    attempts = fields.Int(dump_only=True)
    last_error = fields.Str(dump_only=True)
    received_at = AwareDateTime(dump_only=True)
    next_attempt_at = AwareDateTime(dump_only=True, allow_none=True)
    processed_at = AwareDateTime(dump_only=True, allow_none=True)
    replayable = fields.Function(
        lambda m: m.status is InboxStatus.DEAD and m.body is not None, dump_only=True
    )


class InboxQuerySchema(StrictSchema):
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=500))
