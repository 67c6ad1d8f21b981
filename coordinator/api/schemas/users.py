"""Staff accounts and login lockouts, for administrators."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.api.schemas.common import (
    ID_RANGE,
    AwareDateTime,
    StrictSchema,
    enum_field,
)
from pathways.people import Role


class UserSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    organisation_id = fields.Int(dump_only=True)
    name = fields.Str(dump_only=True)
    role = enum_field(Role, dump_only=True)
    title = fields.Str(dump_only=True)
    phone = fields.Str(dump_only=True)
    email = fields.Str(dump_only=True)
    username = fields.Str(dump_only=True, allow_none=True)
    is_active = fields.Bool(dump_only=True)
    must_change_password = fields.Bool(dump_only=True)
    last_login_at = AwareDateTime(dump_only=True, allow_none=True)


class UserCreateSchema(StrictSchema):
    organisation_id = fields.Int(validate=ID_RANGE, required=True)
    name = fields.Str(required=True)
    role = fields.Str(required=True)
    title = fields.Str(load_default="")
    phone = fields.Str(load_default="")
    email = fields.Str(load_default="")
    username = fields.Str(load_default=None, allow_none=True)
    password = fields.Str(
        load_default=None,
        allow_none=True,
        load_only=True,
        metadata={"description": "a temporary password; the user must change it"},
    )


class PasswordResetSchema(StrictSchema):
    new_password = fields.Str(required=True, load_only=True)


class LoginLockSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    user_id = fields.Int(dump_only=True)
    username = fields.Str(dump_only=True, attribute="user.username", allow_none=True)
    name = fields.Str(dump_only=True, attribute="user.name")
    organisation_id = fields.Int(dump_only=True, attribute="user.organisation_id")
    address = fields.Str(dump_only=True, metadata={"description": "the client address locked out"})
    failed_count = fields.Int(dump_only=True)
    last_failed_at = AwareDateTime(dump_only=True)
    locked_until = AwareDateTime(dump_only=True)


class UserQuerySchema(StrictSchema):
    organisation_id = fields.Int(validate=ID_RANGE, load_default=None)
    after = fields.Int(
        validate=ID_RANGE,
        load_default=None,
        metadata={"description": "cursor: the last id of the previous page"},
    )
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=500))
