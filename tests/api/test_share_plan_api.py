"""Sharing a plan as a MedCom CareCommunication, and the Acknowledgement that marks it delivered."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.care_pathways.models import PathwayFact
from coordinator.outbox.models import OutboxChannel, OutboxMessage, OutboxStatus
from coordinator.plans import services as plans
from coordinator.reminders.models import Reminder
from fhir_adapters.medcom import (
    AckCode,
    MedComOrganization,
    build_acknowledgement,
    parse_care_communication,
    read_envelope,
)
from pathways.clock import FixedClock
from pathways.plans import PlanKind
from pathways.stays import PathwayFactType
from tests import scenario as sc
from tests.api.conftest import Login

GP_SOR, GP_GLN = "990200000016003", "5790000000029"


def _plan(session: Session, world: sc.Scenario, clock: FixedClock) -> int:
    world.gp_clinic.sor_code, world.gp_clinic.gln = GP_SOR, GP_GLN
    plan = plans.create_draft(
        session, world.nurse, clock, pathway_id=world.pathway.id, kind=PlanKind.DISCHARGE_AGREEMENT
    )
    session.flush()
    return plan.id


def test_share_queues_a_care_communication_and_an_ack_marks_it_delivered(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    plan_id = _plan(session, world, clock)
    client = login(world.nurse)
    shared = client.post(
        f"/api/v1/plans/{plan_id}/share",
        json={"organisation_id": world.gp_clinic.id, "category": "discharge"},
    )
    assert shared.status_code == 202, shared.json
    assert shared.json["recipient"] == GP_GLN
    message = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.channel == OutboxChannel.FHIR_MESSAGE)
    ).one()
    notice = parse_care_communication(message.payload)
    assert notice.category == "discharge"
    assert notice.cpr == "0101701235"
    assert "Udskrivningsaftale" in notice.segments[0].text
    facts = session.scalars(sa.select(PathwayFact.type)).all()
    assert facts == [PathwayFactType.PLAN_SHARED]

    message.status = OutboxStatus.SENT  # as if the gateway took it
    session.flush()
    gp = MedComOrganization(sor=GP_SOR, gln=GP_GLN, name="Lægehuset")
    ack = build_acknowledgement(
        read_envelope(message.payload),
        code=AckCode.OK,
        outcome=None,
        sender=gp,
        now=clock.now(),
        message_id="5d0c2d5e-7c5b-4e63-9d0e-0d9b7a1e0001",
    )
    answer = client.post("/fhir/$process-message", json=ack)
    assert answer.status_code == 200
    assert answer.json["resourceType"] == "OperationOutcome"  # an ack is never acknowledged
    session.refresh(message)
    assert message.status is OutboxStatus.DELIVERED
    assert PathwayFactType.PLAN_DELIVERED in session.scalars(sa.select(PathwayFact.type)).all()
    again = client.post("/fhir/$process-message", json=ack)
    assert again.status_code == 200
    assert session.scalar(sa.select(sa.func.count(PathwayFact.id))) == 2


def test_an_organisation_without_a_messaging_address_cannot_receive(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    plan_id = _plan(session, world, clock)
    refused = login(world.nurse).post(
        f"/api/v1/plans/{plan_id}/share", json={"organisation_id": world.municipality.id}
    )
    assert refused.status_code == 422
    assert refused.json["errors"][0]["field"] == "organisation_id"


def test_only_parties_share(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    plan_id = _plan(session, world, clock)
    denied = login(world.other_nurse).post(
        f"/api/v1/plans/{plan_id}/share", json={"organisation_id": world.gp_clinic.id}
    )
    assert denied.status_code == 403


def test_the_municipality_is_told_the_discharge_date_once(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    from coordinator.reminders.scan import evaluate_pathways

    world.municipality.sor_code, world.municipality.gln = "990300000016001", "5790000000036"
    client = login(world.nurse)
    url = f"/api/v1/pathways/{world.pathway.id}/notify-municipality"
    early = client.post(url, json={})
    assert early.status_code == 422
    assert early.json["errors"][0]["field"] == "planned_discharge_on"
    sc.plan_discharge(session, clock, world, in_days=7)
    evaluate_pathways(session, clock, [world.pathway.id])
    rules = {r.rule for r in session.scalars(sa.select(Reminder)) if r.status.value == "open"}
    assert "municipality_not_notified" in rules
    first = client.post(url, json={})
    assert first.status_code == 202, first.json
    again = client.post(url, json={})
    assert again.json["message_id"] == first.json["message_id"]
    message = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.channel == OutboxChannel.FHIR_MESSAGE)
    ).one()
    notice = parse_care_communication(message.payload)
    assert notice.category == "discharge"
    evaluate_pathways(session, clock, [world.pathway.id])
    closed = session.scalars(
        sa.select(Reminder)
        .where(Reminder.rule == "municipality_not_notified")
        .order_by(Reminder.obligation_key)
    ).all()
    for row in closed:
        session.refresh(row)
    # the ward's reminder and the municipality's own (it shares the duty) close together
    assert [(r.obligation_key, r.owner_organisation_id, r.status.value) for r in closed] == [
        ("municipality", world.ward.id, "resolved"),
        ("municipality:party:municipality", world.municipality.id, "resolved"),
    ]
    assert login(world.other_nurse).post(url, json={}).status_code == 403


def test_a_new_discharge_date_must_be_told_again(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    from coordinator.reminders.scan import evaluate_pathways

    world.municipality.sor_code, world.municipality.gln = "990300000016001", "5790000000036"
    url = f"/api/v1/pathways/{world.pathway.id}/notify-municipality"

    def plan_discharge(days: int, key: str) -> None:
        sc.plan_discharge(session, clock, world, in_days=days, key=key)
        evaluate_pathways(session, clock, [world.pathway.id])

    def status() -> str:
        rows = session.scalars(
            sa.select(Reminder).where(Reminder.rule == "municipality_not_notified")
        ).all()
        for row in rows:
            session.refresh(row)
        assert len(rows) == 2  # the ward's and the municipality's
        (found,) = {row.status.value for row in rows}
        return found

    plan_discharge(7, "planned-1")
    assert login(world.nurse).post(url, json={}).status_code == 202
    evaluate_pathways(session, clock, [world.pathway.id])
    assert status() == "resolved"
    clock.advance(timedelta(hours=2))
    plan_discharge(10, "planned-2")  # the date moved: the municipality must hear the new one
    assert status() == "open"
    assert login(world.nurse).post(url, json={}).status_code == 202
    evaluate_pathways(session, clock, [world.pathway.id])
    assert status() == "resolved"
    assert (
        session.scalar(
            sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.channel == OutboxChannel.FHIR_MESSAGE
            )
        )
        == 2
    )


def _denied(session: Session) -> list[tuple[str, str, int | None, str, str]]:
    from coordinator.audit.models import AuditEntry
    from pathways.audit import AuditOutcome

    rows = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.outcome == AuditOutcome.DENIED)
        .order_by(AuditEntry.id)
    )
    return [
        (e.resource_type, e.resource_id, e.patient_id, e.action.value, e.details["reason"])
        for e in rows
    ]


def test_a_plan_goes_only_to_an_organisation_in_the_patients_care(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    """§13c: the same rule as for sharing a reminder (422 naming the field), and the refusal is kept
    in the audit log as DENIED; nothing is queued, no fact recorded."""
    plan_id = _plan(session, world, clock)
    world.other_ward.sor_code, world.other_ward.gln = "990400000016009", "5790000000043"
    session.flush()
    refused = login(world.nurse).post(
        f"/api/v1/plans/{plan_id}/share", json={"organisation_id": world.other_ward.id}
    )
    assert refused.status_code == 422, refused.json
    assert refused.json["errors"] == [
        {
            "field": "organisation_id",
            "message": "Afsnit 2 has no part in this patient's care: nothing may be shared (§13c)",
            "code": "forbidden",
        }
    ]
    assert session.scalars(sa.select(OutboxMessage)).all() == []
    assert session.scalars(sa.select(PathwayFact)).all() == []
    assert _denied(session) == [
        (
            "Plan",
            str(plan_id),
            world.patient.id,
            "export",
            f"share with organisation {world.other_ward.id}, which has no part in the care",
        )
    ]
