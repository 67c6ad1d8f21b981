from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.accounts.passwords import password_errors, personal_words
from coordinator.care_pathways.models import Pathway
from coordinator.contacts.models import ContactAssignment
from coordinator.demo import load_demo
from coordinator.demo.synthetic import synthetic_cpr
from coordinator.messaging.outbound import notify_municipality_of_discharge
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.plans import queries as plan_queries
from coordinator.plans.models import Plan
from coordinator.reminders import services as reminder_services
from coordinator.reminders.scan import evaluate_pathways
from pathways.clock import FixedClock
from pathways.identifiers import validate_cpr, validate_gln, validate_sor
from pathways.organisations import OrganisationKind
from pathways.people import Role
from pathways.plans import PlanKind, PlanStatus
from pathways.stays import PathwayStatus
from tests import scenario as sc

TABLES = (Organisation, User, Patient, Pathway, Plan, ContactAssignment)


def _counts(session: Session) -> dict[str, int]:
    return {
        t.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(t)) or 0
        for t in TABLES
    }


def test_demo_data_set_is_complete(session: Session, clock: FixedClock) -> None:
    result = load_demo(session, clock)
    kinds = Counter(session.scalars(sa.select(Organisation.kind)))
    assert kinds[OrganisationKind.REGION] == 1
    assert kinds[OrganisationKind.PSYCHIATRIC_CENTRE] == 3
    assert kinds[OrganisationKind.WARD] >= 3
    assert kinds[OrganisationKind.MUNICIPALITY] == 4
    assert kinds[OrganisationKind.GP_CLINIC] == 6
    assert set(
        session.scalars(
            sa.select(Organisation.kommunekode).where(
                Organisation.kind == OrganisationKind.MUNICIPALITY
            )
        )
    ) == {"101", "147", "157", "219"}
    assert session.scalar(sa.select(sa.func.count(Patient.id))) == 40
    statuses = set(session.scalars(sa.select(Pathway.status)))
    assert statuses >= {
        PathwayStatus.ADMITTED,
        PathwayStatus.ON_LEAVE,
        PathwayStatus.DISCHARGED,
        PathwayStatus.CLOSED,
    }
    assert set(session.scalars(sa.select(Plan.status))) == set(PlanStatus)
    assert set(session.scalars(sa.select(Plan.kind))) == set(PlanKind)
    assert (
        session.scalar(
            sa.select(sa.func.count(Pathway.id)).where(Pathway.readmission_of_id.is_not(None))
        )
        > 0
    )
    # One demo login per role, each with a password printed once.
    assert {login.role for login in result.logins} == {r.value for r in Role}
    assert all(len(login.password) >= 12 for login in result.logins)


def test_demo_contains_the_gaps_reminders_must_find(session: Session, clock: FixedClock) -> None:
    load_demo(session, clock)
    today = clock.now().date()
    planned_in_two_days = session.scalars(
        sa.select(Pathway).where(
            Pathway.planned_discharge_on == today.fromordinal(today.toordinal() + 2)
        )
    ).all()
    assert planned_in_two_days
    discharged = session.scalars(
        sa.select(Pathway).where(Pathway.status == PathwayStatus.DISCHARGED)
    ).all()
    without_plan = [
        p
        for p in discharged
        if session.scalar(sa.select(Plan.id).where(Plan.pathway_id == p.id)) is None
    ]
    assert without_plan, "a pathway discharged without agreement must be in the demo"
    assert any(p.discharged_at and (clock.now() - p.discharged_at).days <= 1 for p in without_plan)
    sectors_per_patient = Counter(session.scalars(sa.select(ContactAssignment.patient_id)))
    assert min(sectors_per_patient.values()) < 3 < max(sectors_per_patient.values()) + 1


def test_demo_load_is_idempotent(session: Session, clock: FixedClock) -> None:
    load_demo(session, clock)
    before = _counts(session)
    again = load_demo(session, clock)
    assert _counts(session) == before
    assert again.created == {}
    assert again.logins == []
    assert again.summary() == "Demo data already loaded; nothing new created."


def test_reset_passwords_changes_hashes_not_rows(session: Session, clock: FixedClock) -> None:
    load_demo(session, clock)
    before = dict(
        session.execute(
            sa.select(User.username, User.password_hash).where(User.username.is_not(None))
        ).all()
    )
    result = load_demo(session, clock, reset_passwords=True)
    after = dict(
        session.execute(
            sa.select(User.username, User.password_hash).where(User.username.is_not(None))
        ).all()
    )
    assert before.keys() == after.keys() == {login.username for login in result.logins}
    assert all(before[u] != after[u] for u in before)
    users = {
        u.username: u for u in session.scalars(sa.select(User).where(User.username.in_(after)))
    }
    for login in result.logins:  # every printed password passes the policy an administrator meets
        user = users[login.username]
        words = personal_words(
            name=user.name,
            username=user.username,
            email=user.email,
            organisation=user.organisation.name,
        )
        assert password_errors("password", login.password, words) == []


def test_demo_cprs_are_date_valid_and_cannot_be_real(session: Session, clock: FixedClock) -> None:
    load_demo(session, clock)
    weights = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
    for cpr in session.scalars(sa.select(Patient.cpr)):
        assert cpr is not None
        assert validate_cpr(cpr) == cpr
        assert int(cpr[6]) <= 3  # born in the 1900s, when every CPR number passed modulus 11
        assert sum(int(d) * w for d, w in zip(cpr, weights, strict=True)) % 11 != 0


def test_synthetic_cpr_is_deterministic() -> None:
    from datetime import date

    assert synthetic_cpr(date(1970, 1, 1), 1000) == synthetic_cpr(date(1970, 1, 1), 1000)


def test_the_demo_logins_see_the_product(session: Session, clock: FixedClock) -> None:
    """As facts about the demo logins, through the services the API uses: the discharge nurse sees plans
    in every state on her own ward; the case worker sees admitted citizens whose discharge is planned,
    in her plan list and in her inbox; the municipality can be told, and the message goes out."""
    load_demo(session, clock)
    nurse = sc.actor_named(session, "sygeplejerske")
    mine = plan_queries.search_plans(session, nurse, clock, plan_queries.PlanQuery(limit=100))
    assert {p.status for p in mine} == set(PlanStatus)
    assert {p.pathway.ward_id for p in mine} == {nurse.organisation_id}

    case_worker = sc.actor_named(session, "sagsbehandler")
    theirs = plan_queries.search_plans(
        session, case_worker, clock, plan_queries.PlanQuery(limit=100)
    )
    coming = [
        p
        for p in theirs
        if p.pathway.status is PathwayStatus.ADMITTED and p.pathway.planned_discharge_on
    ]
    assert {p.status for p in coming} >= {PlanStatus.PROPOSED, PlanStatus.AGREED}
    assert {p.patient.kommunekode for p in theirs} == {"101"}
    open_pathways = session.scalars(
        sa.select(Pathway.id).where(Pathway.status != PathwayStatus.CLOSED)
    ).all()
    evaluate_pathways(session, clock, open_pathways)
    inbox = reminder_services.list_reminders(
        session, case_worker, clock, reminder_services.ReminderQuery(limit=100)
    )
    by_rule = Counter(r.rule for r in inbox)
    assert by_rule["municipality_not_notified"] >= 2  # the municipality shares the duty now
    assert by_rule["party_not_answered"] >= 1  # the proposed plan waits for her answer
    assert {r.owner_organisation_id for r in inbox} == {case_worker.organisation_id}

    planned = next(p.pathway for p in coming if p.pathway.ward_id == nurse.organisation_id)
    message = notify_municipality_of_discharge(
        session, nurse, clock, pathway_id=planned.id, config={}
    )
    municipality = session.scalars(
        sa.select(Organisation).where(
            Organisation.kind == OrganisationKind.MUNICIPALITY, Organisation.kommunekode == "101"
        )
    ).one()
    assert message.recipient == municipality.gln


def test_every_demo_organisation_that_exchanges_messages_has_an_address(
    session: Session, clock: FixedClock
) -> None:
    load_demo(session, clock)
    messaging = session.scalars(
        sa.select(Organisation).where(
            Organisation.kind.in_(
                [
                    OrganisationKind.WARD,
                    OrganisationKind.PSYCHIATRIC_CENTRE,
                    OrganisationKind.MUNICIPALITY,
                    OrganisationKind.GP_CLINIC,
                ]
            )
        )
    ).all()
    assert len(messaging) == 3 + 5 + 4 + 6
    for org in messaging:
        assert org.sor_code is not None, org
        assert org.gln is not None, org
        assert validate_sor(org.sor_code) == org.sor_code
        assert validate_gln(org.gln) == org.gln
        assert org.sor_code.startswith("9000")  # the synthetic range
    assert len({o.sor_code for o in messaging}) == len({o.gln for o in messaging}) == len(messaging)
    # a database loaded before the addresses existed gets them on the next load
    gp = next(o for o in messaging if o.kind is OrganisationKind.GP_CLINIC)
    sor, gln = gp.sor_code, gp.gln
    gp.sor_code = gp.gln = None
    session.flush()
    again = load_demo(session, clock)
    assert again.created == {"messaging addresses": 1}
    assert (gp.sor_code, gp.gln) == (sor, gln)
