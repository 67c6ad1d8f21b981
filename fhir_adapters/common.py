"""Shared building blocks of the FHIR mappers: our URLs, structural validation, FHIRPath-named errors.

Every parser first runs the input through the fhir.resources R4B model (structure, cardinality, datatypes,
unknown elements) and then reads the normalised JSON (``model_dump(mode="json", exclude_none=True)``), so
list indices in error expressions are those of the input. Errors are ``pathways.errors.FieldError`` whose
``field`` is a FHIRPath-like expression (``Patient.identifier[0].value``) and whose ``code`` is an R4
OperationOutcome issue type (``structure``, ``required``, ``value``, ``code-invalid``, ``invariant``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from fhir.resources.R4B.resource import Resource
from pathways.errors import ErrorCollector, FieldError, ValidationFailed
from pydantic import ValidationError

JSON = dict[str, Any]
M = TypeVar("M", bound=Resource)
E = TypeVar("E", bound=StrEnum)

BASE_URL = "https://carepath.example/fhir"
CODESYSTEM_BASE = f"{BASE_URL}/CodeSystem"
EXTENSION_BASE = f"{BASE_URL}/StructureDefinition"

MAX_ID = 2_147_483_647  # ids are PostgreSQL integers
MAX_ERRORS = 50  # one bad resource should not produce a megabyte of OperationOutcome


def codesystem_url(codesystem_id: str) -> str:
    return f"{CODESYSTEM_BASE}/{codesystem_id}"


def extension_url(name: str) -> str:
    return f"{EXTENSION_BASE}/{name}"


def to_json(resource: Resource) -> JSON:
    """The wire form of a resource: JSON types, no nulls."""
    data: JSON = resource.model_dump(mode="json", exclude_none=True)
    return data


def compact(body: Mapping[str, Any]) -> JSON:
    """Drop keys whose value is None, '' or an empty list/dict (FHIR forbids empty elements)."""
    return {k: v for k, v in body.items() if v is not None and v not in ("", [], {})}


# ------------------------------------------------------------------ codes of our own CodeSystems


def enum_code(member: StrEnum) -> str:
    """Our CodeSystems spell enum values with hyphens (``under_revision`` -> ``under-revision``)."""
    return member.value.replace("_", "-")


class EnumCodes(Generic[E]):
    """A CodeSystem of ours whose codes are the members of a domain enum."""

    def __init__(
        self,
        codesystem_id: str,
        enum: type[E],
        display: Mapping[E, str],
        *,
        title: str,
        description: str,
        label_kind: str | None = None,
    ) -> None:
        missing = set(enum) - set(display)
        if missing:
            raise ValueError(f"{codesystem_id}: no display for {sorted(missing)}")
        self.id = codesystem_id
        self.url = codesystem_url(codesystem_id)
        self.enum = enum
        self.display: dict[E, str] = dict(display)
        self.title = title
        self.description = description
        self.label_kind = label_kind  # the kind in pathways/data/labels.toml that names the members
        self._by_code: dict[str, E] = {enum_code(m): m for m in enum}

    def code(self, member: E) -> str:
        return enum_code(member)

    def member(self, code: object) -> E | None:
        return self._by_code.get(code) if isinstance(code, str) else None

    def coding(self, member: E) -> JSON:
        return {"system": self.url, "code": self.code(member), "display": self.display[member]}

    @property
    def codes(self) -> list[str]:
        return list(self._by_code)


# ------------------------------------------------------------------ structural validation

_PYDANTIC_CODE = {
    "missing": "required",
    "model_field_validation.missing": "required",
    "extra_forbidden": "structure",
    "fhir-validation-wrong-resource-type": "invalid",
}


def _issue_type(error_type: str) -> str:
    if error_type in _PYDANTIC_CODE:
        return _PYDANTIC_CODE[error_type]
    if error_type.endswith(("_type", "_parsing")) or error_type in ("list_type", "dict_type"):
        return "structure"
    return "value"


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


def fhirpath(resource_type: str, loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a FHIRPath expression: ('identifier', 0, 'value') ->
    Patient.identifier[0].value."""
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "resource_type":
            path += ".resourceType"
        elif _NAME.fullmatch(part):
            path += f".{part}"
        # pydantic's own markers (function-after[...], union tags) are not elements: skip them
    return path


def parse_resource(data: object, model: type[M], resource_type: str | None = None) -> JSON:
    """Check ``data`` is a FHIR resource of ``model``'s type and structurally valid; return it normalised.

    Raises ValidationFailed with one FieldError per problem, each named by a FHIRPath expression.
    """
    rtype = resource_type or model.get_resource_type()
    if not isinstance(data, Mapping):
        raise ValidationFailed.single(
            rtype, f"a {rtype} resource must be a JSON object", "structure"
        )
    given = data.get("resourceType")
    if given is None:
        raise ValidationFailed.single(
            f"{rtype}.resourceType", f"resourceType is required (expected {rtype})", "required"
        )
    if given != rtype:
        raise ValidationFailed.single(
            f"{rtype}.resourceType", f"expected resourceType {rtype}, got {given!r}", "invalid"
        )
    try:
        resource = model.model_validate(dict(data))
    except ValidationError as exc:
        errors = [
            FieldError(fhirpath(rtype, tuple(e["loc"])), _message(e), _issue_type(e["type"]))
            for e in exc.errors()[:MAX_ERRORS]
        ]
        raise ValidationFailed(errors) from None
    return to_json(resource)


def _message(error: Mapping[str, Any]) -> str:
    # fhir.resources wraps its messages over several indented lines; one line reads better in an outcome.
    return " ".join(str(error.get("msg", "invalid")).split())


def build(model: type[M], body: Mapping[str, Any]) -> M:
    """Validate a resource we built ourselves (a bug in a mapper surfaces here, not at the client)."""
    return model.model_validate(dict(body))


def built_json(model: type[Resource], body: JSON, *, validate: bool = True) -> JSON:
    """A resource we built ourselves as wire JSON: validated like ``build`` (unless the caller trusts the
    mapper, ADR 0007), and answered as built.

    Our mappers build wire form already (strings, UTC times with Z, no nulls, no empty elements), so
    dumping the validated model would only produce the same JSON again, at three times the cost of the
    validation (the mappers' property tests prove that ``to_json(build(...))`` gives the same JSON).
    """
    if validate:
        model.model_validate(body)
    return body


# ------------------------------------------------------------------ reading validated JSON

_REFERENCE = re.compile(
    r"(?:https?://\S*/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?",
    re.ASCII,
)


def reference(type_name: str, resource_id: int | str) -> JSON:
    return {"reference": f"{type_name}/{resource_id}"}


def parse_int_id(value: object, field: str, errors: ErrorCollector) -> int | None:
    """One of our ids: a positive integer within PostgreSQL's integer range, given as FHIR id text."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
        if 0 < number <= MAX_ID:
            return number
    errors.add(field, "ids on this server are positive integers", "value")
    return None


def parse_reference(
    element: object,
    types: tuple[str, ...],
    field: str,
    errors: ErrorCollector,
) -> tuple[str, str] | None:
    """(type, id) of a literal reference ``Type/id`` (absolute URLs and ``/_history/n`` allowed).

    ``field`` names the Reference element; the error points at its ``.reference``. Logical references
    (by identifier only) cannot be resolved by a pure mapper and are reported as not supported.
    """
    where = f"{field}.reference"
    text = element.get("reference") if isinstance(element, Mapping) else None
    wanted = " or ".join(f"{t}/<id>" for t in types)
    if not isinstance(text, str):
        errors.add(where, f"a literal reference ({wanted}) is required", "required")
        return None
    match = _REFERENCE.fullmatch(text)
    if match is None or match.group("type") not in types:
        errors.add(where, f"must reference {wanted}", "value")
        return None
    return match.group("type"), match.group("id")


def parse_reference_int(
    element: object, types: tuple[str, ...], field: str, errors: ErrorCollector
) -> tuple[str, int] | None:
    parsed = parse_reference(element, types, field, errors)
    if parsed is None:
        return None
    number = parse_int_id(parsed[1], f"{field}.reference", errors)
    return None if number is None else (parsed[0], number)


def extensions(element: Mapping[str, Any], url: str, path: str) -> Iterator[tuple[str, JSON]]:
    """The extensions of ``element`` with ``url``, each with its FHIRPath (``path.extension[i]``)."""
    for i, ext in enumerate(element.get("extension", [])):
        if ext.get("url") == url:
            yield f"{path}.extension[{i}]", ext


def single_extension(
    element: Mapping[str, Any], url: str, path: str, errors: ErrorCollector
) -> tuple[str, JSON] | None:
    found = list(extensions(element, url, path))
    for where, _ in found[1:]:
        errors.add(where, f"extension {url} may occur only once", "structure")
    return found[0] if found else None


def value_of(
    ext: Mapping[str, Any], value_type: str, path: str, errors: ErrorCollector
) -> Any | None:
    """``ext.value<Type>``; reports a missing or differently typed value."""
    key = f"value{value_type}"
    if key in ext:
        return ext[key]
    errors.add(f"{path}.{key}", f"this extension needs a value{value_type}", "required")
    return None


def parse_date(value: object, field: str, errors: ErrorCollector) -> date | None:
    """A full calendar date (``YYYY-MM-DD``). A dateTime is accepted and its date taken as written."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
        elif len(text) > 10 and text[10] == "T":
            parsed = _datetime(text)
            if parsed is not None:
                return parsed.date()
    errors.add(field, "must be a full date (YYYY-MM-DD)", "value")
    return None


def _datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_datetime(value: object, field: str, errors: ErrorCollector) -> datetime | None:
    """A date and time with a timezone, returned in UTC."""
    parsed = _datetime(value) if isinstance(value, str) and "T" in value else None
    if parsed is None or parsed.tzinfo is None:
        errors.add(field, "must be a date and time with a timezone", "value")
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 has no time in UTC
        errors.add(field, "is out of range", "value")
        return None


def fhir_datetime(value: datetime) -> str:
    """An aware timestamp in FHIR form, in UTC with ``Z`` as fhir.resources writes it (so built JSON is
    wire JSON). A naive one is a bug upstream (ADR 0003)."""
    if value.tzinfo is None:
        raise ValueError("FHIR timestamps must be timezone-aware (ADR 0003: UTC everywhere)")
    return value.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def meta(version: int | None, updated_at: datetime | None) -> JSON:
    return compact(
        {
            "versionId": None if version is None else str(version),
            "lastUpdated": None if updated_at is None else fhir_datetime(updated_at),
        }
    )


def read_identity(
    data: Mapping[str, Any], rtype: str, errors: ErrorCollector
) -> tuple[int | None, int | None, datetime | None]:
    """(id, meta.versionId, meta.lastUpdated) when present; all optional (a create carries none)."""
    rid = parse_int_id(data["id"], f"{rtype}.id", errors) if "id" in data else None
    m = data.get("meta", {})
    version = None
    if "versionId" in m:
        version = parse_int_id(m["versionId"], f"{rtype}.meta.versionId", errors)
    updated = None
    if "lastUpdated" in m:
        updated = parse_datetime(m["lastUpdated"], f"{rtype}.meta.lastUpdated", errors)
    return rid, version, updated


def codings(
    concept: Mapping[str, Any] | None, system: str, path: str
) -> Iterator[tuple[str, JSON]]:
    """The codings of a CodeableConcept from ``system``, each with its FHIRPath."""
    if not concept:
        return
    for i, coding in enumerate(concept.get("coding", [])):
        if coding.get("system") == system:
            yield f"{path}.coding[{i}]", coding


def remap_errors(
    exc: ValidationFailed, paths: Mapping[str, str], default: str, errors: ErrorCollector
) -> None:
    """Add a domain validator's errors under FHIRPath names (``paths`` maps its field names)."""
    for error in exc.errors:
        errors.add(paths.get(error.field, default), error.message, error.code)
