"""What the administration views share: Danish words for the use cases' field errors, and labelled
choices."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from flask import make_response, render_template
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from coordinator.web.filters import code_label
from coordinator.web.kit import FieldMessages

# The use cases name field errors in English for API callers; people get these words, by field and code
# (coordinator.web.kit.field_message: else by code, else a general one).
FIELD_MESSAGES: FieldMessages = {
    ("username", "invalid"): _l("Use 3-64 lower-case letters, digits, '.', '_' or '-'"),
    ("email", "invalid"): _l("The e-mail address is not valid"),
    ("phone", "invalid"): _l("The phone number must be 8 to 15 digits, optionally with +"),
    ("role", "invalid"): _l("The role does not exist in this unit's sector"),
    ("role", "wrong-sector"): _l("The role does not exist in this unit's sector"),
    ("name", "required"): _l("This field is required"),
    ("scopes", "required"): _l("Choose at least one scope"),
    ("scopes", "unknown-scope"): _l("Choose scopes from the list"),
    ("jwks", "private-key"): _l("The keys contain private key material: register public keys only"),
    ("jwks", "missing-kid"): _l("Every key needs a kid (key id)"),
    ("patient_cpr", "invalid"): _l("Write a CPR number as DDMMYY-SSSS or a patient id"),
}


def labelled(
    kind: str, values: Iterable[str | Enum], *, blank: str | None = None
) -> list[tuple[str, str]]:
    """Select choices ``(code, name)`` from the label home; ``blank`` first when given (no filter)."""
    choices = [(str(getattr(v, "value", v)), code_label(v, kind)) for v in values]
    return [("", blank), *choices] if blank is not None else choices


def once(template: str, **context: object) -> ResponseReturnValue:
    """A page with a secret shown once: never stored by the browser or a proxy."""
    response = make_response(render_template(template, **context))
    response.headers["Cache-Control"] = "no-store"
    return response
