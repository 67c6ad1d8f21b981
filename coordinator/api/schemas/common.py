"""What every schema shares: strict RFC 3339 dates and times, ids that fit the database, ordered strict
schemas (marshmallow 4), enum fields by value and the names of codes for people (``label_field``)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import Schema, fields, validate

from coordinator.i18n import request_language
from pathways.labels import label

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


def enum_field(enum: type, **kw: object) -> fields.Enum:
    return fields.Enum(enum, by_value=True, **kw)  # type: ignore[arg-type]


class StrictSchema(Schema):
    class Meta:
        ordered = True


def label_field(kind: str, attribute: str) -> fields.Function:
    """The name of an enum attribute for people, in the request's language (Accept-Language, ``?lang=``;
    Danish by default), from pathways/data/labels.toml."""
    return fields.Function(
        lambda obj: label(kind, getattr(obj, attribute), request_language()),
        dump_only=True,
        metadata={"description": f"the {attribute} in words, in the request's language"},
    )
