"""The patient page's reads: the header (age from the CPR number at the clock's today, municipality and
GP by name), the audited CPR reveal, and the timeline of a patient's stays and MedCom messages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from coordinator.access.services import AccessDenied, may_take_emergency_access
from coordinator.care_pathways.timeline import EntryKind, MessageState, patient_timeline
from coordinator.messaging.models import InboundMessage
from coordinator.outbox.models import OutboxChannel, OutboxStatus
from coordinator.outbox.services import enqueue
from coordinator.patients.queries import age_on, patient_header, reveal_cpr
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from pathways.stays import PathwayEventType
from tests import scenario as sc


@pytest.mark.parametrize(
    ("today", "age"),
    [
        (date(2026, 12, 31), 56),
        (date(2027, 1, 1), 57),
        (date(2026, 1, 1), 56),
        (date(2025, 12, 31), 55),
    ],
)
def test_age_counts_whole_years(today: date, age: int) -> None:
    assert age_on(date(1970, 1, 1), today) == age


def test_the_header_names_the_municipality_and_gp_and_the_read_is_audited(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    header = patient_header(session, world.case_worker, clock, patient_id=world.patient.id)

    assert (header.age, header.municipality_name, header.gp_name) == (
        56,
        "Københavns Kommune",
        "Lægehuset",
    )
    (read,) = sc.audit_entries(session, actor_id=world.case_worker.id, resource_type="Patient")
    assert (read.action, read.purpose) == (AuditAction.READ, "municipal_case: kommunekode 101")


def test_revealing_the_cpr_number_is_audited_and_refused_without_a_relation(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    assert reveal_cpr(session, world.gp, clock, patient_id=world.patient.id) == "0101701235"
    (entry,) = sc.audit_entries(session, actor_id=world.gp.id, purpose="reveal CPR")
    assert (entry.patient_id, entry.outcome) == (world.patient.id, AuditOutcome.ALLOWED)

    with pytest.raises(AccessDenied):
        reveal_cpr(session, world.other_gp, clock, patient_id=world.patient.id)


def test_the_timeline_holds_the_stays_events_and_the_medcom_messages_oldest_first(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    sc.record_event(
        session,
        clock,
        world,
        PathwayEventType.LEAVE_STARTED,
        by=world.nurse,
        key="l",
        ago=timedelta(days=2),
    )
    sc.record_event(
        session,
        clock,
        world,
        PathwayEventType.LEAVE_ENDED,
        by=world.nurse,
        key="r",
        ago=timedelta(days=1),
    )
    sc.discharge(session, clock, world, by=world.nurse)
    session.add(
        InboundMessage(
            message_id="m-1",
            event="hospital-notification-message",
            activity="STIN",
            outcome="ok",
            pathway_id=world.pathway.id,
            received_at=clock.now() - timedelta(days=5),
        )
    )
    message = enqueue(
        session,
        channel=OutboxChannel.FHIR_MESSAGE,
        idempotency_key="out-1",
        recipient="5790000000000",
        subject="Udskrivningsaftale",
        now=clock.now() + timedelta(minutes=1),
        patient_id=world.patient.id,
    )
    message.status = OutboxStatus.DELIVERED
    session.flush()

    timeline = patient_timeline(session, world.nurse, clock, patient_id=world.patient.id)

    assert [(e.kind, e.code, e.state) for e in timeline.entries] == [
        (EntryKind.EVENT, "admitted", None),
        (EntryKind.MESSAGE_IN, "hospital-notification-message STIN", MessageState.RECEIVED),
        (EntryKind.EVENT, "leave_started", None),
        (EntryKind.EVENT, "leave_ended", None),
        (EntryKind.EVENT, "discharged", None),
        (EntryKind.MESSAGE_OUT, "CareCommunication", MessageState.ACKNOWLEDGED),
    ]
    (audit,) = sc.audit_entries(session, actor_id=world.nurse.id, action=AuditAction.SEARCH)
    assert audit.details == {"timeline": [world.pathway.id]}
    with pytest.raises(AccessDenied):
        patient_timeline(session, world.other_case_worker, clock, patient_id=world.patient.id)


def test_clinical_staff_may_break_the_glass_others_may_not(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    auditor = sc.staff_member(
        session, clock, organisation_id=world.region.id, role="auditor", name="Revisor"
    )

    assert may_take_emergency_access(world.other_case_worker)
    assert may_take_emergency_access(world.nurse)
    assert not may_take_emergency_access(auditor)
    assert not may_take_emergency_access(sc.SYSTEM)
