"""What domain codes are called for people, in Danish (the default) and English.

The names live in one place, as data (``pathways/data/labels.toml``: ``[kind.code] da = ... en = ...``),
so that MedCom texts, mails, FHIR displays, the REST API and the web UI say the same thing. Pure: the
caller passes the language in (a door picks it from the request's Accept-Language).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from enum import Enum
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Literal

Language = Literal["da", "en"]
LANGUAGES: tuple[Language, ...] = ("da", "en")
DEFAULT_LANGUAGE: Language = "da"

# Reminder params that hold a code of another kind, and the kind that names it.
_CODED_PARAMS = {
    "sector": "sector",
    "reason": "contact_problem",
    "role": "participant_role",
    "step": "gp_step",
}


def language(value: object) -> Language:
    """``en`` when asked for English (``en``, ``en-GB``, ``EN``), else Danish."""
    text = str(value or "").strip().lower()
    return "en" if text == "en" or text.startswith(("en-", "en_")) else DEFAULT_LANGUAGE


@cache
def _table() -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    text = files("pathways.data").joinpath("labels.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    return MappingProxyType({kind: MappingProxyType(dict(codes)) for kind, codes in raw.items()})


def kinds() -> tuple[str, ...]:
    return tuple(_table())


def codes(kind: str) -> Mapping[str, Mapping[str, str]]:
    """Every code of ``kind`` with its names; KeyError names an unknown kind."""
    try:
        return _table()[kind]
    except KeyError:
        raise KeyError(f"no labels of kind {kind!r}; known kinds: {', '.join(kinds())}") from None


def label(kind: str, code: str | Enum, lang: str = DEFAULT_LANGUAGE) -> str:
    """The name of ``code`` (a value or an enum member) of ``kind`` in ``lang`` (Danish unless ``en``).

    KeyError for a kind or code that has no label: a programming error, since a test holds every member
    of every labelled enum to have one."""
    key = str(code.value) if isinstance(code, Enum) else code
    names = codes(kind).get(key)
    if names is None:
        raise KeyError(f"no label for {kind}.{key}")
    return names[language(lang)]


def label_or_code(kind: str, code: str | Enum, lang: str = DEFAULT_LANGUAGE) -> str:
    """``label`` for a code read from storage, where an old or foreign code is shown as it is."""
    key = str(code.value) if isinstance(code, Enum) else code
    names = codes(kind).get(key)
    return key if names is None else names[language(lang)]


def all_languages(kind: str, code: str | Enum) -> dict[Language, str]:
    """The names of ``code`` in every language, e.g. for a FHIR CodeSystem's designations."""
    return {lang: label(kind, code, lang) for lang in LANGUAGES}


def show_date(iso: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """An ISO calendar date as people write it: ``24.12.2026`` in Danish, ``2026-12-24`` in English."""
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return iso
    return day.strftime("%d.%m.%Y") if language(lang) == "da" else day.isoformat()


def reminder_message(rule: str, params: Mapping[str, object], lang: str = DEFAULT_LANGUAGE) -> str:
    """A reminder's message for people, from its rule and params: coded params (sector, reason, role,
    GP step) are named and dates written as people write them. A rule or param without a label shows as
    stored, so an old reminder still reads."""
    template = codes("reminder_message").get(rule)
    if template is None:
        return label_or_code("gap_rule", rule, lang)
    shown: dict[str, str] = {}
    for name, raw in params.items():
        value = str(raw)
        if name in _CODED_PARAMS:
            shown[name] = label_or_code(_CODED_PARAMS[name], value, lang)
        elif name.endswith("_on"):
            shown[name] = show_date(value, lang)
        else:
            shown[name] = value
    try:
        return template[language(lang)].format_map(shown)
    except (KeyError, IndexError, ValueError):
        return label_or_code("gap_rule", rule, lang)
