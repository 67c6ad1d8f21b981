"""Task/answer-{party}: the status of a party's answer to a plan, and what a party's system sends back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from fhir_adapters.common import to_json
from fhir_adapters.records import AnswerTaskRecord
from fhir_adapters.task import (
    TASK_CODE_SYSTEM,
    TaskUpdate,
    answer_task_status,
    answer_task_to_fhir,
    task_update_from_fhir,
)
from pathways.errors import ValidationFailed
from pathways.plans import ParticipantRole, PlanKind, PlanStatus, ResponseStatus
from tests.unit.fhir.helpers import reparse

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ANSWER = AnswerTaskRecord(
    participant_id=9,
    plan_id=3,
    plan_kind=PlanKind.DISCHARGE_AGREEMENT,
    plan_status=PlanStatus.PROPOSED,
    plan_version_number=2,
    role=ParticipantRole.GP,
    patient_id=5,
    owner_organisation_id=7,
    requester_organisation_id=4,
    response=ResponseStatus.PENDING,
    pathway_id=6,
    version=11,
    updated_at=T0,
)


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, "requested"),
        ({"received": True, "received_at": T0}, "received"),
        ({"plan_status": PlanStatus.UNDER_REVISION}, "requested"),
        ({"answered": True, "response": ResponseStatus.ACCEPTED}, "accepted"),
        ({"answered": True, "response": ResponseStatus.REJECTED, "note": "Nej"}, "rejected"),
        ({"answered": True, "response": ResponseStatus.COMMENTED, "note": "?"}, "received"),
        # an answer to an older version is no answer to this one
        ({"answered": False, "response": ResponseStatus.ACCEPTED}, "requested"),
        ({"plan_status": PlanStatus.DRAFT}, "draft"),
        ({"plan_status": PlanStatus.AGREED}, "cancelled"),
        (
            {
                "plan_status": PlanStatus.AGREED,
                "answered": True,
                "response": ResponseStatus.ACCEPTED,
            },
            "accepted",
        ),
        ({"plan_status": PlanStatus.WITHDRAWN}, "cancelled"),
    ],
)
def test_answer_status(changes: dict[str, object], status: str) -> None:
    record = replace(ANSWER, **changes)  # type: ignore[arg-type]
    assert answer_task_status(record) == status
    assert reparse(answer_task_to_fhir(record))["status"] == status


def test_answer_task_resource() -> None:
    rejected = replace(
        ANSWER, answered=True, response=ResponseStatus.REJECTED, note="Mangler", responded_at=T0
    )
    task = reparse(answer_task_to_fhir(rejected))
    assert task["id"] == "answer-9"
    assert task["meta"] == {"versionId": "11", "lastUpdated": "2026-11-20T08:00:00Z"}
    assert task["code"]["coding"] == [{"system": TASK_CODE_SYSTEM, "code": "approve"}]
    assert (task["focus"], task["owner"], task["requester"]) == (
        {"reference": "CarePlan/3"},
        {"reference": "Organization/7"},
        {"reference": "Organization/4"},
    )
    assert task["statusReason"] == {"text": "Mangler"}
    assert "note" not in task  # the reason is the statusReason
    accepted = replace(rejected, response=ResponseStatus.ACCEPTED, note="Fint")
    assert to_json(answer_task_to_fhir(accepted))["note"] == [
        {"text": "Fint", "time": "2026-11-20T08:00:00Z"}
    ]
    patient = replace(ANSWER, role=ParticipantRole.PATIENT, owner_organisation_id=None)
    assert to_json(answer_task_to_fhir(patient))["owner"] == {"reference": "Patient/5"}


def test_task_update_from_fhir() -> None:
    body = {
        "resourceType": "Task",
        "id": "answer-9",
        "status": "rejected",
        "intent": "order",
        "statusReason": {"text": " Mangler medicin "},
        "note": [{"text": "gammel"}, {"text": "ny"}],
    }
    assert task_update_from_fhir(body, "answer-9") == TaskUpdate(
        "rejected", "Mangler medicin", "ny"
    )
    with pytest.raises(ValidationFailed) as other:
        task_update_from_fhir(body, "answer-10")
    assert [(e.field, e.code) for e in other.value.errors] == [("Task.id", "invariant")]
    with pytest.raises(ValidationFailed) as bad:
        task_update_from_fhir({k: v for k, v in body.items() if k != "status"}, "answer-9")
    assert bad.value.errors[0].field == "Task.status"
    with pytest.raises(ValidationFailed) as wrong:
        task_update_from_fhir({"resourceType": "CarePlan"}, "answer-9")
    assert wrong.value.errors[0].field == "Task.resourceType"
