"""The Subscription mapper: criteria, channel and headers in; the stored subscription out (headers
redacted), valid R4."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.subscription import Subscription as FhirSubscription

from fhir_adapters.common import to_json
from fhir_adapters.subscription import (
    Criteria,
    SubscriptionRecord,
    subscription_from_fhir,
    subscription_to_fhir,
)
from pathways.errors import ValidationFailed


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "the GP system",
        "criteria": "CarePlan?patient=Patient/7",
        "channel": {
            "type": "rest-hook",
            "endpoint": "https://ehr.example/hook",
            "payload": "application/fhir+json",
            "header": ["Authorization:  Bearer s3cret "],
        },
    }
    body.update(overrides)
    return body


def test_a_rest_hook_is_read() -> None:
    request = subscription_from_fhir(_body(end="2027-01-01T10:00:00+01:00"))
    assert request.criteria == Criteria(resource_type="CarePlan", patient_id=7)
    assert request.endpoint == "https://ehr.example/hook"
    assert request.headers == ("Authorization: Bearer s3cret",)
    assert request.payload == "application/fhir+json"
    assert request.end == datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    by_org = subscription_from_fhir(_body(criteria="Task?organization=Organization/3"))
    assert by_org.criteria == Criteria(resource_type="Task", organisation_id=3)
    assert by_org.criteria.text() == "Task?organization=Organization/3"


@pytest.mark.parametrize(
    ("criteria", "code"),
    [
        ("Encounter?patient=Patient/7", "not-supported"),
        ("CarePlan?subject=Patient/7", "value"),
        ("CarePlan?patient=Organization/7", "value"),
        ("CarePlan?patient=Patient/x", "value"),
        ("CarePlan?patient=Patient/7&status=active", "value"),
        ("CarePlan", "value"),
    ],
)
def test_criteria_outside_the_grammar_are_refused(criteria: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        subscription_from_fhir(_body(criteria=criteria))
    assert [(e.field, e.code) for e in caught.value.errors] == [("Subscription.criteria", code)]


def test_bad_channels_name_each_field() -> None:
    channel = {
        "type": "websocket",
        "endpoint": "ftp://ehr.example/hook",
        "payload": "text/plain",
        "header": ["Content-Type: text/plain", "no colon", "X-Ok: fine\r\nHost: evil"],
    }
    with pytest.raises(ValidationFailed) as caught:
        subscription_from_fhir(_body(channel=channel))
    assert caught.value.fields == (
        "Subscription.channel.type",
        "Subscription.channel.endpoint",
        "Subscription.channel.payload",
        "Subscription.channel.header[0]",
        "Subscription.channel.header[1]",
        "Subscription.channel.header[2]",
    )


def test_the_stored_subscription_is_valid_r4_with_headers_redacted() -> None:
    record = SubscriptionRecord(
        id=4,
        version=2,
        status="off",
        criteria=Criteria(resource_type="Communication", organisation_id=9),
        endpoint="https://ehr.example/hook",
        headers=("Authorization: Bearer s3cret",),
        payload=None,
        reason="",
        end=datetime(2027, 1, 1, tzinfo=UTC),
        updated_at=datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
    )
    built = subscription_to_fhir(record)
    assert built == to_json(FhirSubscription.model_validate(built))
    assert built["channel"] == {
        "type": "rest-hook",
        "endpoint": "https://ehr.example/hook",
        "header": ["Authorization: ***"],
    }
    assert (built["status"], built["criteria"], built["end"]) == (
        "off",
        "Communication?organization=Organization/9",
        "2027-01-01T00:00:00Z",
    )
    assert "s3cret" not in str(built)
    # what was read back can be sent back (an update that ends it)
    again = subscription_from_fhir({**built, "status": "off"})
    assert again.headers == ("Authorization: ***",)
