"""Demo data: one network meeting, held three days ago, with an action the municipality has let pass its
due date (the reminder ``network_meeting_action_overdue`` is in the case worker's inbox) and one done.

Kept apart from the loader's stories so that other demo changes do not collide with it; idempotent (a
patient who already has a meeting gets none)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.accounts.services import actor_for
from coordinator.care_pathways.models import Pathway
from coordinator.meetings import services as meetings
from coordinator.meetings.models import NetworkMeeting
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from pathways.clock import COPENHAGEN, Clock, FixedClock
from pathways.organisations import OrganisationKind
from pathways.people import Role
from pathways.stays import PathwayStatus

DEMO_MUNICIPALITY = "101"  # the case worker's login works there


def add_network_meeting(session: Session, clock: Clock) -> int:
    """The meeting about the first admitted citizen of Københavns Kommune whose discharge is planned, at
    the discharge nurse's ward; answers how many meetings it created (0 or 1)."""
    found = session.execute(
        sa.select(Patient, Pathway)
        .join(Pathway, Pathway.patient_id == Patient.id)
        .where(
            Patient.kommunekode == DEMO_MUNICIPALITY,
            Pathway.status == PathwayStatus.ADMITTED,
            Pathway.planned_discharge_on.is_not(None),
        )
        .order_by(Patient.id)
        .limit(1)
    ).first()
    nurse = session.scalar(
        sa.select(User).where(User.role == Role.DISCHARGE_NURSE).order_by(User.id).limit(1)
    )
    municipality = session.scalar(
        sa.select(Organisation).where(
            Organisation.kind == OrganisationKind.MUNICIPALITY,
            Organisation.kommunekode == DEMO_MUNICIPALITY,
        )
    )
    if found is None or nurse is None or municipality is None:
        return 0
    patient, pathway = found
    if session.scalar(sa.select(NetworkMeeting.id).where(NetworkMeeting.patient_id == patient.id)):
        return 0
    by = actor_for(nurse)
    today = clock.now().astimezone(COPENHAGEN).date()

    def at(days_ago: int, hour: int) -> FixedClock:
        day = today - timedelta(days=days_ago)
        return FixedClock(datetime.combine(day, time(hour), tzinfo=COPENHAGEN))

    requested = at(4, 9)
    if requested.now() < pathway.admitted_at:
        requested = FixedClock(pathway.admitted_at)
    meeting = meetings.request_meeting(
        session,
        by,
        requested,
        patient_id=patient.id,
        reason="Udskrivelsen nærmer sig: bolig og bostøtte skal være på plads",
    )
    held = at(3, 13)
    meetings.record_meeting(
        session,
        by,
        held,
        meeting_id=meeting.id,
        held_on=held.now().date(),
        participants=[
            f"{patient.given_name} {patient.family_name} (borger)",
            "Birgitte Holm, udskrivningssygeplejerske",
            "Lene Kjær, sagsbehandler, Københavns Kommune",
        ],
        citizen_took_part=True,
        citizen_words="Jeg vil gerne hjem til min egen lejlighed, men jeg har brug for hjælp til "
        "at komme op om morgenen.",
        summary="Bostøtte efter serviceloven § 85 søges før udskrivelsen. Afsnittet sender "
        "medicinlisten til egen læge.",
    )
    overdue = meetings.add_action(
        session,
        by,
        held,
        meeting_id=meeting.id,
        description="Bevilge bostøtte efter serviceloven § 85",
        owner_organisation_id=municipality.id,
        due_on=today - timedelta(days=1),
    )
    sent = meetings.add_action(
        session,
        by,
        held,
        meeting_id=meeting.id,
        description="Sende medicinlisten til egen læge",
        owner_organisation_id=pathway.ward_id,
        due_on=today - timedelta(days=2),
    )
    meetings.mark_action(session, by, at(2, 11), action_id=sent.id, status="done")
    assert overdue.id != sent.id
    return 1
