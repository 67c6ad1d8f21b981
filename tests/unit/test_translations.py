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
            *("-F", str(ROOT / "coordinator" / "babel.cfg"), "-k", "_l"),
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
