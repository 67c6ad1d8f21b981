"""Provenance: one per committed CarePlan version in the FHIR history (coordinator.plan_history), read and
search.

Access and audit are the plan's: a read or a ``target`` search reads the plan (``get_plan``), a ``patient``
search lists the patient's plans (``list_patient_plans``); both need a care relation (§13c). Searches page
newest first by keyset (``_count``, ``_cursor``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.accounts.models import User
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
from coordinator.organisations.models import Organisation
from coordinator.plan_history.models import PlanResourceVersion
from coordinator.plans.models import Plan, PlanVersion
from coordinator.plans.queries import get_plan, list_patient_plans
from fhir_adapters.common import to_json
from fhir_adapters.provenance import (
    ContentAuthor,
    ProvenanceRecord,
    content_version,
    provenance_to_fhir,
)
from pathways.errors import NotFound


def _json(session: Session, rows: Sequence[PlanResourceVersion]) -> list[JSON]:
    """The rows as Provenance: the content version each CarePlan version carries names its author."""
    if not rows:
        return []
    plan_ids = {r.plan_id for r in rows}
    plans = {p.id: p for p in session.scalars(sa.select(Plan).where(Plan.id.in_(plan_ids)))}
    wanted = {(r.plan_id, content_version(r.resource)) for r in rows}
    writers: dict[tuple[int, int | None], int | None] = {
        (v.plan_id, v.number): v.created_by_id
        for v in session.scalars(
            sa.select(PlanVersion).where(
                PlanVersion.plan_id.in_(plan_ids),
                PlanVersion.number.in_({n for _, n in wanted if n is not None}),
            )
        )
    }
    people = {
        u.id: u
        for u in session.scalars(
            sa.select(User).where(User.id.in_({w for w in writers.values() if w is not None}))
        )
    }
    org_ids = {u.organisation_id for u in people.values()}
    org_ids |= {p.responsible_organisation_id for p in plans.values()}
    orgs = {
        o.id: records.organisation_record(o)
        for o in session.scalars(sa.select(Organisation).where(Organisation.id.in_(org_ids)))
    }
    out = []
    for row in rows:
        plan = plans[row.plan_id]
        writer = people.get(writers.get((row.plan_id, content_version(row.resource))) or 0)
        author = None
        if writer is not None:
            author = ContentAuthor(
                person_id=writer.id, name=writer.name, organisation=orgs[writer.organisation_id]
            )
        out.append(
            to_json(
                provenance_to_fhir(
                    ProvenanceRecord(
                        id=row.id,
                        plan_id=row.plan_id,
                        version=row.version,
                        recorded_at=row.recorded_at,
                        is_creation=row.version == 1,
                        custodian=orgs[plan.responsible_organisation_id],
                        author=author,
                    )
                )
            )
        )
    return out


def provenance_of(session: Session, plan_ids: set[int]) -> list[JSON]:
    """The Provenance of every stored version of plans the caller has read (for $everything)."""
    if not plan_ids:
        return []
    rows = session.scalars(
        sa.select(PlanResourceVersion)
        .where(PlanResourceVersion.plan_id.in_(plan_ids))
        .order_by(PlanResourceVersion.id)
    )
    return _json(session, list(rows))


# ---------------------------------------------------------------------------- read
def read(ctx: Context, rid: str) -> JSON:
    row = ctx.session.get(PlanResourceVersion, int_id("Provenance", rid))
    if row is None:
        raise not_found(f"Provenance/{rid} is not known here")
    get_plan(ctx.session, ctx.actor, ctx.clock, plan_id=row.plan_id, purpose="read plan provenance")
    return _json(ctx.session, [row])[0]


# ---------------------------------------------------------------------------- search
def _readable_plans(ctx: Context, targets: set[int] | None, patients: set[int] | None) -> set[int]:
    """The plans whose versions the search covers, each read (or listed) through the plan use cases."""
    plan_ids: set[int] | None = None
    if patients is not None:
        plan_ids = {
            plan.id
            for patient_id in sorted(patients)
            for plan in list_patient_plans(ctx.session, ctx.actor, ctx.clock, patient_id=patient_id)
        }
    if targets is not None:
        readable = set()
        for plan_id in sorted(targets if plan_ids is None else targets & plan_ids):
            try:
                get_plan(
                    ctx.session,
                    ctx.actor,
                    ctx.clock,
                    plan_id=plan_id,
                    purpose="search plan provenance",
                )
            except NotFound:
                continue  # system actors only: for others an unknown plan is refused (no oracle)
            readable.add(plan_id)
        plan_ids = readable
    return plan_ids or set()


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    targets = reference_ids(query, "target", "CarePlan")
    patients = reference_ids(query, "patient", "Patient")
    if targets is None and patients is None:
        raise bad_search("Provenance searches need target (CarePlan/<id>) or patient")
    after = cursor_id(query)
    plan_ids = _readable_plans(ctx, targets, patients)
    rows: list[PlanResourceVersion] = []
    if plan_ids:
        statement = (
            sa.select(PlanResourceVersion)
            .where(PlanResourceVersion.plan_id.in_(plan_ids))
            .order_by(PlanResourceVersion.id.desc())
            .limit(query.count)
        )
        if after is not None:
            statement = statement.where(PlanResourceVersion.id < after)
        rows = list(ctx.session.scalars(statement))
    return SearchResult(
        _json(ctx.session, rows), next_cursor=next_cursor([r.id for r in rows], query.count)
    )
