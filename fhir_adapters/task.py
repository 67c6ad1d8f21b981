"""Task from a reminder (TaskRecord): a gap in a transition that someone must close by a due time.

- ``status``: open -> ``requested``, acknowledged -> ``accepted``, snoozed -> ``on-hold`` (``statusReason``
  says until when), resolved -> ``completed``, dismissed -> ``cancelled``; ``reminder_status_from_fhir``
  maps back (for a client that acknowledges or resolves a Task).
- ``priority`` from severity: info -> ``routine``, warning -> ``urgent``, urgent -> ``asap``,
  breach -> ``stat``.
- ``code``: the rule key in our CodeSystem ``gap-rule``; ``description`` the message; ``reasonCode.text``
  the basis (legal basis, in words).
- ``owner``: ``Practitioner/{owner_person_id}`` when a person owns it, else ``Organization/{owner
  organisation}``; the owning organisation is always the extension ``task-owner-organization``.
- ``for`` the Patient; ``focus`` the CarePlan (else the pathway's Encounter); ``encounter`` the pathway;
  ``restriction.period.end`` the due time; ``authoredOn``/``lastModified`` created/updated.
"""

from __future__ import annotations

from fhir.resources.R4B.task import Task as FhirTask
from pathways.errors import ValidationFailed
from pathways.reminders import ReminderStatus, Severity

from fhir_adapters.codesystems import GAP_RULE_SYSTEM
from fhir_adapters.common import (
    JSON,
    build,
    compact,
    extension_url,
    fhir_datetime,
    meta,
    reference,
)
from fhir_adapters.records import TaskRecord

OWNER_ORGANIZATION_EXTENSION = extension_url("task-owner-organization")

TASK_STATUS: dict[ReminderStatus, str] = {
    ReminderStatus.OPEN: "requested",
    ReminderStatus.ACKNOWLEDGED: "accepted",
    ReminderStatus.SNOOZED: "on-hold",
    ReminderStatus.RESOLVED: "completed",
    ReminderStatus.DISMISSED: "cancelled",
}
_REMINDER_STATUS = {code: status for status, code in TASK_STATUS.items()}

TASK_PRIORITY: dict[Severity, str] = {
    Severity.INFO: "routine",
    Severity.WARNING: "urgent",
    Severity.URGENT: "asap",
    Severity.BREACH: "stat",
}


def task_to_fhir(record: TaskRecord) -> FhirTask:
    owner = (
        reference("Practitioner", record.owner_person_id)
        if record.owner_person_id is not None
        else reference("Organization", record.owner_organisation_id)
    )
    if record.plan_id is not None:
        focus: JSON | None = reference("CarePlan", record.plan_id)
    elif record.pathway_id is not None:
        focus = reference("Encounter", record.pathway_id)
    else:
        focus = None
    status_reason = None
    if record.status is ReminderStatus.SNOOZED and record.snoozed_until is not None:
        status_reason = {"text": f"snoozed until {fhir_datetime(record.snoozed_until)}"}
    body = compact(
        {
            "resourceType": "Task",
            "id": str(record.id),
            "meta": meta(record.version, record.updated_at),
            "extension": [
                {
                    "url": OWNER_ORGANIZATION_EXTENSION,
                    "valueReference": reference("Organization", record.owner_organisation_id),
                }
            ],
            "status": TASK_STATUS[record.status],
            "statusReason": status_reason,
            "intent": "order",
            "priority": TASK_PRIORITY[record.severity],
            "code": {"coding": [{"system": GAP_RULE_SYSTEM, "code": record.rule}]},
            "description": record.message,
            "focus": focus,
            "for": reference("Patient", record.patient_id),
            "encounter": (
                reference("Encounter", record.pathway_id) if record.pathway_id is not None else None
            ),
            "authoredOn": fhir_datetime(record.created_at) if record.created_at else None,
            "lastModified": fhir_datetime(record.updated_at) if record.updated_at else None,
            "owner": owner,
            "reasonCode": {"text": record.basis} if record.basis else None,
            "restriction": {"period": {"end": fhir_datetime(record.due_at)}},
        }
    )
    return build(FhirTask, body)


def reminder_status_from_fhir(code: object, field: str = "Task.status") -> ReminderStatus:
    """The reminder status a Task.status code stands for; ValidationFailed (``field``) otherwise."""
    status = _REMINDER_STATUS.get(code) if isinstance(code, str) else None
    if status is None:
        known = ", ".join(_REMINDER_STATUS)
        raise ValidationFailed.single(
            field, f"unsupported Task status {code!r}; use one of: {known}", "code-invalid"
        )
    return status
