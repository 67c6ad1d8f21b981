"""Input that no database stores as given: text holding NUL characters.

PostgreSQL refuses NUL in text (the request would fail with a database error), SQLite would keep it
silently. Every door (REST, FHIR, MedCom) refuses such input before a use case runs, naming where it was.
JSON can only carry NUL as the escape ``\\u0000`` (a raw control character is not valid JSON), so a body is
only parsed again when its bytes hold that escape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request

NUL = "\x00"
MESSAGE = "must not contain a NUL character"


def nul_paths(value: Any, path: str = "") -> list[str]:
    """Where in a decoded JSON value text holds NUL: ``a.b[2].c`` (``$`` for the value itself)."""
    if isinstance(value, str):
        return [path or "$"] if NUL in value else []
    if isinstance(value, Mapping):
        found = []
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                found.append(here)
            found += nul_paths(item, here)
        return found
    if isinstance(value, list | tuple):
        return [p for i, item in enumerate(value) for p in nul_paths(item, f"{path}[{i}]")]
    return []


def query_nul_names() -> list[str]:
    """The query parameters of this request whose name or value holds NUL."""
    return [
        name.replace(NUL, "\\0")
        for name, value in request.args.items(multi=True)
        if NUL in name or NUL in value
    ]


def body_nul_paths() -> list[str]:
    """Where the JSON body of this request holds NUL (an empty list for any other body)."""
    if b"\\u0000" not in request.get_data(cache=True):
        return []
    body = request.get_json(force=True, silent=True)
    return nul_paths(body) if body is not None else []
