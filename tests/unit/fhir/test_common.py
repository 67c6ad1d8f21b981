from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhir_adapters.common import parse_datetime
from pathways.errors import ErrorCollector, ValidationFailed


def test_a_time_in_utc() -> None:
    errors = ErrorCollector()
    parsed = parse_datetime("2026-11-26T10:00:00+01:00", "x", errors)
    assert parsed == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert parsed is not None
    assert parsed.tzinfo is UTC
    errors.raise_if_any()


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+01:00", "2026-11-26T10:00:00", "2026-11-26"]
)
def test_a_time_utc_cannot_hold_or_without_a_zone_is_a_field_error(value: str) -> None:
    errors = ErrorCollector()
    assert parse_datetime(value, "CarePlan.created", errors) is None
    with pytest.raises(ValidationFailed) as failed:
        errors.raise_if_any()
    assert failed.value.fields == ("CarePlan.created",)
