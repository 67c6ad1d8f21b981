"""Audited plan reads as rows: what the REST and FHIR doors answer GET plan, a patient's plans, and the
plan searches with (issue 21, ADR 0014).

The same rules as ``coordinator.plans.queries`` (care relation §13c, an audit row per patient shown, an
unknown id refused like someone else's), with fewer round trips and no ORM objects: one statement
fetches the plan (or the patient's plans), its current version, its parties and the patient's related
organisations (``access.services.relations_json``), and the access decision is made in Python on those
rows by the same ``decide``. The caller is resolved once per request together with the organisations it
acts for (``accounts.login.load_user``). The rows carry the attributes the API schema and the FHIR
mapper read from a ``Plan`` (``PlanRow``), so both render them unchanged.

Use cases that change a plan, and pages that walk its relationships, keep the ORM (``queries.get_plan``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import (
    DEFAULT_GRACE,
    refuse_unknown,
    relation_rows_json,
    relations_json,
    require_access_from_rows,
    unknown_patient,
)
from coordinator.audit.services import record_now, record_per_patient
from coordinator.db import from_json_time, json_rows
from coordinator.organisations.lineage import organisation_scope
from coordinator.patients.models import Patient
from coordinator.plans.models import Plan, PlanParticipant, PlanVersion
from coordinator.plans.queries import PlanQuery, check_query, plan_conditions
from pathways.access import NO_CLINICAL_CONTENT
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import PermissionDenied
from pathways.people import Actor, ActorKind
from pathways.permissions import Permission, require
from pathways.plans import (
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanStatus,
    ResponseStatus,
)


@dataclass(frozen=True, slots=True)
class PartyRow:
    """A party to a plan (``PlanParticipant``'s columns that a reader is shown)."""

    id: int
    role: ParticipantRole
    organisation_id: int | None
    person_name: str
    is_required: bool
    response: ResponseStatus
    response_note: str
    responded_version_number: int | None
    responded_at: datetime | None


@dataclass(frozen=True, slots=True)
class VersionRow:
    sections: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PlanRow:
    """A plan as a reader sees it: the header, the current version's sections and the parties."""

    id: int
    kind: PlanKind
    status: PlanStatus
    patient_id: int
    pathway_id: int | None
    responsible_organisation_id: int
    version: int
    current_version_number: int
    valid_from: date | None
    valid_to: date | None
    review_on: date | None
    patient_participation: PatientParticipation
    patient_refused_on: date | None
    supersedes_plan_id: int | None
    agreed_at: datetime | None
    activated_at: datetime | None
    ended_at: datetime | None
    ended_reason: str
    missing_party_reasons: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    current_version: VersionRow
    participants: tuple[PartyRow, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class PatientRow:
    """What the access decision reads of the patient (``access.services.PatientFacts``)."""

    id: int
    kommunekode: str
    created_at: datetime
    gp_organisation_id: int | None


_HEADER = (
    Plan.id,
    Plan.kind,
    Plan.status,
    Plan.patient_id,
    Plan.pathway_id,
    Plan.responsible_organisation_id,
    Plan.version,
    Plan.current_version_number,
    Plan.valid_from,
    Plan.valid_to,
    Plan.review_on,
    Plan.patient_participation,
    Plan.patient_refused_on,
    Plan.supersedes_plan_id,
    Plan.agreed_at,
    Plan.activated_at,
    Plan.ended_at,
    Plan.ended_reason,
    Plan.missing_party_reasons,
    Plan.created_at,
    Plan.updated_at,
)
_FIELDS = tuple(column.key for column in _HEADER)
_PATIENT = (
    Patient.id.label("patient_row_id"),
    Patient.kommunekode.label("patient_kommunekode"),
    Patient.created_at.label("patient_created_at"),
    Patient.gp_organisation_id.label("patient_gp_organisation_id"),
)


def _parties_json() -> sa.ScalarSelect[Any]:
    """The plan's parties as one JSON column, correlated to the enclosing statement's ``plans`` row."""
    p = PlanParticipant
    return (
        sa.select(
            json_rows(
                "id", p.id, "role", p.role, "organisation_id", p.organisation_id,
                "person_name", p.person_name, "is_required", p.is_required, "response", p.response,
                "response_note", p.response_note,
                "responded_version_number", p.responded_version_number,
                "responded_at", p.responded_at,
            )
        )
        .where(p.plan_id == Plan.id)
        .scalar_subquery()
    )  # fmt: skip


def _current_version() -> sa.ColumnElement[bool]:
    return sa.and_(
        PlanVersion.plan_id == Plan.id, PlanVersion.number == Plan.current_version_number
    )


def _plan_columns() -> tuple[Any, ...]:
    return (*_HEADER, PlanVersion.sections, _parties_json().label("parties"))


def _party(item: dict[str, Any]) -> PartyRow:
    return PartyRow(
        id=item["id"],
        role=ParticipantRole(item["role"]),
        organisation_id=item["organisation_id"],
        person_name=item["person_name"],
        is_required=bool(item["is_required"]),
        response=ResponseStatus(item["response"]),
        response_note=item["response_note"],
        responded_version_number=item["responded_version_number"],
        responded_at=from_json_time(item["responded_at"]),
    )


def _plan(row: sa.Row[Any]) -> PlanRow:
    parties = sorted(row.parties or (), key=lambda item: item["id"])
    return PlanRow(
        **{name: getattr(row, name) for name in _FIELDS},
        current_version=VersionRow(row.sections),
        participants=tuple(_party(item) for item in parties),
    )


def _patient(row: sa.Row[Any]) -> PatientRow:
    return PatientRow(
        row.patient_row_id,
        row.patient_kommunekode,
        row.patient_created_at,
        row.patient_gp_organisation_id,
    )


# ---------------------------------------------------------------------------- one plan
@functools.cache
def _one_plan(with_emergency: bool) -> sa.Select[Any]:
    """One plan, its current version and parties, and its patient's related organisations."""
    return (
        sa.select(*_plan_columns(), *_PATIENT, relations_json(with_emergency).label("relations"))
        .join(PlanVersion, _current_version())
        .join(Patient, Patient.id == Plan.patient_id)
        .where(Plan.id == sa.bindparam("plan_id", type_=sa.Integer))
    )


def _personal(actor: Actor) -> bool:
    """Emergency access is personal: only a user's own grants count (access.services)."""
    return actor.kind is ActorKind.USER and actor.id is not None


def read_plan(
    session: Session, actor: Actor, clock: Clock, *, plan_id: int, purpose: str = "read plan"
) -> PlanRow:
    """``queries.get_plan`` as rows: the current version of a plan, for anyone with a care relation to
    its patient (§13c), audited; an unknown id gets the refusal someone else's plan gets."""
    row = session.execute(
        _one_plan(_personal(actor)), {"plan_id": plan_id, "user_id": actor.id}
    ).one_or_none()
    if row is None:
        raise refuse_unknown(
            session,
            actor,
            clock,
            Permission.READ_PLAN,
            entity="plan",
            resource_type="Plan",
            key=plan_id,
        )
    decision = require_access_from_rows(
        session,
        actor,
        clock,
        _patient(row),
        relation_rows_json(row.relations),
        permission=Permission.READ_PLAN,
        resource=("Plan", plan_id),
    )
    plan = _plan(row)
    record_now(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.READ,
        resource_type="Plan",
        resource_id=plan.id,
        patient_id=plan.patient_id,
        purpose=purpose,
        details={"relation": decision.purpose},
    )
    return plan


# ---------------------------------------------------------------------------- a patient's plans
def _patient_plans(with_emergency: bool, query: PlanQuery | None) -> sa.Select[Any]:
    """The patient (one row even without plans) and its plans, each with its version and parties."""
    on = [Plan.patient_id == Patient.id]
    statement = sa.select(
        *_plan_columns(), *_PATIENT, relations_json(with_emergency).label("relations")
    ).select_from(Patient)
    if query is not None:
        on += plan_conditions(query)
    statement = (
        statement.outerjoin(Plan, sa.and_(*on))
        .outerjoin(PlanVersion, _current_version())
        .where(Patient.id == sa.bindparam("patient_id", type_=sa.Integer))
    )
    if query is None:
        return statement.order_by(Plan.created_at.desc(), Plan.id.desc())
    return statement.order_by(Plan.id.desc()).limit(query.limit)


@functools.cache
def _all_patient_plans(with_emergency: bool) -> sa.Select[Any]:
    return _patient_plans(with_emergency, None)


def patient_plans(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    patient_id: int,
    query: PlanQuery | None = None,
) -> list[PlanRow]:
    """``queries.list_patient_plans`` (every plan, newest first) or, with ``query``,
    ``queries.search_patient_plans`` (filtered, by id, one page) as rows: for anyone with a care relation
    to the patient (§13c); the search is audited (one entry naming the plans shown)."""
    if query is not None:
        kommunekode = check_query(query)
        if kommunekode is not None:  # the patient's own municipality: a filter on the patient row
            query = _without_kommunekode(query)
    personal = _personal(actor)
    statement = _all_patient_plans(personal) if query is None else _patient_plans(personal, query)
    rows = session.execute(statement, {"patient_id": patient_id, "user_id": actor.id}).all()
    if not rows:
        raise unknown_patient(session, actor, clock, patient_id, Permission.READ_PLAN)
    decision = require_access_from_rows(
        session,
        actor,
        clock,
        _patient(rows[0]),
        relation_rows_json(rows[0].relations),
        permission=Permission.READ_PLAN,
    )
    plans = [_plan(row) for row in rows if row.id is not None]
    if query is not None and kommunekode is not None and rows[0].patient_kommunekode != kommunekode:
        plans = []
    record_now(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type="Plan",
        patient_id=patient_id,
        purpose=decision.purpose,
        details={"plans": [p.id for p in plans]},
    )
    return plans


def _without_kommunekode(query: PlanQuery) -> PlanQuery:
    return PlanQuery(
        statuses=query.statuses,
        kind=query.kind,
        patient_id=query.patient_id,
        pathway_id=query.pathway_id,
        review_before=query.review_before,
        periods=query.periods,
        after_id=query.after_id,
        limit=query.limit,
    )


# ---------------------------------------------------------------------------- plan searches
def search_plans(session: Session, actor: Actor, clock: Clock, query: PlanQuery) -> list[PlanRow]:
    """``queries.search_plans`` as rows: the plans the actor's organisation is a party to, newest first,
    one page, in one statement; an audit entry per patient shown."""
    require(actor, Permission.READ_PLAN)
    kommunekode = check_query(query)
    if actor.role in NO_CLINICAL_CONTENT:
        raise PermissionDenied(f"role {actor.role} does not read clinical content")
    now = clock.now()
    grace = session.info.get("access_grace", DEFAULT_GRACE)
    party = sa.select(PlanParticipant.plan_id).where(
        PlanParticipant.organisation_id.in_(organisation_scope(session, actor))
    )
    statement = (
        sa.select(*_plan_columns())
        .join(PlanVersion, _current_version())
        .where(Plan.id.in_(party), *plan_conditions(query))
        .order_by(Plan.id.desc())
        .limit(query.limit)
    )
    if kommunekode is not None:
        statement = statement.join(Patient, Patient.id == Plan.patient_id).where(
            Patient.kommunekode == kommunekode
        )
    if not query.statuses or not all(s.is_open for s in query.statuses):
        # As queries.search_plans: ended and withdrawn plans stay visible for the grace period.
        statement = statement.where(sa.or_(Plan.ended_at.is_(None), Plan.ended_at >= now - grace))
    plans = [_plan(row) for row in session.execute(statement)]
    record_per_patient(
        session,
        actor=actor,
        at=now,
        action=AuditAction.SEARCH,
        resource_type="Plan",
        purpose="plan party: plan list",
        shown=[(p.patient_id, p.id) for p in plans],
        key="plans",
    )
    return plans
