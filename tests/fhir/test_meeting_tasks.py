"""The overdue action of a network meeting is a reminder, and so a FHIR Task: found by its gap-rule code,
named by the rule's title (Task.code.text, in the reader's language), owned by the action's organisation;
the gap-rule CodeSystem knows the rule."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from coordinator.meetings import services as meetings
from coordinator.reminders.scan import evaluate_pathways
from fhir_adapters.codesystems import GAP_RULE_ID, GAP_RULE_SYSTEM
from pathways.clock import COPENHAGEN, FixedClock
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import ok

RULE = "network_meeting_action_overdue"


def test_an_overdue_meeting_action_is_a_task_with_the_rule_s_title(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    meeting = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Udskrivelse"
    )
    meetings.record_meeting(
        session,
        world.nurse,
        clock,
        meeting_id=meeting.id,
        held_on=clock.now().astimezone(COPENHAGEN).date(),
        participants=["Nurse"],
        citizen_took_part=False,
    )
    due = date(2026, 11, 27)
    action = meetings.add_action(
        session,
        world.nurse,
        clock,
        meeting_id=meeting.id,
        description="Søg bostøtte",
        owner_organisation_id=world.municipality.id,
        due_on=due,
    )
    session.commit()
    later = FixedClock(datetime.combine(due + timedelta(days=1), time(9), tzinfo=COPENHAGEN))
    evaluate_pathways(session, later, [world.pathway.id])
    session.commit()
    reminder = sc.reminders_by_key(session)[f"{RULE}|meeting:{meeting.id}:action:{action.id}"]
    case_worker = login(world.case_worker)
    bundle = ok(case_worker.get(f"Task?code={GAP_RULE_SYSTEM}|{RULE}"))
    tasks = [e["resource"] for e in bundle.get("entry", [])]
    assert [t["id"] for t in tasks] == [str(reminder.id)]
    task = ok(case_worker.get(f"Task/{reminder.id}"))
    assert task["code"] == {
        "coding": [{"system": GAP_RULE_SYSTEM, "code": RULE}],
        "text": "En handling aftalt på et netværksmøde er ikke udført til tiden",
    }
    assert task["extension"][0]["valueReference"] == {
        "reference": f"Organization/{world.municipality.id}"
    }
    assert "2026-11-27" in task["description"] or "27.11.2026" in task["description"]
    english = ok(case_worker.get(f"Task/{reminder.id}?lang=en"))
    assert english["code"]["text"] == "An action agreed at a network meeting is overdue"
    system = ok(case_worker.get(f"CodeSystem/{GAP_RULE_ID}"))
    assert system["url"] == GAP_RULE_SYSTEM
    assert RULE in [c["code"] for c in system["concept"]]
