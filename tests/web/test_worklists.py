"""The worklist start page: each role's list, urgency order, filters, CPR search, paging, htmx partials,
the audit rows of the patients shown, and a statement count that does not grow with the rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from coordinator.care_pathways.models import Pathway
from coordinator.care_pathways.services import admit_patient, record_pathway_event
from coordinator.contacts.services import assign_contact
from coordinator.db import get_database
from coordinator.demo import load_demo
from coordinator.patients.models import Patient
from coordinator.patients.services import register_patient
from coordinator.reminders.facts import load_facts
from coordinator.reminders.models import QueuedEvaluation, StoredRank
from coordinator.worklists.queries import WorklistQuery, list_kind, worklist
from pathways.audit import AuditAction
from pathways.clock import FixedClock
from pathways.plans import ParticipantRole
from pathways.stays import PathwayEventType
from pathways.worklists import StayRank, WorkState, stay_rank
from tests import scenario as sc
from tests.web.conftest import Login

_ROW = re.compile(r'data-testid="worklist-row" data-pathway="(\d+)"')


def _rows(html: str) -> list[int]:
    return [int(found) for found in _ROW.findall(html)]


def _patient(
    session: Session,
    clock: FixedClock,
    world: sc.Scenario,
    number: int,
    *,
    given: str = "Karl",
    kommunekode: str = "101",
    ward_id: int | None = None,
    days_ago: int = 3,
) -> int:
    """Another admitted patient (a made-up CPR number per ``number``): the new stay's id."""
    patient = register_patient(
        session,
        sc.SYSTEM,
        clock,
        given_name=given,
        family_name=f"Nummer{number}",
        kommunekode=kommunekode,
        cpr=f"0202{number:02d}{4000 + number:04d}"[:10],
        gp_organisation_id=world.gp_clinic.id,
    )
    stay = admit_patient(
        session,
        sc.SYSTEM,
        clock,
        patient_id=patient.id,
        ward_id=ward_id or world.ward.id,
        admitted_at=clock.now() - timedelta(days=days_ago),
        idempotency_key=f"admit-{number}",
    )
    return stay.id


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    statements: list[str] = []
    engine = get_database(app).engine

    def note(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


# ---------------------------------------------------------------- the ward
def test_nurse_sees_the_current_stays_of_her_ward_with_the_obligation(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    other_ward = _patient(session, clock, world, 1, ward_id=world.other_ward.id)
    page = login(world.nurse).get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Aktuelle indlæggelser på Afsnit 1" in html
    assert _rows(html) == [world.pathway.id]
    assert "Mette Test" in html
    assert "010170-****" in html
    assert "0101701235" not in html
    assert "010170-1235" not in html
    assert "Ikke vurderet (§ 13 a)" in html
    assert other_ward not in _rows(html)


def test_obligation_moves_from_required_to_draft_to_waiting_for_the_parties(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    nurse = login(world.nurse)
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    assert "Påkrævet, ikke påbegyndt" in nurse.get("/").text
    plan = sc.complete_draft(session, clock, world)
    assert ">Kladde<" in nurse.get("/").text
    sc.propose(session, clock, world, plan)
    state = re.search(r'data-testid="worklist-state">(.*?)</td>', nurse.get("/").text, re.S)
    assert state
    assert "Sendt til parterne" in state.group(1)
    assert "Venter på:" in state.group(1)
    assert "Bopælskommune" in state.group(1)
    assert "Egen læge" in state.group(1)


def test_missing_contact_persons_are_shown_per_sector(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    cells = re.findall(
        r'data-testid="worklist-contacts">(.*?)</td>', login(world.nurse).get("/").text, re.S
    )
    assert len(cells) == 1
    assert cells[0].count("badge-warning") == 3
    assign_contact(
        session,
        world.nurse,
        clock,
        patient_id=world.patient.id,
        organisation_id=world.ward.id,
        person_id=world.users["nurse"].id,
        valid_from=clock.now().date(),
    )
    cells = re.findall(
        r'data-testid="worklist-contacts">(.*?)</td>', login(world.nurse).get("/").text, re.S
    )
    assert cells[0].count("badge-warning") == 2


def test_rows_are_sorted_overdue_first_then_by_the_next_deadline(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    later = _patient(session, clock, world, 1)
    soon = _patient(session, clock, world, 2)
    for pathway_id, in_days in ((later, 9), (soon, 2), (world.pathway.id, -1)):
        record_pathway_event(
            session,
            world.nurse,
            clock,
            pathway_id=pathway_id,
            event_type=PathwayEventType.DISCHARGE_PLANNED,
            occurred_at=clock.now(),
            idempotency_key=f"planned-{pathway_id}",
            planned_discharge_on=(clock.now() + timedelta(days=in_days)).date(),
        )
    html = login(world.nurse).get("/").text
    assert _rows(html)[:3] == [world.pathway.id, soon, later]
    first = html[html.index('data-testid="worklist-row"') :]
    assert "Overskredet" in first[: first.index("</tr>")]


# ---------------------------------------------------------------- filters, search, paging
def test_filter_by_obligation_state_and_only_with_gaps(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    other = _patient(session, clock, world, 1)
    sc.assess_requirement(session, clock, world, receives_sel_support=False)
    nurse = login(world.nurse)
    assert _rows(nurse.get("/?state=not_required").text) == [world.pathway.id]
    assert _rows(nurse.get("/?state=not_assessed").text) == [other]
    assert set(_rows(nurse.get("/?state=bogus").text)) == {world.pathway.id, other}
    assert other in _rows(nurse.get("/?gaps=1").text)


def test_ward_filter_for_a_centre_and_a_foreign_ward_is_refused(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    other = _patient(session, clock, world, 1, ward_id=world.other_ward.id)
    centre_nurse = sc.staff_member(
        session, clock, organisation_id=world.centre.id, role="discharge_nurse", name="Centre Nurse"
    )
    client = login(centre_nurse)
    html = client.get("/").text
    assert set(_rows(html)) == {world.pathway.id, other}
    assert 'name="ward"' in html  # several wards: a filter
    assert _rows(client.get(f"/?ward={world.other_ward.id}").text) == [other]
    refused = login(world.nurse).get(f"/?ward={world.other_ward.id}")
    assert refused.status_code == 404
    assert 'name="ward"' not in login(world.nurse).get("/").text  # one ward: no filter


def test_search_by_name_and_by_whole_cpr_shows_the_cpr_masked(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    other = _patient(session, clock, world, 1, given="Karl")
    nurse = login(world.nurse)
    assert _rows(nurse.get("/?q=karl").text) == [other]
    assert _rows(nurse.get("/?q=mette test").text) == [world.pathway.id]
    found = nurse.get("/?q=010170-1235").text
    assert _rows(found) == [world.pathway.id]
    assert "010170-****" in found
    assert _rows(nurse.get("/?q=0101701235").text) == [world.pathway.id]
    assert _rows(nurse.get("/?q=0101701236").text) == []
    assert "Ingen indlæggelser passer" in nurse.get("/?q=%25").text


def test_paging_25_and_50_and_htmx_gets_only_the_results(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    for number in range(1, 30):
        _patient(session, clock, world, number, days_ago=number)
    nurse = login(world.nurse)
    first = nurse.get("/").text
    assert len(_rows(first)) == 25
    assert "30 indlæggelser" in first
    assert 'aria-current="page"' in first
    assert 'href="/?page=2"' in first
    second = nurse.get("/?page=2").text
    assert len(_rows(second)) == 5
    assert not set(_rows(first)) & set(_rows(second))
    assert len(_rows(nurse.get("/?per_page=50").text)) == 30
    assert len(_rows(nurse.get("/?per_page=7").text)) == 25  # not a choice: the default
    assert len(_rows(nurse.get("/?page=99").text)) == 5  # past the end: the last page
    partial = nurse.get("/?page=2", headers={"HX-Request": "true"})
    assert "<html" not in partial.text
    assert len(_rows(partial.text)) == 5
    assert "HX-Request" in partial.headers["Vary"]
    restored = nurse.get(
        "/?page=2", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restored.text


# ---------------------------------------------------------------- municipality and GP
def test_case_worker_sees_her_citizens_admitted_and_recently_discharged_with_tasks(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    elsewhere = _patient(session, clock, world, 1, kommunekode="851")
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    sc.proposed_plan(session, clock, world)
    html = login(world.case_worker).get("/").text
    assert "Københavns Kommune" in html
    assert _rows(html) == [world.pathway.id]
    tasks = re.search(r'data-testid="worklist-tasks">(.*?)</td>', html, re.S)
    assert tasks
    assert "Besvar forslaget" in tasks.group(1)
    assert "Udpeg fast kontaktperson" in tasks.group(1)
    assert elsewhere not in _rows(html)
    assert _rows(login(world.other_case_worker).get("/").text) == [elsewhere]

    sc.discharge(session, clock, world, by=world.nurse)
    clock.advance(timedelta(days=10))
    client = login(world.case_worker)
    discharged = client.get("/?stay=discharged").text
    assert _rows(discharged) == [world.pathway.id]
    assert "Ingen opfølgning booket" in discharged
    assert _rows(client.get("/?stay=current").text) == []
    clock.advance(timedelta(days=21))
    assert _rows(login(world.case_worker).get("/").text) == []  # more than 30 days ago


def test_gp_sees_the_plans_waiting_for_the_clinics_answer(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    plan = sc.proposed_plan(session, clock, world)
    html = login(world.gp).get("/").text
    assert _rows(html) == [world.pathway.id]
    assert "Besvar forslaget" in html
    assert _rows(login(world.other_gp).get("/").text) == []
    sc.accept(session, clock, world, plan, ParticipantRole.GP)
    assert "Besvar forslaget" not in login(world.gp).get("/").text


def test_administrators_get_their_menu_and_the_service_status(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    admin = sc.staff_member(
        session, clock, organisation_id=world.region.id, role="system_admin", name="Admin"
    )
    html = login(admin).get("/").text
    assert 'data-testid="start-links"' in html
    assert 'data-testid="service-status"' in html
    assert "1 patient" in html
    assert 'data-testid="worklist"' not in html


# ---------------------------------------------------------------- audit and cost
def test_every_patient_shown_is_audited_and_no_one_else(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    for number in range(1, 28):
        _patient(session, clock, world, number)
    login(world.nurse).get("/")
    entries = sc.audit_entries(
        session, action=AuditAction.SEARCH, resource_type="Pathway", actor_id=world.nurse.id
    )
    assert len(entries) == 25
    assert len({e.patient_id for e in entries}) == 25
    assert all(e.channel == "web" and e.purpose.startswith("worklist: ward") for e in entries)
    shown = {e.details["pathways"][0] for e in entries}
    assert len(shown) == 25


def test_statements_do_not_grow_with_the_rows(
    app: Flask, world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    nurse = login(world.nurse)
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    sc.proposed_plan(session, clock, world)
    nurse.get("/")  # warm up: the login's own look-ups
    with counted(app) as few:
        assert len(_rows(nurse.get("/").text)) == 1
    for number in range(1, 40):
        stay = _patient(session, clock, world, number)
        if number % 3 == 0:
            sc.draft(session, clock, world, pathway_id=stay)
    with counted(app) as many:
        assert len(_rows(nurse.get("/").text)) == 25
    assert len(many) == len(few), "\n".join(many)
    assert len(many) <= 30


def test_another_municipality_is_not_listed_by_search_either(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    _patient(session, clock, world, 1, kommunekode="851")
    cpr = session.scalar(sa.select(Patient.cpr).where(Patient.kommunekode == "851"))
    assert cpr
    assert _rows(login(world.case_worker).get(f"/?q={cpr}").text) == []


@pytest.mark.parametrize("role_key", ["chief", "ward_staff"])
def test_other_ward_roles_see_the_ward_list(
    world: sc.Scenario, login: Login, role_key: str
) -> None:
    actor = getattr(world, role_key)
    assert _rows(login(actor).get("/").text) == [world.pathway.id]


def test_each_demo_role_has_a_varied_worklist(session: Session, clock: FixedClock) -> None:
    demo = load_demo(session, clock)
    listed = 0
    for demo_login in demo.logins:
        actor = sc.actor_named(session, demo_login.username)
        if list_kind(actor) is None:
            continue
        found = worklist(session, actor, clock, WorklistQuery(per_page=50))
        listed += 1
        assert found.total > 0, demo_login.role
        assert len({r.work.state for r in found.rows}) >= 3, demo_login.role
    assert listed == 7


# ---------------------------------------------------------------- ranked from the stored ranks (ADR 0015)
def _everything(session: Session, actor: object, clock: FixedClock) -> list[object]:
    """What each of the lists an actor can ask for shows: rows, their order and the totals."""
    found = []
    queries = [WorklistQuery(per_page=50), WorklistQuery(per_page=25, page=2)]
    queries += [WorklistQuery(per_page=50, gaps_only=True)]
    queries += [WorklistQuery(per_page=50, state=state) for state in WorkState]
    for query in queries:
        listed = worklist(session, actor, clock, query)  # type: ignore[arg-type]
        found.append((listed.total, [(r.pathway_id, r.work) for r in listed.rows]))
    return found


def test_every_evaluation_stores_the_rank_the_facts_give(
    session: Session, clock: FixedClock
) -> None:
    load_demo(session, clock)
    session.commit()
    pathway_ids = list(session.scalars(sa.select(Pathway.id)))
    stored = {
        row.pathway_id: StayRank(row.state, row.due_at)
        for row in session.execute(sa.select(StoredRank)).scalars().all()
    }
    assert set(stored) == set(pathway_ids)
    assert len({r.state for r in stored.values()}) >= 4
    assert any(r.due_at is not None for r in stored.values())
    for facts in load_facts(session, pathway_ids):
        assert stored[facts.pathway_id] == stay_rank(facts, clock.now()), facts.pathway_id


def test_the_lists_are_the_same_with_stored_ranks_and_from_the_facts(
    session: Session, clock: FixedClock
) -> None:
    demo = load_demo(session, clock)
    session.commit()
    clock.advance(timedelta(days=3))  # some deadlines have passed since the ranks were stored
    actors = [sc.actor_named(session, d.username) for d in demo.logins]
    actors = [a for a in actors if list_kind(a) is not None]
    with_ranks = [_everything(session, actor, clock) for actor in actors]
    session.execute(sa.delete(StoredRank))
    assert [_everything(session, actor, clock) for actor in actors] == with_ranks


def test_a_stay_waiting_for_its_evaluation_is_ranked_from_its_facts(
    world: sc.Scenario, session: Session, clock: FixedClock
) -> None:
    session.commit()
    not_assessed = WorklistQuery(state=WorkState.NOT_ASSESSED)
    assert [r.pathway_id for r in worklist(session, world.nurse, clock, not_assessed).rows] == [
        world.pathway.id
    ]
    # a stored rank is trusted as it stands (here made stale behind the rules' back)...
    session.execute(
        sa.update(StoredRank)
        .where(StoredRank.pathway_id == world.pathway.id)
        .values(state=WorkState.AGREED)
    )
    assert worklist(session, world.nurse, clock, not_assessed).rows == ()
    # ...unless the stay waits in the evaluation queue: then its facts decide
    session.add(QueuedEvaluation(pathway_id=world.pathway.id, queued_at=clock.now()))
    session.flush()
    assert [r.pathway_id for r in worklist(session, world.nurse, clock, not_assessed).rows] == [
        world.pathway.id
    ]
