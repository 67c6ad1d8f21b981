"""Provenance of a committed CarePlan version (ProvenanceRecord), read-only.

One Provenance per version in the CarePlan's FHIR history (``vread``/``_history``), with the history
row's id: ``Provenance/{id}``.

- ``target``: ``CarePlan/{plan}/_history/{version}`` (the version ``vread`` serves).
- ``recorded``: when the version was committed.
- ``activity`` (v3-DataOperation): ``CREATE`` for version 1, ``UPDATE`` for every later one, as the
  ``_history`` Bundle's ``request.method`` (POST, PUT). A plan created with content in one request (FHIR
  create) is committed as version 2, so its first Provenance is an ``UPDATE``.
- ``agent``: ``author`` the member of staff who wrote the content this version carries (``Practitioner``,
  on behalf of their Organization), or the responsible ward when a job wrote it; ``custodian`` the
  responsible ward (CarePlan.author). Organizations carry their DK-core identifier (SOR, ...). A version
  that only changed the status (an answer, an activation) keeps the content's author: the person who
  changed the status is in the audit log, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B.provenance import Provenance as FhirProvenance

from fhir_adapters.careplan import CONTENT_VERSION_EXTENSION
from fhir_adapters.common import JSON, build, compact, fhir_datetime, reference
from fhir_adapters.communication import organisation_reference
from fhir_adapters.records import OrganisationRecord

DATA_OPERATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PARTICIPANT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentAuthor:
    """A member of staff who wrote a content version, and their organisation."""

    person_id: int
    name: str
    organisation: OrganisationRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvenanceRecord:
    id: int
    plan_id: int
    version: int  # the CarePlan's meta.versionId
    recorded_at: datetime
    is_creation: bool  # version 1
    custodian: OrganisationRecord
    author: ContentAuthor | None = None


def content_version(careplan: Mapping[str, Any]) -> int | None:
    """The content version (``plan-content-version``) a stored CarePlan resource carries."""
    for ext in careplan.get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") == CONTENT_VERSION_EXTENSION:
            value = ext.get("valueInteger")
            return value if isinstance(value, int) else None
    return None


def _agent_type(code: str, display: str) -> JSON:
    return {"coding": [{"system": PARTICIPANT_TYPE_SYSTEM, "code": code, "display": display}]}


def _author(record: ProvenanceRecord) -> JSON:
    author = record.author
    if author is None:
        return {
            "type": _agent_type("author", "Author"),
            "who": organisation_reference(record.custodian),
        }
    return {
        "type": _agent_type("author", "Author"),
        "who": {**reference("Practitioner", author.person_id), "display": author.name},
        "onBehalfOf": organisation_reference(author.organisation),
    }


def provenance_to_fhir(record: ProvenanceRecord) -> FhirProvenance:
    activity = ("CREATE", "create") if record.is_creation else ("UPDATE", "revise")
    body = compact(
        {
            "resourceType": "Provenance",
            "id": str(record.id),
            "meta": {"lastUpdated": fhir_datetime(record.recorded_at)},
            "target": [{"reference": f"CarePlan/{record.plan_id}/_history/{record.version}"}],
            "recorded": fhir_datetime(record.recorded_at),
            "activity": {
                "coding": [
                    {"system": DATA_OPERATION_SYSTEM, "code": activity[0], "display": activity[1]}
                ]
            },
            "agent": [
                _author(record),
                {
                    "type": _agent_type("custodian", "Custodian"),
                    "who": organisation_reference(record.custodian),
                },
            ],
        }
    )
    return build(FhirProvenance, body)
