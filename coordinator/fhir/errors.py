"""Every failure under /fhir becomes an OperationOutcome with the right status: never an HTML page, never
a stack trace. What a failure means (status, rollback, the record of a refused access: ADR 0004) is
decided in coordinator.edge, as for every door; this module renders it as FHIR: FHIRPath expressions and
issue types."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from flask import g

from coordinator import edge
from coordinator.fhir.core import JSON, FhirError
from fhir_adapters import careplan, organization, patient
from fhir_adapters.common import to_json
from fhir_adapters.operation_outcome import issue_type_for_status, outcome, outcome_from_errors
from pathways.errors import FieldError

BEARER_CHALLENGE = edge.BEARER_CHALLENGE

# Field names the use cases use, as FHIRPath, per resource type (the mappers' own tables first).
FIELD_PATHS: dict[str, dict[str, str]] = {
    "CarePlan": {
        **careplan.FIELD_PATHS,
        "pathway": "CarePlan.encounter",
        "patient": "CarePlan.subject",
        "review_on": "CarePlan.extension",
        "change_note": "CarePlan",
    },
    "Patient": {**patient.FIELD_PATHS, "gp_organisation_id": "Patient.generalPractitioner[0]"},
    "Organization": dict(organization.FIELD_PATHS),
    "CareTeam": {
        "patient_id": "CareTeam.subject",
        "organisation_id": "CareTeam.participant",
        "person_id": "CareTeam.participant",
        "backup_person_id": "CareTeam.participant",
        "valid_from": "CareTeam.participant",
        "valid_to": "CareTeam.participant",
    },
}
_FHIRPATH = re.compile(r"[A-Z][A-Za-z]+(?:[.\[]|$)")
# Where the edge's kind of failure says more than its status.
_KIND_CODES = {
    "business-rule": "business-rule",
    "unavailable": "transient",
    "internal": "exception",
}


def fhirpath(field: str, resource_type: str | None) -> str:
    """A use case's field name as FHIRPath (``sections.housing.text`` -> ``CarePlan.extension``)."""
    if _FHIRPATH.match(field):
        return field
    paths = FIELD_PATHS.get(resource_type or "", {})
    key = field
    while key:
        if key in paths:
            return paths[key]
        key = key.rpartition(".")[0]
    return resource_type or "Resource"


def in_entry(expression: str, index: int) -> str:
    """``CarePlan.status`` of transaction entry 2 -> ``Bundle.entry[2].resource.status``."""
    head, dot, rest = expression.partition(".")
    if not _FHIRPATH.match(head) or head == "Bundle":
        return expression
    return f"Bundle.entry[{index}].resource" + (dot + rest if dot else "")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: JSON
    headers: dict[str, str]


def _one(status: int, code: str, diagnostics: str, expression: str | None = None) -> JSON:
    entry = g.get("fhir_entry")
    if entry is not None:
        diagnostics = f"Bundle.entry[{entry}]: {diagnostics}"
        expression = in_entry(expression, entry) if expression else f"Bundle.entry[{entry}]"
    return to_json(outcome("error", code, diagnostics, expression=expression))


def _validation(errors: tuple[FieldError, ...]) -> JSON:
    resource_type = g.get("fhir_type")
    entry = g.get("fhir_entry")
    found = []
    for e in errors:
        path = fhirpath(e.field, resource_type)
        # The use cases' "unknown" names a reference to nothing; R4's issue type "unknown" is a login.
        code = "not-found" if e.code == "unknown" else e.code
        found.append(
            replace(e, field=in_entry(path, entry) if entry is not None else path, code=code)
        )
    return to_json(outcome_from_errors(found))


def answer_for(error: Exception) -> Answer:
    """The status, OperationOutcome and headers for a failure (the edge rolls the unit of work back)."""
    if isinstance(error, FhirError):
        edge.rollback()
        return Answer(
            error.status,
            _one(error.status, error.code, error.diagnostics, error.expression),
            error.headers,
        )
    failure = edge.failure_for(error)
    if failure.errors:
        # A search's bad value is a bad request; a resource's bad content is unprocessable.
        status = 400 if g.get("fhir_interaction") == "search" else failure.status
        return Answer(status, _validation(failure.errors), failure.headers)
    code = _KIND_CODES.get(failure.kind) or issue_type_for_status(failure.status)
    return Answer(failure.status, _one(failure.status, code, failure.message), failure.headers)
