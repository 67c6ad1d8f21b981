"""Assertions shared by the FHIR mapper tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fhir.resources.R4B.resource import Resource

from fhir_adapters.common import to_json
from pathways.errors import ValidationFailed


def reparse(resource: Resource) -> dict[str, Any]:
    """The resource's JSON, after checking fhir.resources R4B parses it back to the same JSON."""
    data = to_json(resource)
    again = type(resource).model_validate_json(resource.model_dump_json(exclude_none=True))
    assert to_json(again) == data
    return data


def errors_of(parse: Callable[[Any], object], data: Any) -> dict[str, str]:
    """{expression: code} of the ValidationFailed that parsing ``data`` raises."""
    with pytest.raises(ValidationFailed) as caught:
        parse(data)
    return {e.field: e.code for e in caught.value.errors}


def systems(data: dict[str, Any]) -> set[str]:
    return {i["system"] for i in data.get("identifier", [])}
