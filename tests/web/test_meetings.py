"""The network meetings page: the list with actions, the forms (request, schedule, record, add an action,
mark it done), errors next to the fields, refusals, CSRF and the audit rows."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coordinator.meetings import services as meetings
from coordinator.meetings.models import MeetingAction, NetworkMeeting
from pathways.clock import FixedClock, to_copenhagen
from pathways.meetings import ActionStatus, MeetingStatus
from tests import scenario as sc
from tests.web.conftest import Login, form_post


def _page(world: sc.Scenario) -> str:
    return f"/patients/{world.patient.id}/meetings"


def _held(session: Session, clock: FixedClock, world: sc.Scenario) -> NetworkMeeting:
    meeting = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Udskrivelse nærmer sig"
    )
    return meetings.record_meeting(
        session,
        world.nurse,
        clock,
        meeting_id=meeting.id,
        held_on=to_copenhagen(clock.now()).date(),
        participants=["Mette Test", "Case Worker"],
        citizen_took_part=True,
        citizen_words="Jeg vil hjem.",
    )


def test_the_page_lists_meetings_with_actions_and_audits_the_read(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    meeting = _held(session, clock, world)
    meetings.add_action(
        session,
        world.nurse,
        clock,
        meeting_id=meeting.id,
        description="Søg bostøtte",
        owner_organisation_id=world.municipality.id,
        due_on=to_copenhagen(clock.now()).date() - timedelta(days=0),
    )
    client = login(world.case_worker)
    response = client.get(_page(world))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Netværksmøder" in html
    assert "Jeg vil hjem." in html
    assert "Søg bostøtte" in html
    assert "Københavns Kommune" in html
    assert "010170-****" in html  # CPR masked
    reads = sc.audit_entries(
        session, actor_id=world.case_worker.id, resource_type="NetworkMeeting", action="read"
    )
    assert [e.patient_id for e in reads] == [world.patient.id]
    assert reads[0].channel == "web"


def test_another_municipality_gets_the_not_found_page(
    session: Session, world: sc.Scenario, login: Login
) -> None:
    response = login(world.other_case_worker).get(_page(world))
    assert response.status_code == 404
    assert "Netværksmøder" not in response.get_data(as_text=True)
    assert sc.denials(session, world.other_case_worker)


def test_request_schedule_and_record_through_the_forms(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    client = login(world.nurse)
    page = _page(world)
    response = form_post(
        client, page, f"{page}/request", {"request-reason": "Udskrivelse nærmer sig"}
    )
    assert response.status_code == 302
    meeting = session.scalars(sa.select(NetworkMeeting)).one()
    assert meeting.status is MeetingStatus.REQUESTED
    day = to_copenhagen(clock.now()).date() + timedelta(days=2)
    response = form_post(
        client,
        page,
        f"{page}/{meeting.id}/schedule",
        {
            f"m{meeting.id}-schedule-version": "1",
            f"m{meeting.id}-schedule-day": day.isoformat(),
            f"m{meeting.id}-schedule-time": "10:00",
            f"m{meeting.id}-schedule-place": "Mødelokale 2",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#meeting-{meeting.id}")
    session.refresh(meeting)
    assert meeting.status is MeetingStatus.SCHEDULED
    assert meeting.place == "Mødelokale 2"
    response = form_post(
        client,
        page,
        f"{page}/{meeting.id}/record",
        {
            f"m{meeting.id}-record-version": str(meeting.version),
            f"m{meeting.id}-record-held_on": to_copenhagen(clock.now()).date().isoformat(),
            f"m{meeting.id}-record-participants": "Mette Test\nNurse",
            f"m{meeting.id}-record-citizen_took_part": "y",
            f"m{meeting.id}-record-citizen_words": "Jeg vil gerne hjem.",
        },
    )
    assert response.status_code == 302
    session.refresh(meeting)
    assert (meeting.status, meeting.participants, meeting.citizen_took_part) == (
        MeetingStatus.HELD,
        ["Mette Test", "Nurse"],
        True,
    )


def test_a_bad_record_shows_the_errors_next_to_the_fields_and_changes_nothing(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    meeting = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Samarbejde"
    )
    client = login(world.nurse)
    page = _page(world)
    tomorrow = to_copenhagen(clock.now()).date() + timedelta(days=1)
    response = form_post(
        client,
        page,
        f"{page}/{meeting.id}/record",
        {
            f"m{meeting.id}-record-version": "1",
            f"m{meeting.id}-record-held_on": tomorrow.isoformat(),
            f"m{meeting.id}-record-participants": "Nurse",
            f"m{meeting.id}-record-citizen_words": "Noget jeg skrev",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="m{meeting.id}-record-held_on-error"' in html
    assert "Mødet kan ikke registreres, før det er holdt." in html
    assert "Noget jeg skrev" in html  # what was typed is kept
    session.refresh(meeting)
    assert meeting.status is MeetingStatus.REQUESTED
    empty = form_post(client, page, f"{page}/request", {"request-reason": " "})
    assert empty.status_code == 422
    assert 'id="request-reason-error"' in empty.get_data(as_text=True)
    assert sc.count(session, NetworkMeeting) == 1


def test_add_an_action_and_mark_it_done(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    meeting = _held(session, clock, world)
    client = login(world.nurse)
    page = _page(world)
    prefix = f"m{meeting.id}-action"
    bad = form_post(
        client,
        page,
        f"{page}/{meeting.id}/actions",
        {
            f"{prefix}-description": "Søg bostøtte",
            f"{prefix}-owner_organisation_id": str(world.other_municipality.id),
            f"{prefix}-due_on": date(2026, 11, 1).isoformat(),
        },
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Ejeren skal være en organisation" in html
    assert "Fristen kan ikke ligge før mødet." in html
    assert sc.count(session, MeetingAction) == 0
    response = form_post(
        client,
        page,
        f"{page}/{meeting.id}/actions",
        {
            f"{prefix}-description": "Søg bostøtte",
            f"{prefix}-owner_organisation_id": str(world.municipality.id),
            f"{prefix}-due_on": date(2026, 12, 1).isoformat(),
        },
    )
    assert response.status_code == 302
    action = session.scalars(sa.select(MeetingAction)).one()
    done = form_post(
        client,
        page,
        f"/patients/{world.patient.id}/meeting-actions/{action.id}/done",
        {"version": str(action.version)},
    )
    assert done.status_code == 302
    session.refresh(action)
    assert action.status is ActionStatus.DONE
    again = form_post(
        client,
        page,
        f"/patients/{world.patient.id}/meeting-actions/{action.id}/done",
        {"version": str(action.version)},
    )
    assert again.status_code == 409  # an illegal transition: the Danish failure page
    assert "Ændringen kunne ikke gennemføres" in again.get_data(as_text=True)


def test_a_post_without_csrf_is_refused(session: Session, world: sc.Scenario, login: Login) -> None:
    client: FlaskClient = login(world.nurse)
    response = client.post(f"{_page(world)}/request", data={"request-reason": "x"})
    assert response.status_code == 400
    assert sc.count(session, NetworkMeeting) == 0


def test_another_municipality_cannot_change_a_meeting(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    meeting = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Samarbejde"
    )
    client = login(world.other_case_worker)
    # the stranger's CSRF token comes from a page of theirs (the start page's logout form)
    response = form_post(
        client,
        "/",
        f"{_page(world)}/{meeting.id}/cancel",
        {f"m{meeting.id}-cancel-version": "1", f"m{meeting.id}-cancel-cancel_reason": "x"},
    )
    assert response.status_code == 404
    session.refresh(meeting)
    assert meeting.status is MeetingStatus.REQUESTED
    assert [d[0] for d in sc.denials(session, world.other_case_worker)] == ["NetworkMeeting"]
