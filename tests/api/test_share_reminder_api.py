"""Sharing a reminder with an organisation in the patient's care, as a MedCom CareCommunication."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from coordinator.outbox.models import OutboxChannel, OutboxMessage
from coordinator.reminders.models import Reminder
from coordinator.reminders.scan import evaluate_pathways
from fhir_adapters.medcom import parse_care_communication
from pathways.audit import AuditAction
from pathways.clock import FixedClock
from pathways.legal import legal_basis
from pathways.reminders import GapRule, rule_title
from tests import scenario as sc
from tests.api.conftest import Login

KK_SOR, KK_GLN = "990300000016001", "5790000000036"


def _reminder(session: Session, world: sc.Scenario, clock: FixedClock) -> Reminder:
    """The ward's reminder that the §13a assessment is missing (two working days after admission)."""
    clock.advance(timedelta(days=3))
    evaluate_pathways(session, clock, [world.pathway.id])
    return session.scalars(
        sa.select(Reminder).where(Reminder.rule == GapRule.REQUIREMENT_NOT_ASSESSED.value)
    ).one()


def _messages(session: Session) -> list[OutboxMessage]:
    return list(
        session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.channel == OutboxChannel.FHIR_MESSAGE)
        )
    )


def test_a_reminder_goes_to_the_municipality_with_its_basis_and_no_clinical_content(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    world.municipality.sor_code, world.municipality.gln = KK_SOR, KK_GLN
    reminder = _reminder(session, world, clock)
    shared = login(world.nurse).post(
        f"/api/v1/reminders/{reminder.id}/share", json={"organisation_id": world.municipality.id}
    )
    assert shared.status_code == 202, shared.json
    assert shared.json["recipient"] == KK_GLN
    [message] = _messages(session)
    assert message.reminder_id == reminder.id
    assert message.patient_id == world.patient.id
    notice = parse_care_communication(message.payload)
    assert notice.category == "carecoordination"
    assert notice.cpr == world.patient.cpr  # MedCom names the patient in its Patient resource
    text = notice.segments[0].text
    assert f"R-{reminder.id}" in text
    assert rule_title(GapRule.REQUIREMENT_NOT_ASSESSED) in text
    assert "Det er endnu ikke vurderet, om der skal laves en udskrivningsaftale." in text
    assert "(haster)" in text  # overdue on arrival: urgent, named in Danish from the labels
    assert legal_basis(reminder.legal_basis).reference in text
    assert world.patient.cpr not in text
    assert world.patient.family_name not in text
    exports = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == AuditAction.EXPORT)
    ).all()
    assert [(e.resource_type, e.resource_id, e.patient_id) for e in exports] == [
        ("Reminder", str(reminder.id), world.patient.id)
    ]
    assert exports[0].details["organisation_id"] == world.municipality.id
    communication = login(world.nurse).get(f"/fhir/Communication/{message.id}")
    assert communication.status_code == 200, communication.json
    assert {"reference": f"Task/{reminder.id}"} in communication.json["about"]


def test_only_to_an_organisation_in_the_patients_care(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    world.other_municipality.sor_code, world.other_municipality.gln = KK_SOR, KK_GLN
    reminder = _reminder(session, world, clock)
    refused = login(world.nurse).post(
        f"/api/v1/reminders/{reminder.id}/share",
        json={"organisation_id": world.other_municipality.id},
    )
    assert refused.status_code == 422
    assert refused.json["errors"][0]["field"] == "organisation_id"
    assert "§13c" in refused.json["errors"][0]["message"]
    assert _messages(session) == []


def test_not_in_your_inbox_or_no_such_organisation_changes_nothing(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    world.municipality.sor_code, world.municipality.gln = KK_SOR, KK_GLN
    reminder = _reminder(session, world, clock)
    url = f"/api/v1/reminders/{reminder.id}/share"
    assert (
        login(world.other_nurse).post(url, json={"organisation_id": world.municipality.id})
    ).status_code == 404
    assert login(world.nurse).post(url, json={"organisation_id": 999_999}).status_code == 404
    bad = login(world.nurse).post(
        url, json={"organisation_id": world.municipality.id, "category": "gossip"}
    )
    assert bad.status_code == 422
    assert _messages(session) == []


def test_a_refused_reminder_share_is_audited_as_denied(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    from pathways.audit import AuditOutcome

    world.other_municipality.sor_code, world.other_municipality.gln = KK_SOR, KK_GLN
    reminder = _reminder(session, world, clock)
    refused = login(world.nurse).post(
        f"/api/v1/reminders/{reminder.id}/share",
        json={"organisation_id": world.other_municipality.id},
    )
    assert refused.status_code == 422
    denied = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.outcome == AuditOutcome.DENIED)
    ).all()
    assert [(e.resource_type, e.resource_id, e.action, e.actor_id) for e in denied] == [
        ("Reminder", str(reminder.id), AuditAction.EXPORT, world.nurse.id)
    ]
    assert _messages(session) == []
