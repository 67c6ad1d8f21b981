"""Every text of the UI is in Danish (the default) and English: a string added to the code or a template
without its Danish translation fails here, with the strings to translate (run `make messages`, then
fill in coordinator/translations/da/LC_MESSAGES/messages.po)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "coordinator" / "translations"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    pot = tmp_path_factory.mktemp("babel") / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "extract",
            *(
                "-F",
                str(ROOT / "coordinator" / "babel.cfg"),
                "-k",
                "_l",
                "-k",
                "N_",
                "-k",
                "Nn_:1,2",
            ),
            *("--no-location", "--omit-header", "-o", str(pot), str(ROOT / "coordinator")),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        return {str(m.id if isinstance(m.id, str) else m.id[0]) for m in read_po(handle) if m.id}


def _translated(language: str) -> set[str]:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    done = set()
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if all(strings):
            done.add(str(message.id if isinstance(message.id, str) else message.id[0]))
    return done


def test_every_ui_string_has_a_danish_translation(extracted: set[str]) -> None:
    assert sorted(extracted - _translated("da")) == []


def test_the_english_catalogue_knows_every_ui_string(extracted: set[str]) -> None:
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        known = {str(m.id if isinstance(m.id, str) else m.id[0]) for m in read_po(handle) if m.id}
    assert sorted(extracted - known) == []


def test_wtforms_own_messages_are_in_the_catalogue() -> None:
    """coordinator.form_messages lists every message of the installed WTForms (it has no Danish), so a
    WTForms upgrade with a new message fails here until it is listed and translated."""
    import wtforms

    from coordinator.form_messages import MESSAGES

    pot = Path(wtforms.__file__).parent / "locale" / "wtforms.pot"
    with pot.open("rb") as handle:
        theirs = {m.id if isinstance(m.id, str) else tuple(m.id) for m in read_po(handle) if m.id}
    assert theirs == set(MESSAGES)


def test_wtforms_messages_are_shown_in_danish() -> None:
    from flask import Flask
    from flask_babel import Babel, force_locale
    from wtforms import DateField
    from wtforms.validators import InputRequired

    from coordinator.i18n import Form

    class Dated(Form):
        class Meta:
            csrf = False

        on = DateField(validators=[InputRequired()])

    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app)
    with app.test_request_context(method="POST", data={"on": ""}), force_locale("da"):
        form = Dated()
        assert not form.validate()
        assert form.on.errors == ["Feltet skal udfyldes."]
    with app.test_request_context(method="POST", data={"on": "31-02-2026"}), force_locale("da"):
        form = Dated()
        assert not form.validate()
        assert form.on.errors == ["Skriv en gyldig dato."]
