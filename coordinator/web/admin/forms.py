"""The administration pages' forms (flask-wtf). They check only the shape of what was typed; the rules
(who may give which role, which scopes exist, whether keys are public) are the use cases'."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional

from coordinator.i18n import Form

_REQUIRED = _l("This field is required")
_TOO_LONG = _l("That is too long")


class CreateUserForm(Form):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_REQUIRED), Length(max=200, message=_TOO_LONG)],
    )
    username = StringField(
        _l("Username"),
        validators=[Optional(), Length(max=64, message=_TOO_LONG)],
        description=_l("Leave empty for staff who do not log in (e.g. a GP working in their EHR)."),
        render_kw={"autocapitalize": "none", "spellcheck": "false", "autocomplete": "off"},
    )
    role = SelectField(_l("Role"), validators=[DataRequired(message=_REQUIRED)])
    organisation_id = SelectField(
        _l("Unit"), coerce=int, validators=[DataRequired(message=_REQUIRED)]
    )
    title = StringField(_l("Title"), validators=[Length(max=200, message=_TOO_LONG)])
    email = StringField(
        _l("E-mail"),
        validators=[Length(max=254, message=_TOO_LONG)],
        render_kw={"autocomplete": "off", "type": "email"},
    )
    phone = StringField(_l("Phone"), validators=[Length(max=20, message=_TOO_LONG)])


class ChangeUserForm(Form):
    role = SelectField(_l("Role"), validators=[DataRequired(message=_REQUIRED)])
    organisation_id = SelectField(
        _l("Unit"), coerce=int, validators=[DataRequired(message=_REQUIRED)]
    )


class ReviewForm(Form):
    note = TextAreaField(
        _l("Review note"),
        validators=[DataRequired(message=_REQUIRED), Length(max=500, message=_TOO_LONG)],
    )


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class RegisterClientForm(Form):
    organisation_id = SelectField(
        _l("Organisation the system acts for"),
        coerce=int,
        validators=[DataRequired(message=_REQUIRED)],
    )
    name = StringField(
        _l("Name of the system"),
        validators=[DataRequired(message=_REQUIRED), Length(max=200, message=_TOO_LONG)],
        description=_l("E.g. “Sundhedsplatformen, Region Hovedstaden”."),
    )
    scopes = MultiCheckboxField(_l("Scopes"))
    jwks = TextAreaField(
        _l("Public keys (JWKS)"),
        validators=[DataRequired(message=_REQUIRED), Length(max=60_000, message=_TOO_LONG)],
        description=_l(
            "The system's public signing keys as a JSON Web Key Set (or one key), each with a kid. "
            "The system signs its token requests with the private key (private_key_jwt); "
            "never paste a private key."
        ),
        render_kw={"rows": 8, "spellcheck": "false"},
    )


class AuditFilterForm(Form):
    """The audit log's filters: a GET form (a link can be shared and bookmarked), no CSRF token."""

    class Meta:
        csrf = False

    since = DateField(_l("From (date)"), validators=[Optional()])
    until = DateField(_l("To (date, inclusive)"), validators=[Optional()])
    actor = StringField(
        _l("Actor"),
        validators=[Optional(), Length(max=200, message=_TOO_LONG)],
        description=_l("A name, part of a name, or a user id."),
    )
    patient = StringField(
        _l("Patient"),
        validators=[Optional(), Length(max=20, message=_TOO_LONG)],
        description=_l("The patient's id or CPR number."),
        render_kw={"autocomplete": "off"},
    )
    action = SelectField(_l("Action"), validators=[Optional()])
    outcome = SelectField(_l("Outcome"), validators=[Optional()])
    channel = SelectField(_l("Channel"), validators=[Optional()])
    resource_type = StringField(
        _l("Resource type"),
        validators=[Optional(), Length(max=64, message=_TOO_LONG)],
        description=_l("E.g. Plan, Patient, User, AuditLog."),
    )
