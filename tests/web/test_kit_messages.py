"""The words people read for a use case's field errors: the screen's own by (field, code), then by code,
then the kit's by code, then a general one; never the use case's English message on a Danish page."""

from __future__ import annotations

from flask import Flask
from flask_babel import force_locale

from coordinator.web.kit import field_message
from pathways.errors import FieldError

PROBLEM = FieldError("person_id", "Hanne Hjort does not work at Afsnit 1", "invalid")


def test_the_screens_own_words_by_field_and_code_come_first(app: Flask) -> None:
    with app.test_request_context(), force_locale("da"):
        assert field_message(PROBLEM, {("person_id", "invalid"): "Egen tekst", "invalid": "x"}) == (
            "Egen tekst"
        )
        assert field_message(PROBLEM, {"invalid": "Efter kode"}) == "Efter kode"


def test_then_the_kits_words_by_code_then_a_general_one_in_danish(app: Flask) -> None:
    with app.test_request_context(), force_locale("da"):
        required = FieldError("reason", "reason is required", "required")
        assert field_message(required) == "Feltet skal udfyldes."
        general = field_message(PROBLEM)
        assert "does not work" not in general
        assert general == "Kontrollér det, du har skrevet her."
    with app.test_request_context(), force_locale("en"):
        assert field_message(FieldError("reason", "reason is required", "required")) == (
            "This field is required."
        )
