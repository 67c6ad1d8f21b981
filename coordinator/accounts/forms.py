"""Login and password forms (flask-wtf: each carries the CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length

from coordinator.accounts.services import MAX_PASSWORD_LENGTH
from coordinator.i18n import Form

_REQUIRED = _l("This field is required")
_TOO_LONG = _l("That is too long")


class LoginForm(Form):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(message=_REQUIRED), Length(max=64, message=_TOO_LONG)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            InputRequired(message=_REQUIRED),
            Length(max=MAX_PASSWORD_LENGTH, message=_TOO_LONG),
        ],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(Form):
    current_password = PasswordField(
        _l("Current password"),
        validators=[InputRequired(message=_REQUIRED)],
        render_kw={"autocomplete": "current-password"},
    )
    # Length and "different from the current one" are the use case's rules (change_own_password); the
    # form only checks what it alone can: that both copies of the new password agree.
    new_password = PasswordField(
        _l("New password"),
        validators=[InputRequired(message=_REQUIRED)],
        render_kw={"autocomplete": "new-password"},
    )
    repeat_password = PasswordField(
        _l("Repeat the new password"),
        validators=[
            InputRequired(message=_REQUIRED),
            EqualTo("new_password", message=_l("The two new passwords are not the same")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
