"""Jinja filters and globals of the web door: Danish dates and Copenhagen times (flask-babel), masked CPR
numbers, and names of codes from the one label home (pathways/data/labels.toml)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import Enum
from functools import lru_cache

import babel.dates
from flask import Flask
from flask_babel import format_datetime, get_locale

from coordinator.i18n import request_language
from pathways.clock import COPENHAGEN
from pathways.labels import DEFAULT_LANGUAGE, label_or_code


def cpr_masked(cpr: str | None) -> str:
    """Birth date shown, serial number hidden: ``010190-****``. Lists never show the whole number."""
    if not cpr:
        return ""
    digits = cpr.replace("-", "")
    return f"{digits[:6]}-****"


def cpr_dashed(cpr: str | None) -> str:
    if not cpr:
        return ""
    digits = cpr.replace("-", "")
    return f"{digits[:6]}-{digits[6:]}"


@lru_cache(maxsize=4096)
def _date_text(value: date, style: str, locale: str) -> str:
    """Babel's text of a calendar date: a worklist shows a few hundred dates, most of them alike."""
    return babel.dates.format_date(value, style, locale=locale)


def day(value: date | datetime | str | None, style: str = "medium") -> str:
    """A date in the reader's language (``4. dec. 2026``); a datetime is first put in Copenhagen time.
    An ISO date text (a plan's date field) is read first; any other text is shown as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return day(date.fromisoformat(value), style)
        except ValueError:
            return value
    if isinstance(value, datetime):  # only the date's fields: its Copenhagen day says it all
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # stored: UTC
        value, style = (
            aware.astimezone(COPENHAGEN).date(),
            "d. MMM y" if style == "medium" else style,
        )
    return _date_text(value, style, str(get_locale() or DEFAULT_LANGUAGE))


def moment(value: datetime | None, style: str = "medium") -> str:
    """A point in time in Copenhagen time (``4. dec. 2026 14.05``)."""
    if value is None:
        return ""
    return format_datetime(value, "d. MMM y HH:mm" if style == "medium" else style)


def code_label(code: str | Enum | None, kind: str) -> str:
    """``{{ stay.status | code_label('stay_status') }}``: the name of a code in the reader's language."""
    if code is None or code == "":
        return ""
    return label_or_code(kind, code, request_language())


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        cpr_masked=cpr_masked, cpr_dashed=cpr_dashed, day=day, moment=moment, label=code_label
    )
