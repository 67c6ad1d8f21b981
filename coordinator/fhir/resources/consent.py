"""Consent: the patient's participation recorded on a plan (§13a consent, §13b refusal), read and search.

``Consent/{plan id}``, read through the plan use cases: the same care relation (§13c) and the same audit
entries as reading the plan. A plan without a recorded choice has no Consent (404). Searches name the
patient and page newest first by keyset (``_count``, ``_cursor``).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.fhir import records
from coordinator.fhir.core import (
    JSON,
    Context,
    SearchQuery,
    SearchResult,
    bad_search,
    int_id,
    not_found,
)
from coordinator.fhir.search import cursor_id, next_cursor, reference_ids
from coordinator.plans.models import Plan
from coordinator.plans.queries import get_plan, list_patient_plans
from fhir_adapters.common import to_json
from fhir_adapters.consent import ConsentRecord, consent_to_fhir, has_consent
from pathways.plans import PatientParticipation


def _superseded_by_consent(plans: Iterable[Plan]) -> set[int]:
    """Plans a later agreement the patient consented to supersedes."""
    return {
        p.supersedes_plan_id
        for p in plans
        if p.supersedes_plan_id is not None
        and p.patient_participation is PatientParticipation.PARTICIPATES
    }


def consent_json(plan: Plan, superseded: bool) -> JSON:
    return to_json(
        consent_to_fhir(
            ConsentRecord(
                plan_id=plan.id,
                patient_id=plan.patient_id,
                kind=plan.kind,
                plan_status=plan.status,
                participation=plan.patient_participation,
                responsible=records.organisation_record(plan.responsible_organisation),
                refused_on=plan.patient_refused_on,
                superseded_by_consent=superseded,
                updated_at=plan.updated_at,
            )
        )
    )


def consents_of(plans: list[Plan]) -> list[JSON]:
    """The Consents of plans the caller has read (one patient's, for $everything)."""
    superseded = _superseded_by_consent(plans)
    return [
        consent_json(p, p.id in superseded) for p in plans if has_consent(p.patient_participation)
    ]


def _is_superseded(session: Session, plan: Plan) -> bool:
    return (
        session.scalar(
            sa.select(Plan.id).where(
                Plan.supersedes_plan_id == plan.id,
                Plan.patient_participation == PatientParticipation.PARTICIPATES,
            )
        )
        is not None
    )


def read(ctx: Context, rid: str) -> JSON:
    plan = get_plan(
        ctx.session, ctx.actor, ctx.clock, plan_id=int_id("Consent", rid), purpose="read consent"
    )
    if not has_consent(plan.patient_participation):
        raise not_found(
            f"Consent/{rid}: the patient's participation in plan {plan.id} is not recorded"
        )
    return consent_json(plan, _is_superseded(ctx.session, plan))


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    wanted = reference_ids(query, "patient", "Patient")
    if wanted is None:
        raise bad_search("Consent searches need patient")
    after = cursor_id(query)
    plans = [
        plan
        for patient_id in sorted(wanted or ())
        for plan in list_patient_plans(ctx.session, ctx.actor, ctx.clock, patient_id=patient_id)
    ]
    superseded = _superseded_by_consent(plans)
    page = sorted(
        (
            p
            for p in plans
            if has_consent(p.patient_participation) and (after is None or p.id < after)
        ),
        key=lambda p: -p.id,
    )[: query.count]
    return SearchResult(
        [consent_json(p, p.id in superseded) for p in page],
        next_cursor=next_cursor([p.id for p in page], query.count),
    )
