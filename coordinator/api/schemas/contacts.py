"""Fixed contact persons and the people of one's own organisation."""

from __future__ import annotations

from marshmallow import fields, validate

from coordinator.api.schemas.common import ID_RANGE, Date, StrictSchema, enum_field, label_field
from pathways.organisations import Sector
from pathways.people import Role


class PersonSchema(StrictSchema):
    """A member of staff as colleagues see them: who, in what role, where, and how to reach them."""

    id = fields.Int(dump_only=True)
    name = fields.Str(dump_only=True)
    role = enum_field(Role, dump_only=True)
    role_text = label_field("staff_role", "role")
    title = fields.Str(dump_only=True)
    organisation_id = fields.Int(dump_only=True)
    organisation_name = fields.Function(lambda u: u.organisation.name, dump_only=True)
    phone = fields.Str(dump_only=True)
    email = fields.Str(dump_only=True)
    is_active = fields.Bool(dump_only=True)


class OrganisationRefSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    name = fields.Str(dump_only=True)
    email = fields.Str(dump_only=True, metadata={"description": "team or messaging inbox"})


class PeopleQuerySchema(StrictSchema):
    organisation_id = fields.Int(
        validate=ID_RANGE,
        load_default=None,
        metadata={"description": "one unit of your own organisation (default: all of it)"},
    )
    after = fields.Int(
        validate=ID_RANGE,
        load_default=None,
        metadata={"description": "cursor: the last id of the previous page"},
    )
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=500))


class ContactSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    patient_id = fields.Int(dump_only=True)
    sector = enum_field(Sector, dump_only=True)
    sector_text = label_field("sector", "sector")
    organisation_id = fields.Int(dump_only=True)
    organisation = fields.Nested(OrganisationRefSchema, dump_only=True)
    person_id = fields.Int(dump_only=True, allow_none=True)
    person = fields.Nested(PersonSchema, dump_only=True, allow_none=True)
    backup_person_id = fields.Int(dump_only=True, allow_none=True)
    backup_person = fields.Nested(PersonSchema, dump_only=True, allow_none=True)
    team_inbox = fields.Str(dump_only=True)
    valid_from = Date(dump_only=True)
    valid_to = Date(dump_only=True, allow_none=True)
    ended_reason = fields.Str(dump_only=True)


class ContactCreateSchema(StrictSchema):
    organisation_id = fields.Int(validate=ID_RANGE, required=True)
    person_id = fields.Int(validate=ID_RANGE, load_default=None, allow_none=True)
    backup_person_id = fields.Int(validate=ID_RANGE, load_default=None, allow_none=True)
    team_inbox = fields.Str(load_default="", validate=validate.Length(max=254))
    valid_from = Date(required=True)
    valid_to = Date(load_default=None, allow_none=True)


class HandoverSchema(StrictSchema):
    person_id = fields.Int(validate=ID_RANGE, required=True)
    on = Date(required=True)
    backup_person_id = fields.Int(validate=ID_RANGE, load_default=None, allow_none=True)
    team_inbox = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=254))
    reason = fields.Str(load_default="handover", validate=validate.Length(min=1, max=200))


class EndContactSchema(StrictSchema):
    last_day = Date(required=True)
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=200))


class MissingSectorsSchema(StrictSchema):
    sectors = fields.List(enum_field(Sector))
