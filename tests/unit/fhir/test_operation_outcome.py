from __future__ import annotations

import pytest

from fhir_adapters.careplan import FIELD_PATHS
from fhir_adapters.operation_outcome import (
    outcome,
    outcome_from_errors,
    outcome_from_issues,
)
from fhir_adapters.patient import patient_from_fhir
from pathways.errors import FieldError, ValidationFailed
from tests.unit.fhir.helpers import reparse


def test_from_a_parser_failure() -> None:
    with pytest.raises(ValidationFailed) as caught:
        patient_from_fhir({"resourceType": "Patient", "identifier": [{"value": 7}]})
    data = reparse(outcome_from_errors(caught.value))
    assert data["resourceType"] == "OperationOutcome"
    assert data["issue"] == [
        {
            "severity": "error",
            "code": "structure",
            "details": {"text": "Input should be a valid string"},
            "expression": ["Patient.identifier[0].value"],
        }
    ]


def test_domain_codes_and_field_names_are_translated() -> None:
    errors = [
        FieldError("valid_from", "overlaps another period", "overlap"),
        FieldError("kind", "must be one of ...", "invalid-choice"),
        FieldError("CarePlan.status", "unknown", "code-invalid"),
    ]
    data = reparse(outcome_from_errors(errors, field_map=FIELD_PATHS))
    assert [(i["code"], i["expression"]) for i in data["issue"]] == [
        ("business-rule", ["CarePlan.period.start"]),
        ("code-invalid", ["CarePlan.category"]),
        ("code-invalid", ["CarePlan.status"]),
    ]
    assert data["issue"][0]["details"]["coding"][0]["code"] == "overlap"
    assert "coding" not in data["issue"][2]["details"]


def test_simple_triples() -> None:
    data = reparse(outcome("error", "not-found", "CarePlan/9 does not exist"))
    assert data["issue"] == [
        {"severity": "error", "code": "not-found", "diagnostics": "CarePlan/9 does not exist"}
    ]
    data = reparse(
        outcome_from_issues([("information", "informational", "ok"), ("warning", "conflict", "x")])
    )
    assert [i["severity"] for i in data["issue"]] == ["information", "warning"]


def test_bad_codes_are_bugs() -> None:
    with pytest.raises(ValueError, match="issue type"):
        outcome("error", "oops", "x")
    with pytest.raises(ValueError, match="severity"):
        outcome("bad", "invalid", "x")
    with pytest.raises(ValueError, match="at least one"):
        outcome_from_errors([])
