"""Request and response schemas (marshmallow 4): separate create, update, read and query shapes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from coordinator.i18n import request_language
from pathways.agreements import EndReason
from pathways.audit import AuditAction, AuditOutcome
from pathways.geography import Region
from pathways.labels import label, label_or_code, reminder_message
from pathways.legal import legal_basis
from pathways.organisations import OrganisationKind, Sector
from pathways.people import Role
from pathways.plans import (
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanStatus,
    ResponseStatus,
)
from pathways.reminders import ReminderStatus, Severity
from pathways.stays import PathwayFactType

# Identifiers are PostgreSQL integers: anything outside 1..2^31-1 is no id of ours (422, not a crash).
MAX_ID = 2**31 - 1
ID_RANGE = validate.Range(min=1, max=MAX_ID)


class Date(fields.Date):
    """An RFC 3339 full-date (``2026-11-26``), as the OpenAPI document's ``format: date`` says. Python's
    ``date.fromisoformat`` also takes ``20261126`` and week dates; a client that sends those is wrong and
    is told so."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or not _FULL_DATE.fullmatch(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


class AwareDateTime(fields.AwareDateTime):
    """An RFC 3339 date-time with an offset (``format: date-time``), nothing looser."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            parsed.astimezone(UTC)  # carepath keeps UTC: 0001-01-01T00:00+01:00 has no UTC time
        except OverflowError:
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None
        return parsed


_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _enum(enum: type, **kw: object) -> fields.Enum:
    return fields.Enum(enum, by_value=True, **kw)  # type: ignore[arg-type]


class StrictSchema(Schema):
    class Meta:
        ordered = True


# ---------------------------------------------------------------------------- plans
class ParticipantSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    role = _enum(ParticipantRole, dump_only=True)
    organisation_id = fields.Int(dump_only=True, allow_none=True)
    person_name = fields.Str(dump_only=True)
    is_required = fields.Bool(dump_only=True)
    response = _enum(ResponseStatus, dump_only=True)
    response_note = fields.Str(dump_only=True)
    responded_version_number = fields.Int(dump_only=True, allow_none=True)
    responded_at = AwareDateTime(dump_only=True, allow_none=True)


class PlanSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    kind = _enum(PlanKind, dump_only=True)
    status = _enum(PlanStatus, dump_only=True)
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
    patient_participation = _enum(PatientParticipation, dump_only=True)
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
    kind = _enum(PlanKind, load_default=None, allow_none=True)


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
    role = _enum(ParticipantRole, required=True)
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


# ---------------------------------------------------------------------------- patients
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


# ---------------------------------------------------------------------------- contacts
def _named(kind: str, attribute: str) -> fields.Function:
    """The name of an enum attribute for people, in the request's language (Accept-Language, ``?lang=``;
    Danish by default), from pathways/data/labels.toml."""
    return fields.Function(
        lambda obj: label(kind, getattr(obj, attribute), request_language()),
        dump_only=True,
        metadata={"description": f"the {attribute} in words, in the request's language"},
    )


class PersonSchema(StrictSchema):
    """A member of staff as colleagues see them: who, in what role, where, and how to reach them."""

    id = fields.Int(dump_only=True)
    name = fields.Str(dump_only=True)
    role = _enum(Role, dump_only=True)
    role_text = _named("staff_role", "role")
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
    sector = _enum(Sector, dump_only=True)
    sector_text = _named("sector", "sector")
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
    sectors = fields.List(_enum(Sector))


# ---------------------------------------------------------------------------- pathways
class LeavePeriodSchema(StrictSchema):
    started_at = AwareDateTime()
    ended_at = AwareDateTime(allow_none=True)


class ObligationSchema(StrictSchema):
    key = fields.Str()
    status = fields.Str(attribute="status.value")
    legal_basis = fields.Str(attribute="basis.reference")
    reason = fields.Str()
    due_on = Date(allow_none=True)
    plan_id = fields.Int(allow_none=True)


class PathwaySchema(StrictSchema):
    id = fields.Int(dump_only=True)
    patient_id = fields.Int(dump_only=True)
    ward_id = fields.Int(dump_only=True)
    status = fields.Str(dump_only=True, attribute="status.value")
    admitted_at = AwareDateTime(dump_only=True)
    planned_discharge_on = Date(dump_only=True, allow_none=True)
    discharged_at = AwareDateTime(dump_only=True, allow_none=True)
    closed_at = AwareDateTime(dump_only=True, allow_none=True)
    readmission_of_id = fields.Int(dump_only=True, allow_none=True)
    receives_sel_support = fields.Bool(dump_only=True, allow_none=True)
    presumed_not_to_seek_treatment = fields.Bool(dump_only=True, allow_none=True)
    leave_periods = fields.Nested(LeavePeriodSchema, many=True, dump_only=True)
    obligation = fields.Nested(ObligationSchema, dump_only=True)


class StaySchema(StrictSchema):
    """A stay in a list (worklists): who, where, since when; no CPR number in lists."""

    id = fields.Int(dump_only=True)
    patient_id = fields.Int(dump_only=True)
    patient_name = fields.Function(
        lambda stay: f"{stay.patient.given_name} {stay.patient.family_name}", dump_only=True
    )
    ward_id = fields.Int(dump_only=True)
    status = fields.Str(dump_only=True, attribute="status.value")
    encounter_class = fields.Str(dump_only=True, attribute="encounter_class.value")
    admitted_at = AwareDateTime(dump_only=True)
    planned_discharge_on = Date(dump_only=True, allow_none=True)
    discharged_at = AwareDateTime(dump_only=True, allow_none=True)
    readmission_of_id = fields.Int(dump_only=True, allow_none=True)


class StayListQuerySchema(StrictSchema):
    ward_id = fields.Int(
        validate=ID_RANGE,
        load_default=None,
        metadata={"description": "the current stays of this ward (or of every ward of a centre)"},
    )
    kommunekode = fields.Str(
        load_default=None,
        validate=validate.Regexp(r"^[0-9]{3}$"),
        metadata={"description": "the stays of this municipality's citizens"},
    )
    discharged_since = Date(
        load_default=None,
        metadata={"description": "with kommunekode: also those discharged on or after this day"},
    )
    after = fields.Int(
        validate=ID_RANGE,
        load_default=None,
        metadata={"description": "cursor: the last id of the previous page"},
    )
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=100))

    @validates_schema
    def _one_list(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("ward_id") is None) == (data.get("kommunekode") is None):
            raise ValidationError("give either ward_id or kommunekode", "ward_id")
        if data.get("discharged_since") is not None and data.get("kommunekode") is None:
            raise ValidationError("only with kommunekode", "discharged_since")


class AssessmentSchema(StrictSchema):
    receives_sel_support = fields.Bool(required=True)
    presumed_not_to_seek_treatment = fields.Bool(required=True)


class RequirementSchema(StrictSchema):
    level = fields.Str(attribute="level.value")
    kind = fields.Str(attribute="kind.value", allow_none=True)
    legal_basis = fields.Str(attribute="basis.reference")
    reason = fields.Str()


class PathwayEventCreateSchema(StrictSchema):
    type = fields.Str(
        required=True,
        validate=validate.OneOf(
            [
                "leave_started",
                "leave_ended",
                "discharge_planned",
                "discharged",
                "follow_up_booked",
                "follow_up_held",
                "closed",
                "cancelled",
            ]
        ),
    )
    occurred_at = AwareDateTime(required=True)
    planned_discharge_on = Date(load_default=None, allow_none=True)
    idempotency_key = fields.Str(required=True, validate=validate.Length(min=1, max=200))


class PathwayEventSchema(StrictSchema):
    id = fields.Int()
    type = fields.Str(attribute="type.value")
    occurred_at = AwareDateTime()
    recorded_at = AwareDateTime()
    source = fields.Str(attribute="source.value")


# ---------------------------------------------------------------------------- audit
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


class PlanListQuerySchema(StrictSchema):
    status = fields.List(
        _enum(PlanStatus),
        load_default=list,
        metadata={"description": "repeat for several statuses"},
    )
    kind = _enum(PlanKind, load_default=None)
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


# ---------------------------------------------------------------------------- users, for administrators
class UserSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    organisation_id = fields.Int(dump_only=True)
    name = fields.Str(dump_only=True)
    role = _enum(Role, dump_only=True)
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


# ---------------------------------------------------------------------------- emergency access
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


class AuditExportQuerySchema(AuditQuerySchema):
    format = fields.Str(
        load_default="csv",
        validate=validate.OneOf(["csv", "fhir"]),
        metadata={"description": "csv, or fhir for a Bundle of R4 AuditEvents"},
    )


# ---------------------------------------------------------------------------- organisations
class OrganisationSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    name = fields.Str(dump_only=True)
    kind = _enum(OrganisationKind, dump_only=True)
    sector = _enum(Sector, dump_only=True)
    parent_id = fields.Int(dump_only=True, allow_none=True)
    sor_code = fields.Str(dump_only=True, allow_none=True)
    kommunekode = fields.Str(dump_only=True, allow_none=True)
    ydernummer = fields.Str(dump_only=True, allow_none=True)
    gln = fields.Str(dump_only=True, allow_none=True)
    region_code = _enum(Region, dump_only=True, allow_none=True)
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
    kind = _enum(OrganisationKind, required=True)
    parent_id = fields.Int(validate=ID_RANGE, load_default=None)
    sor_code = fields.Str(load_default=None)
    kommunekode = fields.Str(load_default=None)
    ydernummer = fields.Str(load_default=None)
    gln = fields.Str(load_default=None)
    region_code = fields.Str(load_default=None)
    email = fields.Email(load_default=None, metadata={"description": "team or messaging inbox"})


class OrganisationQuerySchema(StrictSchema):
    kind = _enum(OrganisationKind, load_default=None)
    sector = _enum(Sector, load_default=None)
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


# ---------------------------------------------------------------------------- reminders
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
    status = _enum(ReminderStatus, dump_only=True)
    severity = _enum(Severity, dump_only=True)
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
    severity_text = _named("severity", "severity")
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
        _enum(ReminderStatus),
        load_default=list,
        metadata={"description": "repeat for several; default: open, acknowledged, snoozed"},
    )
    mine = fields.Bool(
        load_default=False, metadata={"description": "only those addressed to me personally"}
    )
    patient_id = fields.Int(validate=ID_RANGE, load_default=None)
    severity = _enum(Severity, load_default=None)
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
    type = _enum(PathwayFactType, required=True)
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
