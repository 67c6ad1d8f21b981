"""The organisation directory."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.api.schemas.common import (
    ID_RANGE,
    StrictSchema,
    enum_field,
)
from pathways.geography import Region
from pathways.organisations import OrganisationKind, Sector


class OrganisationSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    name = fields.Str(dump_only=True)
    kind = enum_field(OrganisationKind, dump_only=True)
    sector = enum_field(Sector, dump_only=True)
    parent_id = fields.Int(dump_only=True, allow_none=True)
    sor_code = fields.Str(dump_only=True, allow_none=True)
    kommunekode = fields.Str(dump_only=True, allow_none=True)
    ydernummer = fields.Str(dump_only=True, allow_none=True)
    gln = fields.Str(dump_only=True, allow_none=True)
    region_code = enum_field(Region, dump_only=True, allow_none=True)
    email = fields.Str(dump_only=True)
    is_active = fields.Bool(dump_only=True)
    version = fields.Int(dump_only=True, metadata={"description": "the ETag's version"})


class OrganisationUpdateSchema(StrictSchema):
    """Only the fields sent change; null clears an identifier the organisation's kind does not need."""

    name = fields.Str(validate=validate.Length(min=1, max=200))
    sor_code = fields.Str(allow_none=True, metadata={"description": "SOR code, 11 to 18 digits"})
    gln = fields.Str(allow_none=True, metadata={"description": "GLN, 13 digits (GS1 check digit)"})
    email = fields.Email(allow_none=True, metadata={"description": "team or messaging inbox"})


class OrganisationCreateSchema(StrictSchema):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    kind = enum_field(OrganisationKind, required=True)
    parent_id = fields.Int(validate=ID_RANGE, load_default=None)
    sor_code = fields.Str(load_default=None)
    kommunekode = fields.Str(load_default=None)
    ydernummer = fields.Str(load_default=None)
    gln = fields.Str(load_default=None)
    region_code = fields.Str(load_default=None)
    email = fields.Email(load_default=None, metadata={"description": "team or messaging inbox"})


class OrganisationQuerySchema(StrictSchema):
    kind = enum_field(OrganisationKind, load_default=None)
    sector = enum_field(Sector, load_default=None)
    kommunekode = fields.Str(load_default=None)
    sor_code = fields.Str(load_default=None)
    gln = fields.Str(load_default=None)
    parent_id = fields.Int(validate=ID_RANGE, load_default=None)
    name = fields.Str(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "part of the name"},
    )
    include_inactive = fields.Bool(load_default=False)
    after = fields.Int(
        validate=ID_RANGE,
        load_default=None,
        metadata={"description": "cursor: the last id of the previous page"},
    )
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=100))
