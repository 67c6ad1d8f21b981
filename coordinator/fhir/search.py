"""Reading search parameter values: tokens (``system|code``), references (``Type/id``), dates with
prefixes, and the keyset page cursor. A value that cannot be read is a 400 naming the parameter."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from coordinator.fhir.core import SearchQuery, bad_search, split_values

T = TypeVar("T")

_REFERENCE = re.compile(
    r"(?:https?://\S*/)?(?:(?P<type>[A-Z][A-Za-z]+)/)?(?P<id>[A-Za-z0-9\-.]{1,64})", re.ASCII
)
_DATE = re.compile(r"(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?(?P<value>\d{4}(?:-\d{2}(?:-\d{2})?)?)")
SUPPORTED_DATE_PREFIXES = ("eq", "ge", "gt", "le", "lt")


@dataclass(frozen=True, slots=True)
class Token:
    """``system|code`` (``system`` None: any system; "" : no system, as in ``|code``)."""

    system: str | None
    code: str


def tokens(query: SearchQuery, name: str) -> list[list[Token]]:
    """Per occurrence of the parameter, its OR-ed tokens."""
    out: list[list[Token]] = []
    for value in query.values(name):
        found = []
        for part in split_values(value):
            system, bar, code = part.partition("|")
            found.append(Token(system, code) if bar else Token(None, part))
        if not found or any(not t.code for t in found):
            raise bad_search(f"search parameter {name}: give a code (system|code or code)")
        out.append(found)
    return out


def references(query: SearchQuery, name: str, types: Sequence[str]) -> list[list[tuple[str, str]]]:
    """Per occurrence, its OR-ed (type, id) pairs. A bare id takes the first type."""
    out: list[list[tuple[str, str]]] = []
    for value in query.values(name):
        found = []
        for part in split_values(value):
            match = _REFERENCE.fullmatch(part)
            kind = match.group("type") if match else None
            if match is None or (kind is not None and kind not in types):
                wanted = " or ".join(f"{t}/<id>" for t in types)
                raise bad_search(f"search parameter {name}: expected {wanted}, got {part!r}")
            found.append((kind or types[0], match.group("id")))
        if not found:
            raise bad_search(f"search parameter {name}: give a reference")
        out.append(found)
    return out


def int_reference(rid: str) -> int | None:
    """Our integer id, or None when the reference names something we cannot have (it matches nothing)."""
    if rid.isascii() and rid.isdigit() and 0 < int(rid) <= 2**31 - 1:
        return int(rid)
    return None


def reference_ids(query: SearchQuery, name: str, kind: str) -> set[int] | None:
    """The ids a reference parameter allows: each occurrence's OR-ed ids, the occurrences AND-ed; None
    when the parameter is absent (no restriction), an empty set when nothing can match."""
    result: set[int] | None = None
    for occurrence in references(query, name, (kind,)):
        found = {n for _, rid in occurrence if (n := int_reference(rid)) is not None}
        result = found if result is None else result & found
    return result


@dataclass(frozen=True, slots=True)
class DateBound:
    """A date search value: its prefix and the range of days its precision covers."""

    prefix: str
    first: date
    last: date


def _range(text: str) -> tuple[date, date]:
    parts = [int(p) for p in text.split("-")]
    if len(parts) == 1:
        return date(parts[0], 1, 1), date(parts[0], 12, 31)
    if len(parts) == 2:
        last_day = calendar.monthrange(parts[0], parts[1])[1]
        return date(parts[0], parts[1], 1), date(parts[0], parts[1], last_day)
    day = date(parts[0], parts[1], parts[2])
    return day, day


def dates(query: SearchQuery, name: str) -> list[DateBound]:
    """Every occurrence (AND) of a date parameter; a dateTime counts as its calendar date."""
    out: list[DateBound] = []
    for value in query.values(name):
        text = value.split("T", 1)[0] if "T" in value else value
        match = _DATE.fullmatch(text)
        if match is None:
            raise bad_search(
                f"search parameter {name}: expected [prefix]YYYY[-MM[-DD]], got {value!r}"
            )
        prefix = match.group("prefix") or "eq"
        if prefix not in SUPPORTED_DATE_PREFIXES:
            raise bad_search(
                f"search parameter {name}: prefix {prefix} is not supported; use "
                + ", ".join(SUPPORTED_DATE_PREFIXES)
            )
        try:
            first, last = _range(match.group("value"))
        except ValueError:
            raise bad_search(f"search parameter {name}: {value!r} is not a date") from None
        out.append(DateBound(prefix, first, last))
    return out


def overlap_range(bound: DateBound) -> tuple[date | None, date | None, bool]:
    """(start, end, within) for a period search: ge/gt/le/lt ask for an overlap with a half-open range,
    eq for a period inside the value's range."""
    match bound.prefix:
        case "ge":
            return bound.first, None, False
        case "gt":
            return bound.last + timedelta(days=1), None, False
        case "le":
            return None, bound.last, False
        case "lt":
            return None, bound.first - timedelta(days=1), False
        case _:
            return bound.first, bound.last, True


def cursor_id(query: SearchQuery) -> int | None:
    """The keyset cursor as an id (``_cursor`` from a next link)."""
    if query.cursor is None:
        return None
    cursor = int_reference(query.cursor)
    if cursor is None:
        raise bad_search("_cursor: use the next link the server gave you")
    return cursor


def page_after(
    items: Sequence[T], key: Callable[[T], str], query: SearchQuery
) -> tuple[list[T], str | None]:
    """One page of a list a search holds whole (one patient's stays or care teams: tens at most), in its
    own order: ``_count`` items after the one ``_cursor`` names (the previous page's last), and the
    cursor of the next page (None on the last)."""
    start = 0
    if query.cursor is not None:
        keys = [key(item) for item in items]
        if query.cursor not in keys:
            raise bad_search("_cursor: use the next link the server gave you")
        start = keys.index(query.cursor) + 1
    page = list(items[start : start + query.count])
    more = start + len(page) < len(items)
    return page, (key(page[-1]) if more and page else None)


def next_cursor(ids: Sequence[int], count: int) -> str | None:
    """A full page gets a cursor (the last id); the last page none."""
    return str(ids[-1]) if ids and len(ids) >= count else None
