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

Task ``answer-{participant id}`` from a party's answer to a plan (AnswerTaskRecord): ``code`` approve
(CodeSystem task-code), ``focus`` the CarePlan, ``owner`` the party (its Organization; the Patient for the
patient, whose answer the ward records), ``requester`` the responsible ward, ``performerType`` the party's
role (CodeSystem care-team-role), ``meta.versionId`` the plan's version (the ETag an update sends).
``status`` of the plan's current version: the party's answer (accepted, rejected with the reason in
``statusReason``; a comment leaves it received), else requested or received while the plan waits for
answers, draft while the plan is a draft, cancelled once the plan went on without this answer. The
party's note is ``note``. ``task_update_from_fhir`` reads what a party's system sends back.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir.resources.R4B.task import Task as FhirTask
from pathways.errors import ErrorCollector, ValidationFailed
from pathways.plans import PlanKind, PlanStatus, ResponseStatus
from pathways.reminders import ReminderStatus, Severity

from fhir_adapters.codesystems import CARE_TEAM_ROLE, GAP_RULE_SYSTEM, CareTeamRole
from fhir_adapters.common import (
    JSON,
    build,
    compact,
    extension_url,
    fhir_datetime,
    meta,
    parse_resource,
    reference,
)
from fhir_adapters.records import AnswerTaskRecord, TaskRecord

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
            "code": compact(
                {
                    "coding": [{"system": GAP_RULE_SYSTEM, "code": record.rule}],
                    "text": record.title,
                }
            ),
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


# ---------------------------------------------------------------------------- a party's answer
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
APPROVE = "approve"
ANSWER_PREFIX = "answer-"
# What a party's system may set an answer Task's status to (see task_update_from_fhir).
ANSWER_STATUSES = ("received", "accepted", "rejected")
_ANSWERED = {
    ResponseStatus.ACCEPTED: "accepted",
    ResponseStatus.REJECTED: "rejected",
    ResponseStatus.COMMENTED: "received",
}
_KIND_TEXT = {
    PlanKind.DISCHARGE_AGREEMENT: "discharge agreement (psykiatriloven §13a)",
    PlanKind.COORDINATION_PLAN: "coordination plan (psykiatriloven §13b)",
}
_WAITING = frozenset({PlanStatus.PROPOSED, PlanStatus.UNDER_REVISION})


def answer_task_id(participant_id: int) -> str:
    return f"{ANSWER_PREFIX}{participant_id}"


def answer_task_status(record: AnswerTaskRecord) -> str:
    """The Task.status of a party's answer to the plan's current version."""
    if record.answered and record.response in _ANSWERED:
        return _ANSWERED[record.response]
    if record.plan_status in _WAITING:
        return "received" if record.received else "requested"
    if record.plan_status is PlanStatus.DRAFT:
        return "draft"
    return "cancelled"


def answer_task_to_fhir(record: AnswerTaskRecord) -> FhirTask:
    status = answer_task_status(record)
    answered = record.answered and record.response is not ResponseStatus.PENDING
    owner = (
        reference("Organization", record.owner_organisation_id)
        if record.owner_organisation_id is not None
        else reference("Patient", record.patient_id)
    )
    note = None
    if answered and record.note and record.response is not ResponseStatus.REJECTED:
        annotation = {"text": record.note}
        if record.responded_at is not None:
            annotation["time"] = fhir_datetime(record.responded_at)
        note = [annotation]
    changed = record.responded_at if answered else record.received_at if record.received else None
    body = compact(
        {
            "resourceType": "Task",
            "id": answer_task_id(record.participant_id),
            "meta": meta(record.version, record.updated_at),
            "status": status,
            "statusReason": (
                {"text": record.note} if status == "rejected" and record.note else None
            ),
            "intent": "order",
            "code": {
                "coding": [{"system": TASK_CODE_SYSTEM, "code": APPROVE}],
                "text": "Answer the plan",
            },
            "description": (
                f"Answer version {record.plan_version_number} of the "
                f"{_KIND_TEXT[record.plan_kind]}: accept, or reject with a reason"
            ),
            "focus": reference("CarePlan", record.plan_id),
            "for": reference("Patient", record.patient_id),
            "encounter": (
                reference("Encounter", record.pathway_id) if record.pathway_id is not None else None
            ),
            "lastModified": fhir_datetime(changed) if changed is not None else None,
            "requester": reference("Organization", record.requester_organisation_id),
            "performerType": [
                {
                    "coding": [
                        {
                            "system": CARE_TEAM_ROLE.url,
                            "code": CARE_TEAM_ROLE.code(CareTeamRole.of(record.role)),
                        }
                    ]
                }
            ],
            "owner": owner,
            "note": note,
        }
    )
    return build(FhirTask, body)


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    """What a client's system sends back on a Task: the status, ``statusReason.text`` and the text of
    the last ``note`` (its comment)."""

    status: str
    reason: str = ""
    note: str = ""


def task_update_from_fhir(data: object, task_id: str) -> TaskUpdate:
    """Read an updated Task (PUT Task/{id}): a valid R4 Task with the id of the URL, if it names one.
    ValidationFailed names each problem by FHIRPath."""
    body = parse_resource(data, FhirTask, "Task")
    errors = ErrorCollector()
    if "id" in body and body["id"] != task_id:
        errors.add("Task.id", f"the body is Task/{body['id']}, the URL Task/{task_id}", "invariant")
    errors.raise_if_any()
    reason = str((body.get("statusReason") or {}).get("text") or "").strip()
    notes = body.get("note") or []
    note = str(notes[-1].get("text") or "").strip() if notes else ""
    return TaskUpdate(status=str(body["status"]), reason=reason, note=note)
