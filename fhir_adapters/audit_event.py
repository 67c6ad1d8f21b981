"""The audit log as FHIR R4 AuditEvent resources (fhir.resources R4B models; see ADR 0002).

Input is plain data (``AuditRecord``), so this mapper stays pure and knows nothing of the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle

DCM = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
PURPOSE_SYSTEM = "https://carepath.example/fhir/CodeSystem/access-purpose"

# AuditEvent.action: C create, R read, U update, D delete, E execute
_ACTION = {
    "create": "C",
    "read": "R",
    "search": "E",
    "update": "U",
    "transition": "U",
    "delete": "D",
    "export": "R",
    "login": "E",
}
_INTERACTION = {
    "create": "create",
    "read": "read",
    "search": "search-type",
    "update": "update",
    "transition": "update",
    "delete": "delete",
    "export": "read",
    "login": "operation",
}
# AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure
_OUTCOME = {"allowed": "0", "denied": "4", "failed": "8"}


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    occurred_at: datetime
    actor_kind: str
    actor_id: int | None
    actor_name: str
    actor_organisation_id: int | None
    patient_id: int | None
    resource_type: str
    resource_id: str
    action: str
    purpose: str
    outcome: str
    channel: str
    request_id: str


def audit_event(record: AuditRecord) -> AuditEvent:
    who: dict[str, Any] = {"display": record.actor_name}
    if record.actor_id is not None:
        kind = {"user": "Practitioner", "client": "Device"}.get(record.actor_kind, "Device")
        who["reference"] = f"{kind}/{record.actor_id}"
    agents: list[dict[str, Any]] = [{"who": who, "requestor": True}]
    if record.actor_organisation_id is not None:  # the organisation the actor acted for
        agents.append(
            {
                "who": {"reference": f"Organization/{record.actor_organisation_id}"},
                "requestor": False,
            }
        )
    entities: list[dict[str, Any]] = []
    if record.patient_id is not None:
        entities.append(
            {
                "what": {"reference": f"Patient/{record.patient_id}"},
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "1",
                    "display": "Person",
                },
            }
        )
    if record.resource_id and record.resource_type != "Patient":
        entities.append({"what": {"reference": f"{record.resource_type}/{record.resource_id}"}})
    body: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(record.id),
        "type": {"system": DCM, "code": "110110", "display": "Patient Record"}
        if record.patient_id is not None
        else {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [
            {"system": RESTFUL_INTERACTION, "code": _INTERACTION.get(record.action, "operation")}
        ],
        "action": _ACTION.get(record.action, "E"),
        "recorded": record.occurred_at.isoformat(),
        "outcome": _OUTCOME.get(record.outcome, "8"),
        "agent": agents,
        "source": {
            "observer": {"display": f"carepath ({record.channel or 'internal'})"},
            "site": record.request_id or None,
        },
    }
    if record.outcome != "allowed":
        body["outcomeDesc"] = f"access {record.outcome}"
    if record.purpose:
        body["purposeOfEvent"] = [
            {
                "coding": [{"system": PURPOSE_SYSTEM, "code": record.purpose[:64]}],
                "text": record.purpose,
            }
        ]
    if entities:
        body["entity"] = entities
    body["source"] = {k: v for k, v in body["source"].items() if v is not None}
    return AuditEvent.model_validate(body)


def audit_bundle(records: list[AuditRecord]) -> Bundle:
    """A collection Bundle of AuditEvents, newest first as queried."""
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "total": len(records),
            "entry": [
                {
                    "fullUrl": f"urn:uuid:audit-{r.id}",
                    "resource": audit_event(r).model_dump(mode="json"),
                }
                for r in records
            ],
        }
    )
