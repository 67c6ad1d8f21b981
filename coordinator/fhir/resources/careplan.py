"""CarePlan: discharge agreements (§13a) and coordination plans (§13b), through the plan use cases.

- ``meta.versionId`` is the plan row's version, the REST API's ETag. Every committed version is kept as
  a copy (coordinator.plan_history) for vread and ``_history``; a version older than that history answers
  410 (the content history is at ``/api/v1/plans/{id}/versions``). Each copy has a Provenance.
- Create (POST) makes a draft for the stay named by ``encounter`` (``create_draft``: the parties follow
  from the stay) and then sets the content given (``edit_plan``).
- Update (PUT, If-Match) changes content: sections, the review date, ``period.end``. Status, parties and
  the patient's participation move through the plan's lifecycle (the REST API's actions); an update that
  would change them, or the subject, author, stay, kind or ``period.start``, is refused with 422. Elements
  the server manages (``created``, the lifecycle timestamps, ``careTeam``, ``note``) are ignored on input,
  and status, parties and participation may be left out of an update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from coordinator.fhir.core import (
    JSON,
    NO_MATCH_ID,
    Context,
    FhirError,
    SearchQuery,
    SearchResult,
    bad_search,
    int_id,
    resolved_params,
)
from coordinator.fhir.render import plan_json, plan_team_json
from coordinator.fhir.resources.patient import patient_json, patients_by_identifier
from coordinator.fhir.search import (
    cursor_id,
    dates,
    int_reference,
    next_cursor,
    overlap_range,
    reference_ids,
    tokens,
)
from coordinator.patients.services import get_patient
from coordinator.plan_history import queries as history_store
from coordinator.plans.models import Plan, PlanParticipant
from coordinator.plans.queries import PeriodFilter, PlanQuery, get_plan, get_plan_for_edit
from coordinator.plans.reads import patient_plans, read_plan, search_plans
from coordinator.plans.services import create_draft, edit_plan
from fhir_adapters.careplan import (
    FHIR_STATUS,
    PARTICIPANT_EXTENSION,
    PATIENT_PARTICIPATION_EXTENSION,
    PLAN_STATUS_EXTENSION,
    care_plan_from_fhir,
)
from fhir_adapters.codesystems import PLAN_KIND, PLAN_STATUS
from fhir_adapters.records import PlanRecord
from pathways.errors import ErrorCollector, NotFound, ValidationFailed
from pathways.plans import Participant, PlanKind, PlanStatus

REQUEST_STATUS_SYSTEM = "http://hl7.org/fhir/request-status"
# Elements only the server sets and that may point at resources of a transaction not made yet.
IGNORED_ON_INPUT = ("careTeam",)
INCLUDE_CARE_TEAM = "CarePlan:care-team"
INCLUDE_PATIENT = "CarePlan:patient"
CHAINED_CPR = "patient.identifier"


def parse(body: JSON) -> PlanRecord:
    return care_plan_from_fhir({k: v for k, v in body.items() if k not in IGNORED_ON_INPUT})


# ---------------------------------------------------------------------------- read
def read(ctx: Context, rid: str) -> JSON:
    return plan_json(read_plan(ctx.session, ctx.actor, ctx.clock, plan_id=int_id("CarePlan", rid)))


def vread(ctx: Context, rid: str, vid: str) -> JSON:
    plan = get_plan(
        ctx.session,
        ctx.actor,
        ctx.clock,
        plan_id=int_id("CarePlan", rid),
        purpose="read plan version",
    )
    wanted = int_reference(vid)
    if wanted == plan.version:
        return plan_json(plan)
    stored = history_store.version(ctx.session, plan.id, wanted) if wanted is not None else None
    if stored is not None:
        return stored
    if wanted is not None and wanted < plan.version:
        raise FhirError(
            410,
            "not-supported",
            f"CarePlan/{plan.id} version {wanted} predates the FHIR version history; the content "
            f"history is at /api/v1/plans/{plan.id}/versions",
        )
    raise FhirError(404, "not-found", f"CarePlan/{plan.id} has no version {vid}")


def history(ctx: Context, rid: str) -> list[JSON]:
    """Every version of the CarePlan, newest first (the current one always, even before the history)."""
    plan = get_plan(
        ctx.session,
        ctx.actor,
        ctx.clock,
        plan_id=int_id("CarePlan", rid),
        purpose="read plan history",
    )
    current = plan_json(plan)
    older = [
        r
        for r in history_store.versions(ctx.session, plan.id)
        if r.get("meta", {}).get("versionId") != current.get("meta", {}).get("versionId")
    ]
    return [current, *older]


# ---------------------------------------------------------------------------- search
def _and_of_ors(
    query: SearchQuery, name: str, read_token: Callable[[str | None, str], set[Any]]
) -> set[Any] | None:
    """Token occurrences AND, the tokens of one occurrence OR; None without the parameter."""
    result: set[Any] | None = None
    for occurrence in tokens(query, name):
        found: set[Any] = set()
        for token in occurrence:
            found |= read_token(token.system, token.code)
        result = found if result is None else result & found
    return result


def _status(system: str | None, code: str) -> set[PlanStatus]:
    if system == PLAN_STATUS.url:
        exact = PLAN_STATUS.member(code)
        return {exact} if exact is not None else set()
    if system in (None, REQUEST_STATUS_SYSTEM):
        return {status for status, fhir_code in FHIR_STATUS.items() if fhir_code == code}
    return set()


def _kind(system: str | None, code: str) -> set[PlanKind]:
    kind = PLAN_KIND.member(code) if system in (None, PLAN_KIND.url) else None
    return {kind} if kind is not None else set()


def _patients(
    ctx: Context, query: SearchQuery
) -> tuple[set[int] | None, tuple[tuple[str, str], ...] | None]:
    """The patients the search is limited to (None: not limited), and the parameters its links carry
    when a CPR chose them: ``patient=Patient/<id>`` for the patients found, never the number."""
    ids = reference_ids(query, "patient", "Patient")
    by_cpr = patients_by_identifier(ctx, query, CHAINED_CPR)
    if by_cpr is None:
        return ids, None
    ids = set(by_cpr) if ids is None else ids & set(by_cpr)
    links = resolved_params(
        query,
        ("patient", CHAINED_CPR),
        "patient",
        [f"Patient/{pid}" for pid in sorted(ids)],
        nothing=f"Patient/{NO_MATCH_ID}",
    )
    return ids, links


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    statuses = _and_of_ors(query, "status", _status)
    kinds = _and_of_ors(query, "category", _kind)
    stays = reference_ids(query, "encounter", "Encounter")
    if stays is not None and len(stays) > 1:
        raise bad_search("search parameter encounter: one stay at a time")
    periods = tuple(PeriodFilter(*overlap_range(bound)) for bound in dates(query, "date"))
    plan_query = PlanQuery(
        statuses=frozenset(statuses or ()),
        kind=next(iter(kinds)) if kinds is not None and len(kinds) == 1 else None,
        pathway_id=next(iter(stays)) if stays else None,
        periods=periods,
        after_id=cursor_id(query),
        limit=query.count,
    )
    if INCLUDE_CARE_TEAM in query.includes:
        ctx.require_scope("CareTeam", "read")
    if INCLUDE_PATIENT in query.includes:
        ctx.require_scope("Patient", "read")
    patients, links = _patients(ctx, query)
    if any(found is not None and not found for found in (statuses, kinds, stays, patients)):
        return SearchResult([], link_params=links)  # a value that matches nothing: no need to ask
    session, actor, clock = ctx.session, ctx.actor, ctx.clock
    if patients is None:
        plans = search_plans(session, actor, clock, plan_query)
    else:
        plans = [
            plan
            for patient_id in sorted(patients)
            for plan in patient_plans(
                session,
                actor,
                clock,
                patient_id=patient_id,
                query=replace(plan_query, patient_id=patient_id),
            )
        ]
        plans = sorted(plans, key=lambda p: -p.id)[: query.count]
    included: list[JSON] = []
    if INCLUDE_CARE_TEAM in query.includes:
        included += [plan_team_json(p) for p in plans]
    if INCLUDE_PATIENT in query.includes:
        included += [
            patient_json(ctx, get_patient(session, actor, clock, patient_id=patient_id))
            for patient_id in sorted({p.patient_id for p in plans})
        ]
    return SearchResult(
        [plan_json(p) for p in plans],
        included,
        next_cursor([p.id for p in plans], query.count),
        link_params=links,
    )


# ---------------------------------------------------------------------------- create and update
def _first_extension(body: JSON, url: str) -> str:
    for i, ext in enumerate(body.get("extension", [])):
        if isinstance(ext, dict) and ext.get("url") == url:
            return f"CarePlan.extension[{i}]"
    return "CarePlan.extension"


def _parties(participants: Sequence[Participant | PlanParticipant]) -> list[tuple[str, int]]:
    """The parties as (role, organisation) for comparison; names and answers are not compared."""
    return sorted((p.role.value, p.organisation_id or 0) for p in participants)


def _describe(participants: Sequence[PlanParticipant]) -> str:
    return ", ".join(
        p.role.value + (f" (Organization/{p.organisation_id})" if p.organisation_id else "")
        for p in participants
    )


def _check_parties(plan: Plan, record: PlanRecord, body: JSON, errors: ErrorCollector) -> None:
    if record.plan.participants and _parties(record.plan.participants) != _parties(
        plan.participants
    ):
        errors.add(
            _first_extension(body, PARTICIPANT_EXTENSION),
            f"the parties of plan {plan.id} are {_describe(plan.participants)}; they follow from "
            "the stay and the plan's lifecycle, and cannot be set over FHIR",
            "business-rule",
        )


def _content_changes(plan: Plan, record: PlanRecord) -> dict[str, Any]:
    """The sections to send to edit_plan so that the content becomes exactly the resource's."""
    wanted = {key.value: dict(content) for key, content in record.plan.sections.items() if content}
    current = plan.current_version.sections
    changes: dict[str, Any] = {key: None for key in current if key not in wanted}
    changes |= {key: content for key, content in wanted.items() if current.get(key) != content}
    return changes


def _edit(ctx: Context, plan: Plan, record: PlanRecord, expected: int | None, note: str) -> Plan:
    new = record.plan
    return edit_plan(
        ctx.session,
        ctx.actor,
        ctx.clock,
        plan_id=plan.id,
        expected_version=expected,
        sections=_content_changes(plan, record),
        review_on=new.review_on if new.review_on != plan.review_on else None,
        valid_to=new.valid_to if new.valid_to != plan.valid_to else None,
        change_note=note,
    )


def create(ctx: Context, body: JSON) -> JSON:
    record = parse(body)
    errors = ErrorCollector()
    if record.plan.status is not PlanStatus.DRAFT:
        errors.add(
            "CarePlan.status",
            "a new plan starts as a draft (status draft); it moves on through its lifecycle",
            "business-rule",
        )
    if record.pathway_id is None:
        errors.add(
            "CarePlan.encounter",
            "the stay (Encounter) the plan is made for is required",
            "required",
        )
    if record.plan.valid_from is not None:
        errors.add("CarePlan.period.start", "is set when the plan takes effect", "business-rule")
    errors.raise_if_any()
    assert record.pathway_id is not None
    try:
        plan = create_draft(
            ctx.session, ctx.actor, ctx.clock, pathway_id=record.pathway_id, kind=record.plan.kind
        )
    except NotFound as exc:
        if exc.entity != "pathway":
            raise
        raise ValidationFailed.single(
            "CarePlan.encounter.reference",
            f"Encounter/{record.pathway_id} does not exist",
            "not-found",
        ) from None
    if record.patient_id != plan.patient_id:
        errors.add(
            "CarePlan.subject",
            f"the stay Encounter/{plan.pathway_id} is Patient/{plan.patient_id}'s",
            "invariant",
        )
    if record.responsible_organisation_id != plan.responsible_organisation_id:
        errors.add(
            "CarePlan.author",
            f"the ward of the stay, Organization/{plan.responsible_organisation_id}, is responsible",
            "invariant",
        )
    _check_parties(plan, record, body, errors)
    errors.raise_if_any()
    if _content_changes(plan, record) or record.plan.review_on or record.plan.valid_to:
        plan = _edit(ctx, plan, record, plan.version, "created over FHIR")
    return plan_json(plan)


def _check_unchanged(plan: Plan, record: PlanRecord, body: JSON) -> None:
    """What an update may not change (422), each named by its FHIRPath."""
    errors = ErrorCollector()
    fixed = (
        ("CarePlan.subject", record.patient_id, plan.patient_id),
        ("CarePlan.author", record.responsible_organisation_id, plan.responsible_organisation_id),
        ("CarePlan.encounter", record.pathway_id, plan.pathway_id),
        ("CarePlan.category", record.plan.kind, plan.kind),
    )
    for where, given, current in fixed:
        if given != current:
            errors.add(where, "cannot be changed", "business-rule")
    new = record.plan
    status_given = _first_extension(body, PLAN_STATUS_EXTENSION) != "CarePlan.extension"
    if FHIR_STATUS[new.status] != FHIR_STATUS[plan.status] or (
        status_given and new.status is not plan.status
    ):
        errors.add(
            "CarePlan.status",
            f"plan {plan.id} is {plan.status.value}: the status changes through the plan's "
            f"lifecycle (POST /api/v1/plans/{plan.id}/propose, /responses, /end, ...), not by update",
            "business-rule",
        )
    if new.valid_from is not None and new.valid_from != plan.valid_from:
        errors.add("CarePlan.period.start", "is set when the plan takes effect", "business-rule")
    _check_parties(plan, record, body, errors)
    participation = _first_extension(body, PATIENT_PARTICIPATION_EXTENSION)
    if participation != "CarePlan.extension" and (
        new.patient_participation,
        record.patient_refused_on,
    ) != (plan.patient_participation, plan.patient_refused_on):
        errors.add(
            participation,
            f"record the patient's participation through POST /api/v1/plans/{plan.id}/participation",
            "business-rule",
        )
    errors.raise_if_any()


def update(ctx: Context, rid: str, body: JSON, expected: int | None) -> JSON:
    plan_id = int_id("CarePlan", rid)
    if body.get("id") != rid:
        raise FhirError(
            400,
            "invalid",
            f"the resource's id must be the id in the URL ({rid})",
            expression="CarePlan.id",
        )
    record = parse(body)
    plan = get_plan_for_edit(
        ctx.session, ctx.actor, ctx.clock, plan_id=plan_id, expected_version=expected
    )
    _check_unchanged(plan, record, body)
    return plan_json(_edit(ctx, plan, record, expected, "updated over FHIR"))
