"""Task: the reminders in the caller's inbox (``Task/{reminder id}``: their own, their organisation's,
escalated to them) and the parties' answers to plans (``Task/answer-{participant id}``, one per required
party of each plan the caller's organisation is a party to).

Read and search go through the reminder and plan use cases (audited per patient). ``owner``, ``status``,
``focus`` and ``code`` narrow a page: the search pages through the inbox by id, then through the plans
(newest first), so a page may hold fewer matches than ``_count`` and still have a next link; a cursor
``answer-{plan id}-{participant id}`` says the reminders are done.

Update (PUT with If-Match) runs the same use cases as REST: on an answer Task, received ->
``mark_received``, accepted/rejected (reason in ``statusReason.text``) -> ``respond``, a new last ``note``
with status received -> ``respond`` commented, each with the plan's version; on a reminder Task,
accepted -> ``acknowledge_reminder``, completed or cancelled (reason in ``statusReason.text`` or a note)
-> ``dismiss_reminder``, with the reminder's version. The status it has already changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from coordinator.fhir.core import (
    JSON,
    Context,
    SearchQuery,
    SearchResult,
    bad_search,
    int_id,
    not_found,
)
from coordinator.fhir.search import (
    int_reference,
    reference_ids,
    references,
    tokens,
)
from coordinator.i18n import request_language
from coordinator.plans.answers import mark_received, respond
from coordinator.plans.models import Plan, PlanParticipant
from coordinator.plans.queries import (
    PlanQuery,
    get_participant_plan,
    search_patient_plans,
    search_plans,
)
from coordinator.reminders.models import Reminder
from coordinator.reminders.services import (
    ReminderQuery,
    acknowledge_reminder,
    dismiss_reminder,
    get_reminder,
    list_reminders,
)
from fhir_adapters.codesystems import GAP_RULE_SYSTEM
from fhir_adapters.common import to_json
from fhir_adapters.records import AnswerTaskRecord, TaskRecord
from fhir_adapters.task import (
    ANSWER_PREFIX,
    ANSWER_STATUSES,
    APPROVE,
    TASK_CODE_SYSTEM,
    TASK_STATUS,
    TaskUpdate,
    answer_task_to_fhir,
    task_to_fhir,
    task_update_from_fhir,
)
from pathways.errors import StaleVersion, ValidationFailed, VersionRequired
from pathways.labels import label_or_code, reminder_message
from pathways.plans import ParticipantRole
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
                title=label_or_code("gap_rule", reminder.rule, request_language()),
                basis=reminder.legal_basis,
                version=reminder.version,
                created_at=reminder.created_at,
                updated_at=reminder.updated_at,
                snoozed_until=reminder.snoozed_until,
            )
        )
    )


def answer_json(plan: Plan, party: PlanParticipant) -> JSON:
    current = plan.current_version_number
    return to_json(
        answer_task_to_fhir(
            AnswerTaskRecord(
                participant_id=party.id,
                plan_id=plan.id,
                plan_kind=plan.kind,
                plan_status=plan.status,
                plan_version_number=current,
                role=party.role,
                patient_id=plan.patient_id,
                owner_organisation_id=(
                    None if party.role is ParticipantRole.PATIENT else party.organisation_id
                ),
                requester_organisation_id=plan.responsible_organisation_id,
                response=party.response,
                note=party.response_note,
                answered=party.responded_version_number == current,
                received=party.received_version_number == current,
                responded_at=party.responded_at,
                received_at=party.received_at,
                pathway_id=plan.pathway_id,
                version=plan.version,
                updated_at=plan.updated_at,
            )
        )
    )


def answering_parties(plan: Plan) -> list[PlanParticipant]:
    """The parties whose answer a plan waits for: the required ones that are an organisation, and the
    patient (the ward records their answer)."""
    return [
        p
        for p in plan.participants
        if p.is_required and (p.organisation_id is not None or p.role is ParticipantRole.PATIENT)
    ]


def _answer_id(rid: str) -> int | None:
    """The participant id of ``answer-{id}``, None for a reminder's id."""
    if not rid.startswith(ANSWER_PREFIX):
        return None
    number = int_reference(rid.removeprefix(ANSWER_PREFIX))
    if number is None:
        raise not_found(f"Task/{rid} is not known here")
    return number


def read(ctx: Context, rid: str) -> JSON:
    participant_id = _answer_id(rid)
    if participant_id is not None:
        plan, party = get_participant_plan(
            ctx.session, ctx.actor, ctx.clock, participant_id=participant_id, purpose="read answer"
        )
        if party not in answering_parties(plan):
            raise not_found(f"Task/{rid} is not known here")
        return answer_json(plan, party)
    return task_json(get_reminder(ctx.session, ctx.actor, ctx.clock, int_id("Task", rid)))


# ---------------------------------------------------------------------------- search
@dataclass(frozen=True, slots=True)
class _Filters:
    patient_id: int | None
    owners: list[list[tuple[str, str]]]
    focus: list[list[tuple[str, str]]]
    codes: list[list[tuple[str | None, str]]]


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


def _status_matches(query: SearchQuery, status: str) -> bool:
    return all(
        any(t.system in (None, TASK_STATUS_SYSTEM) and t.code == status for t in occurrence)
        for occurrence in tokens(query, "status")
    )


def _matches(references_: list[list[tuple[str, str]]], have: set[tuple[str, int | None]]) -> bool:
    """Every occurrence names one of ``have`` (the resource's references)."""
    return all(
        any((kind, int_reference(rid)) in have for kind, rid in occurrence)
        for occurrence in references_
    )


def _code_matches(codes: list[list[tuple[str | None, str]]], system: str, code: str) -> bool:
    return all(
        any(s in (None, system) and c == code for s, c in occurrence) for occurrence in codes
    )


def _reminder_refs(reminder: Reminder) -> tuple[set[tuple[str, int | None]], ...]:
    owners: set[tuple[str, int | None]] = {("Organization", reminder.owner_organisation_id)}
    if reminder.owner_person_id is not None:
        owners |= {("Practitioner", reminder.owner_person_id)}
        owners |= {("PractitionerRole", reminder.owner_person_id)}
    focus: set[tuple[str, int | None]] = (
        {("CarePlan", reminder.plan_id)}
        if reminder.plan_id is not None
        else {("Encounter", reminder.pathway_id)}
    )
    return owners, focus


def _reminders(
    ctx: Context, query: SearchQuery, filters: _Filters, after: int | None, limit: int
) -> tuple[list[JSON], int | None]:
    """A page of reminder Tasks and the last reminder id looked at when the page was full."""
    statuses = _statuses(query)
    if not statuses:
        return [], None
    page = list_reminders(
        ctx.session,
        ctx.actor,
        ctx.clock,
        ReminderQuery(
            statuses=statuses, patient_id=filters.patient_id, after_id=after, limit=limit
        ),
    )
    found = []
    for reminder in page:
        owners, focus = _reminder_refs(reminder)
        if (
            _matches(filters.owners, owners)
            and _matches(filters.focus, focus)
            and _code_matches(filters.codes, GAP_RULE_SYSTEM, reminder.rule)
        ):
            found.append(task_json(reminder))
    return found, (page[-1].id if len(page) >= limit else None)


def _answers(
    ctx: Context, query: SearchQuery, filters: _Filters, after: tuple[int, int] | None, limit: int
) -> tuple[list[JSON], tuple[int, int] | None]:
    """A page of answer Tasks (plans newest first, their parties in order) and where the next starts."""
    plan_query = PlanQuery(
        patient_id=filters.patient_id,
        after_id=None if after is None else after[0] + 1,
        limit=limit,
    )
    search = search_plans if filters.patient_id is None else search_patient_plans
    plans = search(ctx.session, ctx.actor, ctx.clock, plan_query)
    found: list[JSON] = []
    last: tuple[int, int] | None = None
    for plan, party in _parties(plans, after):
        if len(found) >= limit:
            return found, last
        last = (plan.id, party.id)
        task = answer_json(plan, party)
        owner = (
            ("Patient", plan.patient_id)
            if party.role is ParticipantRole.PATIENT
            else ("Organization", party.organisation_id)
        )
        if (
            _matches(filters.owners, {owner})
            and _matches(filters.focus, {("CarePlan", plan.id)})
            and _code_matches(filters.codes, TASK_CODE_SYSTEM, APPROVE)
            and _status_matches(query, task["status"])
        ):
            found.append(task)
    return found, (last if len(plans) >= limit and last is not None else None)


def _parties(
    plans: list[Plan], after: tuple[int, int] | None
) -> Iterator[tuple[Plan, PlanParticipant]]:
    for plan in plans:
        for party in answering_parties(plan):
            if after is not None and plan.id == after[0] and party.id <= after[1]:
                continue
            yield plan, party


def _cursor(query: SearchQuery) -> tuple[int | None, tuple[int, int] | None]:
    """(reminder id, None) or (None, (plan id, participant id)) from ``_cursor``."""
    if query.cursor is None:
        return None, None
    if query.cursor.startswith(ANSWER_PREFIX):
        parts = query.cursor.removeprefix(ANSWER_PREFIX).split("-")
        numbers = [int_reference(p) for p in parts]
        if len(numbers) == 2 and numbers[0] is not None and numbers[1] is not None:
            return None, (numbers[0], numbers[1])
    elif (number := int_reference(query.cursor)) is not None:
        return number, None
    raise bad_search("_cursor: use the next link the server gave you")


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    patients = reference_ids(query, "patient", "Patient")
    if patients is not None and len(patients) > 1:
        raise bad_search("search parameter patient: one patient at a time")
    filters = _Filters(
        patient_id=next(iter(patients)) if patients else None,
        owners=references(query, "owner", OWNER_TYPES),
        focus=references(query, "focus", ("CarePlan", "Encounter")),
        codes=[[(t.system, t.code) for t in o] for o in tokens(query, "code")],
    )
    if patients == set():
        return SearchResult([])
    reminder_after, answer_after = _cursor(query)
    found: list[JSON] = []
    if answer_after is None:
        found, last_reminder = _reminders(ctx, query, filters, reminder_after, query.count)
        if last_reminder is not None:
            return SearchResult(found, next_cursor=str(last_reminder))
    if not ctx.allows("CarePlan", "read"):
        # An answer is the plan's data: a client without system/CarePlan.read finds reminders only.
        return SearchResult(found)
    answers, last = _answers(ctx, query, filters, answer_after, query.count - len(found) or 1)
    cursor = None if last is None else f"{ANSWER_PREFIX}{last[0]}-{last[1]}"
    return SearchResult([*found, *answers], next_cursor=cursor)


# ---------------------------------------------------------------------------- update
def update(ctx: Context, rid: str, body: JSON, version: int | None) -> JSON:
    change = task_update_from_fhir(body, rid)
    participant_id = _answer_id(rid)
    if participant_id is not None:
        return _update_answer(ctx, rid, participant_id, change, version)
    return _update_reminder(ctx, int_id("Task", rid), change, version)


def _unsupported(status: str, supported: tuple[str, ...], what: str) -> ValidationFailed:
    return ValidationFailed.single(
        "Task.status",
        f"{what} cannot be set to {status!r} here (supported: {', '.join(supported)})",
        "code-invalid",
    )


def _update_answer(
    ctx: Context, rid: str, participant_id: int, change: TaskUpdate, version: int | None
) -> JSON:
    plan, party = get_participant_plan(
        ctx.session,
        ctx.actor,
        ctx.clock,
        participant_id=participant_id,
        purpose="read answer for update",
    )
    if party not in answering_parties(plan):
        raise not_found(f"Task/{rid} is not known here")
    if version is None:  # told only after access
        raise VersionRequired("plan")
    if plan.version != version:
        raise StaleVersion("plan", version, plan.version)
    current = answer_json(plan, party)
    common = {
        "plan_id": plan.id,
        "expected_version": version,
        "participant_id": participant_id,
    }
    new_note = change.note and change.note != _note_of(current)
    if change.status == "received" and new_note:
        plan = respond(
            ctx.session, ctx.actor, ctx.clock, response="commented", note=change.note, **common
        )
    elif change.status == current["status"] and not new_note:
        return current
    elif change.status == "received":
        plan = mark_received(ctx.session, ctx.actor, ctx.clock, **common)
    elif change.status == "accepted":
        plan = respond(
            ctx.session, ctx.actor, ctx.clock, response="accepted", note=change.note, **common
        )
    elif change.status == "rejected":
        reason = change.reason or change.note
        if not reason:
            raise ValidationFailed.single(
                "Task.statusReason.text", "a rejection needs a reason", "required"
            )
        plan = respond(
            ctx.session, ctx.actor, ctx.clock, response="rejected", note=reason, **common
        )
    else:
        raise _unsupported(change.status, ANSWER_STATUSES, "an answer Task")
    return answer_json(plan, next(p for p in plan.participants if p.id == participant_id))


def _note_of(task: JSON) -> str:
    notes = task.get("note") or []
    return str(notes[-1].get("text", "")) if notes else ""


REMINDER_STATUSES = ("accepted", "completed", "cancelled")


def _update_reminder(
    ctx: Context, reminder_id: int, change: TaskUpdate, version: int | None
) -> JSON:
    reminder = get_reminder(ctx.session, ctx.actor, ctx.clock, reminder_id)
    if version is None:  # told only after access
        raise VersionRequired("reminder")
    if reminder.version != version:
        raise StaleVersion("reminder", version, reminder.version)
    if change.status == TASK_STATUS[reminder.status]:
        return task_json(reminder)
    if change.status == "accepted":
        reminder = acknowledge_reminder(
            ctx.session, ctx.actor, ctx.clock, reminder_id=reminder_id, expected_version=version
        )
    elif change.status in ("completed", "cancelled"):
        reason = change.reason or change.note
        if not reason:
            raise ValidationFailed.single(
                "Task.statusReason.text",
                "say why the reminder is closed by hand (statusReason.text or a note)",
                "required",
            )
        reminder = dismiss_reminder(
            ctx.session,
            ctx.actor,
            ctx.clock,
            reminder_id=reminder_id,
            reason=reason,
            expected_version=version,
        )
    else:
        raise _unsupported(change.status, REMINDER_STATUSES, "a reminder Task")
    return task_json(reminder)
