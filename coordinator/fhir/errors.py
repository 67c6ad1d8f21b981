"""Every failure under /fhir becomes an OperationOutcome with the right status: never an HTML page, never
a stack trace. The unit of work is rolled back first; a refused access is then written to the audit log
and committed on its own, as the REST API does (ADR 0004)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import structlog
from flask import g
from sqlalchemy.exc import StatementError
from werkzeug.exceptions import HTTPException

from coordinator.access.services import AccessDenied, persist_denial
from coordinator.audit.services import record
from coordinator.db import get_session
from coordinator.fhir.core import JSON, FhirError, ScopeDenied
from fhir_adapters import careplan, organization, patient
from fhir_adapters.common import to_json
from fhir_adapters.operation_outcome import outcome, outcome_from_errors
from pathways.audit import AuditAction, AuditOutcome
from pathways.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
)

log = structlog.get_logger(__name__)
BEARER_CHALLENGE = 'Bearer realm="carepath"'

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
_HTTP_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    428: "required",
    429: "throttled",
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


def _rollback() -> None:
    try:
        get_session().rollback()
    except Exception:
        log.exception("fhir.rollback_failed")


def _one(status: int, code: str, diagnostics: str, expression: str | None = None) -> JSON:
    entry = g.get("fhir_entry")
    if entry is not None:
        diagnostics = f"Bundle.entry[{entry}]: {diagnostics}"
        expression = in_entry(expression, entry) if expression else f"Bundle.entry[{entry}]"
    return to_json(outcome("error", code, diagnostics, expression=expression))


def _validation(error: ValidationFailed) -> JSON:
    resource_type = g.get("fhir_type")
    entry = g.get("fhir_entry")
    errors = []
    for e in error.errors:
        path = fhirpath(e.field, resource_type)
        # The use cases' "unknown" names a reference to nothing; R4's issue type "unknown" is a login.
        code = "not-found" if e.code == "unknown" else e.code
        errors.append(
            replace(e, field=in_entry(path, entry) if entry is not None else path, code=code)
        )
    return to_json(outcome_from_errors(errors))


def _domain(error: DomainError) -> Answer:
    if isinstance(error, ValidationFailed):
        if g.get("fhir_interaction") == "search":  # a search's bad value is a bad request
            return Answer(400, _validation(error), {})
        return Answer(422, _validation(error), {})
    if isinstance(error, AccessDenied | ScopeDenied):
        session = get_session()
        if isinstance(error, AccessDenied):
            persist_denial(session, error)
        else:
            record(
                session,
                actor=error.actor,
                at=error.at,
                action=AuditAction.READ if error.mode == "read" else AuditAction.UPDATE,
                resource_type=error.resource,
                outcome=AuditOutcome.DENIED,
                purpose=f"system/{error.resource}.{error.mode}",
                details={"reason": error.message},
            )
        session.commit()
        return Answer(403, _one(403, "forbidden", error.message), {})
    table: list[tuple[type[DomainError], int, str]] = [
        (StaleVersion, 412, "conflict"),
        (IllegalTransition, 409, "business-rule"),
        (Conflict, 409, "conflict"),
        (NotFound, 404, "not-found"),
        (AuthenticationFailed, 401, "login"),
        (PermissionDenied, 403, "forbidden"),
    ]
    for cls, status, code in table:
        if isinstance(error, cls):
            headers = {"WWW-Authenticate": BEARER_CHALLENGE} if status == 401 else {}
            return Answer(status, _one(status, code, error.message), headers)
    return Answer(400, _one(400, "invalid", error.message), {})


def _http(error: HTTPException) -> Answer:
    status = error.code or 500
    headers: dict[str, Any] = dict(error.get_headers())
    headers.pop("Content-Type", None)
    if status == 401:
        headers.setdefault("WWW-Authenticate", BEARER_CHALLENGE)
    if status >= 500:
        return Answer(
            status, _one(status, "exception", "the server could not handle the request"), headers
        )
    detail = error.description or "request refused"
    return Answer(status, _one(status, _HTTP_CODES.get(status, "processing"), detail), headers)


def answer_for(error: Exception) -> Answer:
    """The status, OperationOutcome and headers for a failure (after rolling back the unit of work)."""
    _rollback()
    if isinstance(error, FhirError):
        return Answer(
            error.status,
            _one(error.status, error.code, error.diagnostics, error.expression),
            error.headers,
        )
    if isinstance(error, DomainError):
        return _domain(error)
    if isinstance(error, HTTPException):
        return _http(error)
    if isinstance(error, StatementError):
        # Its text carries the statement's parameters, and those may be a CPR number: never logged.
        log.error(
            "fhir.unhandled_error",
            error_type=type(error).__name__,
            cause=type(error.orig).__name__,
            statement=error.statement,
        )
    else:
        log.exception("fhir.unhandled_error", error_type=type(error).__name__)
    return Answer(500, _one(500, "exception", "the server could not handle the request"), {})
