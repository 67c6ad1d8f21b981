"""Audited plan reads as rows (coordinator.plans.reads, issue 21): the same answers, refusals and audit
entries as the ORM reads they replace at the REST and FHIR doors (coordinator.plans.queries)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import AccessDenied, grant_emergency_access
from coordinator.accounts.login import _user_and_scope
from coordinator.api.schemas.plans import PlanSchema
from coordinator.audit.models import AuditEntry
from coordinator.fhir.records import plan_record
from coordinator.organisations.lineage import organisation_scope
from coordinator.plans import answers, reads, services
from coordinator.plans import queries as orm
from pathways.clock import FixedClock
from pathways.errors import ValidationFailed
from pathways.plans import ParticipantRole, PlanStatus, ResponseStatus
from tests import scenario as sc


def _dump(plans: Any) -> Any:
    return PlanSchema(many=isinstance(plans, list)).dump(plans)


def _last_audit(session: Session, n: int = 1) -> list[tuple[Any, ...]]:
    entries = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(n)).all()
    return [
        (
            e.actor_kind,
            e.actor_id,
            e.actor_organisation_id,
            e.patient_id,
            e.resource_type,
            e.resource_id,
            e.action,
            e.purpose,
            e.outcome,
            e.details,
        )
        for e in entries
    ]


@pytest.fixture
def answered(session: Session, clock: FixedClock, world: sc.Scenario) -> Any:
    """A proposed plan the municipality has answered (a party with a response time and a note)."""
    plan = sc.proposed_plan(session, clock, world)
    clock.advance(timedelta(minutes=5))
    return answers.respond(
        session,
        world.case_worker,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        participant_id=sc.participant_id(plan, ParticipantRole.MUNICIPALITY),
        response="commented",
        note="Vi deltager gerne.",
    )


def test_read_plan_answers_and_audits_as_get_plan(
    session: Session, clock: FixedClock, world: sc.Scenario, answered: Any
) -> None:
    row = reads.read_plan(session, world.nurse, clock, plan_id=answered.id)
    row_audit = _last_audit(session)
    plan = orm.get_plan(session, world.nurse, clock, plan_id=answered.id)
    assert _dump(row) == _dump(plan)
    assert plan_record(row) == plan_record(plan)
    assert any(p.response is ResponseStatus.COMMENTED and p.responded_at for p in row.participants)
    # who, what, why: the same audit entry (the relation it cites included)
    assert row_audit == _last_audit(session)
    assert row_audit[0][6:8] == ("read", "read plan")
    assert row_audit[0][9]["relation"]


def test_read_plan_refuses_as_get_plan(
    session: Session, clock: FixedClock, world: sc.Scenario, answered: Any
) -> None:
    for plan_id in (answered.id, answered.id + 1000):  # someone else's plan, and no plan at all
        with pytest.raises(AccessDenied) as by_rows:
            reads.read_plan(session, world.other_nurse, clock, plan_id=plan_id)
        with pytest.raises(AccessDenied) as by_orm:
            orm.get_plan(session, world.other_nurse, clock, plan_id=plan_id)
        assert by_rows.value.message == by_orm.value.message
        assert (by_rows.value.reason, by_rows.value.patient_id, by_rows.value.resource_id) == (
            by_orm.value.reason,
            by_orm.value.patient_id,
            by_orm.value.resource_id,
        )


def test_emergency_access_opens_the_read_as_before(
    session: Session, clock: FixedClock, world: sc.Scenario, answered: Any
) -> None:
    grant_emergency_access(
        session,
        world.other_nurse,
        clock,
        patient_id=world.patient.id,
        reason="akut indlagt på anden afdeling, behandlingsplan skal ses",
    )
    row = reads.read_plan(session, world.other_nurse, clock, plan_id=answered.id)
    audit = _last_audit(session)
    orm.get_plan(session, world.other_nurse, clock, plan_id=answered.id)
    assert row.id == answered.id
    assert audit == _last_audit(session)
    assert "emergency" in audit[0][9]["relation"]


def test_patient_plans_answer_and_audit_as_the_orm_reads(
    session: Session, clock: FixedClock, world: sc.Scenario, answered: Any
) -> None:
    clock.advance(timedelta(hours=1))
    services.withdraw(
        session,
        world.nurse,
        clock,
        plan_id=answered.id,
        expected_version=answered.version,
        reason="erstattes af en ny plan",
    )
    clock.advance(timedelta(hours=1))
    sc.draft(session, clock, world)  # a second plan, newer
    rows = reads.patient_plans(session, world.gp, clock, patient_id=world.patient.id)
    audit = _last_audit(session)
    plans = orm.list_patient_plans(session, world.gp, clock, patient_id=world.patient.id)
    assert len(rows) == 2
    assert _dump(rows) == _dump(plans)
    assert audit == _last_audit(session)

    query = orm.PlanQuery(statuses=frozenset({PlanStatus.WITHDRAWN}), patient_id=world.patient.id)
    found = reads.patient_plans(session, world.gp, clock, patient_id=world.patient.id, query=query)
    audit = _last_audit(session)
    assert _dump(found) == _dump(orm.search_patient_plans(session, world.gp, clock, query))
    assert [p.id for p in found] == [answered.id]
    assert audit == _last_audit(session)

    elsewhere = orm.PlanQuery(patient_id=world.patient.id, kommunekode="0851")
    assert world.patient.kommunekode != "0851"
    assert (
        reads.patient_plans(session, world.gp, clock, patient_id=world.patient.id, query=elsewhere)
        == []
    )
    assert orm.search_patient_plans(session, world.gp, clock, elsewhere) == []
    with pytest.raises(ValidationFailed):
        reads.patient_plans(
            session,
            world.gp,
            clock,
            patient_id=world.patient.id,
            query=orm.PlanQuery(patient_id=world.patient.id, limit=0),
        )


def test_patient_plans_of_a_patient_without_plans_and_of_no_patient(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    assert reads.patient_plans(session, world.nurse, clock, patient_id=world.patient.id) == []
    assert _last_audit(session)[0][9] == {"plans": []}
    for patient_id in (world.patient.id, world.patient.id + 1000):
        with pytest.raises(AccessDenied) as by_rows:
            reads.patient_plans(session, world.other_nurse, clock, patient_id=patient_id)
        with pytest.raises(AccessDenied) as by_orm:
            orm.list_patient_plans(session, world.other_nurse, clock, patient_id=patient_id)
        assert (by_rows.value.message, by_rows.value.reason) == (
            by_orm.value.message,
            by_orm.value.reason,
        )


def test_search_plans_answers_and_audits_as_the_orm_search(
    session: Session, clock: FixedClock, world: sc.Scenario, answered: Any
) -> None:
    query = orm.PlanQuery(
        statuses=frozenset(s for s in PlanStatus if s.is_open),
        kommunekode=world.patient.kommunekode,
    )
    rows = reads.search_plans(session, world.case_worker, clock, query)
    audit = _last_audit(session)
    plans = orm.search_plans(session, world.case_worker, clock, query)
    assert [p.id for p in rows] == [answered.id]
    assert _dump(rows) == _dump(plans)
    assert audit == _last_audit(session)
    assert reads.search_plans(session, world.other_case_worker, clock, query) == []


def test_the_user_and_its_organisations_come_in_one_statement(
    session: Session, world: sc.Scenario
) -> None:
    rows = session.execute(_user_and_scope(), {"user_id": world.nurse.id}).all()
    assert {r[0].id for r in rows} == {world.nurse.id}
    session.info.pop("organisation_scopes", None)
    assert frozenset(r[1] for r in rows) == organisation_scope(session, world.nurse)
    assert {world.ward.id, world.centre.id, world.region.id} <= frozenset(r[1] for r in rows)
