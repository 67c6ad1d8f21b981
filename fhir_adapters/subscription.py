"""Subscription (R4, channel ``rest-hook``): what a client asks to be told about, read back and ended.

- ``criteria``: ``<Type>?patient=Patient/<id>`` or ``<Type>?organization=Organization/<id>`` with Type
  CarePlan, Task or Communication: exactly one filter. ``organization`` is ours (R4 has no common
  parameter for it): the organisation is a party to the resource (a plan's party or responsible ward, a
  reminder's owner, a message's recipient).
- ``channel``: ``type`` rest-hook only; ``endpoint`` an absolute URL (which schemes and hosts are
  accepted is the service's rule); ``payload`` ``application/fhir+json`` (the resource is the body) or
  absent (an empty notification: the client reads what changed); ``header`` lines ``Name: value``
  sent with each notification (e.g. Authorization at the receiver). Read back, header values are
  redacted (``Name: ***``): they are secrets of the receiver's.
- ``status``: a create asks for ``requested`` or ``active`` (accepted at once: ``active``); an update
  may only set ``off`` (ends it) or keep it. ``end`` (instant) ends it by itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fhir.resources.R4B.subscription import Subscription as FhirSubscription
from pathways.errors import ErrorCollector, ValidationFailed

from fhir_adapters.common import (
    JSON,
    built_json,
    compact,
    fhir_datetime,
    meta,
    parse_datetime,
    parse_int_id,
    parse_resource,
    read_identity,
)

SUBSCRIBABLE = ("CarePlan", "Task", "Communication")
FILTERS = {"patient": "Patient", "organization": "Organization"}
REST_HOOK = "rest-hook"
FHIR_JSON = "application/fhir+json"
PAYLOADS = (FHIR_JSON,)
MAX_ENDPOINT = 254  # the outbox keeps it as the recipient
MAX_HEADERS = 10
MAX_HEADER = 1000
MAX_REASON = 500
# Headers the notification itself sets: a subscriber's own would make a different request of it.
RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "transfer-encoding"})
REDACTED_VALUE = "***"
_HEADER = re.compile(r"(?P<name>[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}):[ \t]*(?P<value>[^\r\n\x00]*)")
_CRITERIA = re.compile(
    r"(?P<type>[A-Za-z]{1,64})\?(?P<name>[a-z]{1,32})=(?P<rtype>[A-Za-z]{1,64})/(?P<id>[^&/]{1,64})",
    re.ASCII,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Criteria:
    """What a subscription is about: one resource type and one patient or one organisation."""

    resource_type: str
    patient_id: int | None = None
    organisation_id: int | None = None

    def text(self) -> str:
        if self.patient_id is not None:
            return f"{self.resource_type}?patient=Patient/{self.patient_id}"
        return f"{self.resource_type}?organization=Organization/{self.organisation_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionRequest:
    """A Subscription as a client sent it, checked for shape (create or update)."""

    criteria: Criteria
    endpoint: str
    headers: tuple[str, ...]
    payload: str | None
    status: str
    reason: str
    end: datetime | None
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionRecord:
    """A stored subscription, for the answer."""

    id: int
    version: int
    status: str
    criteria: Criteria
    endpoint: str
    headers: tuple[str, ...]
    payload: str | None
    reason: str
    end: datetime | None
    error: str = ""
    updated_at: datetime | None = None


def parse_criteria(value: object, field: str, errors: ErrorCollector) -> Criteria | None:
    """``<Type>?patient=Patient/<id>`` or ``<Type>?organization=Organization/<id>``."""
    wanted = (
        f"must be <Type>?patient=Patient/<id> or <Type>?organization=Organization/<id> "
        f"with Type one of {', '.join(SUBSCRIBABLE)}"
    )
    match = _CRITERIA.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        errors.add(field, wanted, "value")
        return None
    rtype, name = match.group("type"), match.group("name")
    if rtype not in SUBSCRIBABLE:
        errors.add(field, f"{rtype} cannot be subscribed to; {wanted}", "not-supported")
        return None
    if FILTERS.get(name) != match.group("rtype"):
        errors.add(field, wanted, "value")
        return None
    number = parse_int_id(match.group("id"), field, errors)
    if number is None:
        return None
    if name == "patient":
        return Criteria(resource_type=rtype, patient_id=number)
    return Criteria(resource_type=rtype, organisation_id=number)


def header_name(line: str) -> str:
    return line.split(":", 1)[0].strip()


def redacted(headers: tuple[str, ...]) -> tuple[str, ...]:
    """The header lines as they are shown: the name, never the value."""
    return tuple(f"{header_name(h)}: {REDACTED_VALUE}" for h in headers)


def _parse_headers(value: object, errors: ErrorCollector) -> tuple[str, ...]:
    field = "Subscription.channel.header"
    if value is None:
        return ()
    lines = list(value) if isinstance(value, list) else []
    if len(lines) > MAX_HEADERS:
        errors.add(field, f"at most {MAX_HEADERS} headers", "too-many")
        return ()
    out: list[str] = []
    for i, line in enumerate(lines):
        where = f"{field}[{i}]"
        match = _HEADER.fullmatch(line) if isinstance(line, str) else None
        if match is None or len(line) > MAX_HEADER:
            errors.add(where, f"must be one line 'Name: value' of at most {MAX_HEADER} characters")
        elif match.group("name").lower() in RESERVED_HEADERS:
            errors.add(where, f"{match.group('name')} is set by the notification itself", "value")
        else:
            out.append(f"{match.group('name')}: {match.group('value').strip()}")
    return tuple(out)


def _parse_endpoint(value: object, errors: ErrorCollector) -> str:
    field = "Subscription.channel.endpoint"
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        errors.add(field, "a rest-hook needs an endpoint (an absolute URL)", "required")
        return ""
    if len(text) > MAX_ENDPOINT:
        errors.add(field, f"must be at most {MAX_ENDPOINT} characters", "too-long")
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        errors.add(field, "must be an absolute http(s) URL without user information", "value")
        return ""
    return text


def subscription_from_fhir(data: object) -> SubscriptionRequest:
    """A Subscription resource as a SubscriptionRequest; raises ValidationFailed naming FHIRPaths."""
    res = parse_resource(data, FhirSubscription)
    errors = ErrorCollector()
    rid, _version, _updated = read_identity(res, "Subscription", errors)
    criteria = parse_criteria(res.get("criteria"), "Subscription.criteria", errors)
    channel: Mapping[str, Any] = res.get("channel", {})
    if channel.get("type") != REST_HOOK:
        errors.add("Subscription.channel.type", "only rest-hook is supported", "not-supported")
    endpoint = _parse_endpoint(channel.get("endpoint"), errors)
    payload = channel.get("payload")
    if payload is not None and payload not in PAYLOADS:
        errors.add(
            "Subscription.channel.payload",
            f"must be {FHIR_JSON}, or absent for an empty notification",
            "not-supported",
        )
    headers = _parse_headers(channel.get("header"), errors)
    reason = str(res.get("reason", "")).strip()
    if len(reason) > MAX_REASON:
        errors.add("Subscription.reason", f"must be at most {MAX_REASON} characters", "too-long")
    end = parse_datetime(res["end"], "Subscription.end", errors) if "end" in res else None
    errors.raise_if_any()
    if criteria is None:  # pragma: no cover - an error was added with it
        raise ValidationFailed.single("Subscription.criteria", "invalid criteria")
    return SubscriptionRequest(
        criteria=criteria,
        endpoint=endpoint,
        headers=headers,
        payload=payload,
        status=str(res["status"]),
        reason=reason,
        end=end,
        id=rid,
    )


def subscription_to_fhir(record: SubscriptionRecord, *, validate: bool = True) -> JSON:
    body: JSON = compact(
        {
            "resourceType": "Subscription",
            "id": str(record.id),
            "meta": meta(record.version, record.updated_at),
            "status": record.status,
            "end": fhir_datetime(record.end) if record.end else None,
            "reason": record.reason or "notify the subscriber of changes",
            "criteria": record.criteria.text(),
            "error": record.error or None,
            "channel": compact(
                {
                    "type": REST_HOOK,
                    "endpoint": record.endpoint,
                    "payload": record.payload,
                    "header": list(redacted(record.headers)) or None,
                }
            ),
        }
    )
    return built_json(FhirSubscription, body, validate=validate)
