from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle

from fhir_adapters.audit_event import AuditRecord, audit_bundle, audit_event

RECORD = AuditRecord(
    id=7,
    occurred_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    actor_kind="user",
    actor_id=3,
    actor_name="Anne Vestergaard",
    actor_organisation_id=12,
    patient_id=5,
    resource_type="Plan",
    resource_id="9",
    action="read",
    purpose="general_practice: patient's GP",
    outcome="allowed",
    channel="rest",
    request_id="abc123",
)


def test_a_read_becomes_an_r4_audit_event() -> None:
    event = audit_event(RECORD)
    data = event.model_dump(mode="json", exclude_none=True)
    assert data["action"] == "R"
    assert data["outcome"] == "0"
    assert data["recorded"].startswith("2026-11-26T09:30:00")
    assert data["agent"][0]["who"] == {"reference": "Practitioner/3", "display": "Anne Vestergaard"}
    assert data["agent"][1]["who"] == {"reference": "Organization/12"}
    assert [e["what"]["reference"] for e in data["entity"]] == ["Patient/5", "Plan/9"]
    assert data["purposeOfEvent"][0]["text"] == "general_practice: patient's GP"
    assert data["source"]["site"] == "abc123"
    # it parses back as R4(B) JSON
    assert AuditEvent.model_validate_json(event.model_dump_json(exclude_none=True)).id == "7"


def test_a_refusal_is_a_minor_failure() -> None:
    denied = audit_event(replace(RECORD, outcome="denied", action="update"))
    data = denied.model_dump(mode="json", exclude_none=True)
    assert (data["outcome"], data["action"], data["outcomeDesc"]) == ("4", "U", "access denied")


def test_bundle_of_events() -> None:
    bundle = audit_bundle([RECORD, replace(RECORD, outcome="denied")])
    assert isinstance(bundle, Bundle)
    data = bundle.model_dump(mode="json", exclude_none=True)
    assert (data["type"], data["total"], len(data["entry"])) == ("collection", 2, 2)
    assert data["entry"][1]["resource"]["outcome"] == "4"
