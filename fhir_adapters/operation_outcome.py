"""OperationOutcome from validation errors (one issue per FieldError, ``expression`` = its field) or from a
single (severity, code, diagnostics) triple.

FieldError codes that are R4 issue types (``required``, ``value``, ``structure``, ``code-invalid``,
``invariant``, ``too-long``, ``not-found``, ...) are used as they are; the domain's own codes are mapped
(``invalid-choice`` -> ``code-invalid``, ``overlap`` -> ``business-rule``), anything else is ``invalid``.
The domain code, when it differs from the issue type, is kept as ``details.coding`` (CodeSystem
``error-code``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fhir.resources.R4B.operationoutcome import OperationOutcome
from pathways.errors import FieldError, ValidationFailed

from fhir_adapters.common import JSON, build, codesystem_url

ERROR_CODE_SYSTEM = codesystem_url("error-code")
SEVERITIES = frozenset({"fatal", "error", "warning", "information"})
ISSUE_TYPES = frozenset(
    {
        "invalid",
        "structure",
        "required",
        "value",
        "invariant",
        "security",
        "login",
        "unknown",
        "expired",
        "forbidden",
        "suppressed",
        "processing",
        "not-supported",
        "duplicate",
        "multiple-matches",
        "not-found",
        "deleted",
        "too-long",
        "code-invalid",
        "extension",
        "too-costly",
        "business-rule",
        "conflict",
        "transient",
        "lock-error",
        "no-store",
        "exception",
        "timeout",
        "incomplete",
        "throttled",
        "informational",
    }
)
_DOMAIN_CODES = {
    "invalid-choice": "code-invalid",
    "overlap": "business-rule",
    "stale-version": "conflict",
    "illegal-transition": "business-rule",
    "permission-denied": "forbidden",
}


def issue_type(code: str) -> str:
    """The R4 issue type for a FieldError code."""
    if code in ISSUE_TYPES:
        return code
    return _DOMAIN_CODES.get(code, "invalid")


def _check(severity: str, code: str) -> None:
    if severity not in SEVERITIES:
        raise ValueError(f"unknown OperationOutcome severity {severity!r}")
    if code not in ISSUE_TYPES:
        raise ValueError(f"unknown OperationOutcome issue type {code!r}")


def _issue(error: FieldError, severity: str, field_map: Mapping[str, str]) -> JSON:
    code = issue_type(error.code)
    details: JSON = {"text": error.message}
    if error.code != code:
        details["coding"] = [{"system": ERROR_CODE_SYSTEM, "code": error.code}]
    issue: JSON = {"severity": severity, "code": code, "details": details}
    if error.field:
        issue["expression"] = [field_map.get(error.field, error.field)]
    return issue


def outcome_from_errors(
    errors: ValidationFailed | Iterable[FieldError],
    *,
    severity: str = "error",
    field_map: Mapping[str, str] | None = None,
) -> OperationOutcome:
    """One issue per field error. ``field_map`` renames domain field names to FHIRPath (e.g. a mapper's
    ``FIELD_PATHS``) for errors raised by a use case rather than by a parser."""
    items = errors.errors if isinstance(errors, ValidationFailed) else tuple(errors)
    _check(severity, "invalid")
    if not items:
        raise ValueError("an OperationOutcome needs at least one issue")
    issues = [_issue(e, severity, field_map or {}) for e in items]
    return build(OperationOutcome, {"resourceType": "OperationOutcome", "issue": issues})


def outcome(
    severity: str, code: str, diagnostics: str, *, expression: str | None = None
) -> OperationOutcome:
    """A one-issue OperationOutcome, e.g. ``outcome("error", "not-found", "CarePlan/9 does not exist")``."""
    _check(severity, code)
    issue: JSON = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return build(OperationOutcome, {"resourceType": "OperationOutcome", "issue": [issue]})


def outcome_from_issues(issues: Iterable[tuple[str, str, str]]) -> OperationOutcome:
    """Several (severity, code, diagnostics) triples as one OperationOutcome."""
    body: list[JSON] = []
    for severity, code, diagnostics in issues:
        _check(severity, code)
        body.append({"severity": severity, "code": code, "diagnostics": diagnostics})
    if not body:
        raise ValueError("an OperationOutcome needs at least one issue")
    return build(OperationOutcome, {"resourceType": "OperationOutcome", "issue": body})


# The R4 issue type for an HTTP status a FHIR server answers with (http://hl7.org/fhir/http.html).
_ISSUE_TYPE_FOR_STATUS = {
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
    422: "processing",
    428: "required",
    429: "throttled",
    503: "transient",
}


def issue_type_for_status(status: int) -> str:
    """``exception`` for server errors without a type of their own, ``processing`` for other refusals."""
    return _ISSUE_TYPE_FOR_STATUS.get(status, "exception" if status >= 500 else "processing")
