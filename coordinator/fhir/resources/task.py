"""Task: the reminders in the caller's inbox (their own, their organisation's, escalated to them).

Read and search go through the reminder use cases (audited per patient). ``owner`` narrows the inbox
page to one owner: the search pages through the inbox by id, so a page may hold fewer matches than
``_count`` and still have a next link.
"""

from __future__ import annotations

from coordinator.fhir.core import JSON, Context, SearchQuery, SearchResult, bad_search, int_id
from coordinator.fhir.search import (
    cursor_id,
    int_reference,
    next_cursor,
    reference_ids,
    references,
    tokens,
)
from coordinator.i18n import request_language
from coordinator.reminders.models import Reminder
from coordinator.reminders.services import ReminderQuery, get_reminder, list_reminders
from fhir_adapters.common import to_json
from fhir_adapters.records import TaskRecord
from fhir_adapters.task import TASK_STATUS, task_to_fhir
from pathways.labels import reminder_message
from pathways.reminders import ReminderStatus

TASK_STATUS_SYSTEM = "http://hl7.org/fhir/task-status"
OWNER_TYPES = ("Organization", "Practitioner", "PractitionerRole")


def task_json(reminder: Reminder) -> JSON:
    return to_json(
        task_to_fhir(
            TaskRecord(
                id=reminder.id,
                rule=reminder.rule,
                status=reminder.status,
                severity=reminder.severity,
                due_at=reminder.due_at,
                owner_organisation_id=reminder.owner_organisation_id,
                patient_id=reminder.patient_id,
                owner_person_id=reminder.owner_person_id,
                plan_id=reminder.plan_id,
                pathway_id=reminder.pathway_id,
                message=reminder_message(reminder.rule, reminder.params, request_language()),
                basis=reminder.legal_basis,
                version=reminder.version,
                created_at=reminder.created_at,
                updated_at=reminder.updated_at,
                snoozed_until=reminder.snoozed_until,
            )
        )
    )


def read(ctx: Context, rid: str) -> JSON:
    return task_json(get_reminder(ctx.session, ctx.actor, ctx.clock, int_id("Task", rid)))


def _statuses(query: SearchQuery) -> frozenset[ReminderStatus]:
    by_code = {code: status for status, code in TASK_STATUS.items()}
    result = frozenset(ReminderStatus)
    for occurrence in tokens(query, "status"):
        result &= {
            by_code[t.code]
            for t in occurrence
            if t.system in (None, TASK_STATUS_SYSTEM) and t.code in by_code
        }
    return result


def _owned(reminder: Reminder, owners: list[list[tuple[str, str]]]) -> bool:
    def one(kind: str, rid: str) -> bool:
        number = int_reference(rid)
        if kind == "Organization":
            return reminder.owner_organisation_id == number
        return reminder.owner_person_id == number

    return all(any(one(kind, rid) for kind, rid in occurrence) for occurrence in owners)


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    patients = reference_ids(query, "patient", "Patient")
    if patients is not None and len(patients) > 1:
        raise bad_search("search parameter patient: one patient at a time")
    owners = references(query, "owner", OWNER_TYPES)
    statuses = _statuses(query)
    if not statuses or patients == set():
        return SearchResult([])
    page = list_reminders(
        ctx.session,
        ctx.actor,
        ctx.clock,
        ReminderQuery(
            statuses=statuses,
            patient_id=next(iter(patients)) if patients else None,
            after_id=cursor_id(query),
            limit=query.count,
        ),
    )
    return SearchResult(
        [task_json(r) for r in page if _owned(r, owners)],
        next_cursor=next_cursor([r.id for r in page], query.count),
    )
