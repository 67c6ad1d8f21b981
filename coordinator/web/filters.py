"""Jinja filters and globals of the web door: Danish dates and Copenhagen times (flask-babel), masked CPR
numbers, and names of codes from the one label home (pathways/data/labels.toml)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

from flask import Flask
from flask_babel import format_date, format_datetime

from coordinator.i18n import request_language
from pathways.labels import label_or_code


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


def day(value: date | datetime | str | None, style: str = "medium") -> str:
    """A date in the reader's language (``4. dec. 2026``); a datetime is first put in Copenhagen time.
    An ISO date text (a plan's date field) is read first; any other text is shown as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return format_date(date.fromisoformat(value), style)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return format_datetime(value, "d. MMM y" if style == "medium" else style)
    return format_date(value, style)


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
