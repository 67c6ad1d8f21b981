"""A realistic, synthetic demo data set for Region Hovedstaden (idempotent: keyed by natural identifiers).

Every CPR number below has a valid birth date before 2007 and deliberately FAILS the modulus-11 check that
all CPR numbers issued before 2007 pass: none of them can belong to a real person.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.accounts.passwords import personal_words, random_password
from coordinator.accounts.services import actor_for, create_staff_member, set_password
from coordinator.care_pathways.models import Pathway
from coordinator.care_pathways.services import admit_patient, record_pathway_event
from coordinator.contacts.models import ContactAssignment
from coordinator.demo.meetings import add_network_meeting
from coordinator.demo.synthetic import (
    CENTRES,
    FAMILY,
    GIVEN,
    GP_CLINICS,
    GP_SOR_BASE,
    MUNICIPALITIES,
    MUNICIPALITY_SOR_BASE,
    demo_gln,
    demo_sections,
    demo_sor,
    synthetic_cpr,
)
from coordinator.organisations.models import Organisation
from coordinator.organisations.services import create_organisation, update_organisation
from coordinator.patients.models import Patient
from coordinator.patients.services import register_patient
from coordinator.plans.answers import respond
from coordinator.plans.models import Plan
from coordinator.plans.requirement import assess_requirement
from coordinator.plans.services import (
    create_draft,
    edit_plan,
    end_plan,
    propose,
    record_participation,
    start_revision,
    withdraw,
)
from coordinator.reminders.services import record_pathway_fact
from pathways.agreements import EndReason
from pathways.clock import COPENHAGEN, Clock, FixedClock
from pathways.identifiers import LPR3_SYSTEMS
from pathways.organisations import Sector
from pathways.people import Actor, Role
from pathways.plans import (
    ParticipantRole,
    PlanKind,
    PlanStatus,
    ResponseStatus,
)
from pathways.stays import EventSource, PathwayEventType, PathwayFactType

LOADER = Actor.system("demo-loader")
EPISODE_NAMESPACE = uuid.UUID(
    "6f1c3a52-8d4e-4c8e-9a57-0c1d2e3f4a5b"
)  # fixed: same ids on every run


@dataclass
class DemoLogin:
    username: str
    password: str
    role: str
    organisation: str


@dataclass
class DemoResult:
    created: dict[str, int] = field(default_factory=dict)
    logins: list[DemoLogin] = field(default_factory=list)

    def count(self, what: str) -> None:
        self.created[what] = self.created.get(what, 0) + 1

    def summary(self) -> str:
        if not self.created:
            return "Demo data already loaded; nothing new created."
        parts = ", ".join(f"{n} {what}" for what, n in sorted(self.created.items()))
        return f"Demo data loaded: {parts}."


class _Loader:
    def __init__(self, session: Session, clock: Clock, reset_passwords: bool) -> None:
        self.session = session
        self.clock = clock
        self.reset_passwords = reset_passwords
        self.result = DemoResult()
        self.now = clock.now()
        self.today = self.now.astimezone(COPENHAGEN).date()

    # ------------------------------------------------------------------ helpers
    def _org(self, *, key: dict[str, str], **kwargs: object) -> Organisation:
        column, value = next(iter(key.items()))
        existing = self.session.scalar(
            sa.select(Organisation).where(
                getattr(Organisation, column) == value, Organisation.name == kwargs["name"]
            )
        )
        if existing is not None:
            self._messaging_address(existing, kwargs)
            return existing
        self.result.count("organisations")
        return create_organisation(self.session, LOADER, self.clock, **key, **kwargs)  # type: ignore[arg-type]

    def _messaging_address(self, org: Organisation, wanted: dict[str, object]) -> None:
        """A demo organisation loaded before it had a messaging address gets it now (once)."""
        missing = {
            f: wanted[f] for f in ("sor_code", "gln") if wanted.get(f) and getattr(org, f) is None
        }
        if missing:
            update_organisation(
                self.session,
                LOADER,
                self.clock,
                organisation_id=org.id,
                expected_version=org.version,
                changes=missing,
            )
            self.result.count("messaging addresses")

    def _staff(
        self,
        org: Organisation,
        name: str,
        role: Role,
        email: str,
        *,
        title: str = "",
        login: str | None = None,
    ) -> User:
        user = self.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            words = personal_words(name=name, username=login, email=email, organisation=org.name)
            password = random_password(words) if login else None
            user = create_staff_member(
                self.session,
                LOADER,
                self.clock,
                organisation_id=org.id,
                name=name,
                role=role,
                title=title,
                email=email,
                phone="+45 70 00 00 00",
                username=login,
                password=password,
            )
            self.result.count("staff")
            if login and password:
                self.result.logins.append(DemoLogin(login, password, role.value, org.name))
        elif login and self.reset_passwords:
            password = random_password(
                personal_words(
                    name=user.name, username=login, email=user.email, organisation=org.name
                )
            )
            set_password(self.session, LOADER, self.clock, user, password)
            self.result.logins.append(DemoLogin(login, password, role.value, org.name))
        return user

    def _at(self, days_ago: int, hour: int = 10) -> datetime:
        local = datetime.combine(
            self.today - timedelta(days=days_ago), time(hour), tzinfo=COPENHAGEN
        )
        return local.astimezone(self.now.tzinfo)

    # ------------------------------------------------------------------ organisations and people
    def organisations(self) -> None:
        self.region = self._org(
            key={"region_code": "DK-84"},
            name="Region Hovedstaden",
            kind="region",
            gln=demo_gln(1),
            email="psykiatri@regionh.example",
        )
        self.wards: list[Organisation] = []
        for centre_name, centre_no, wards in CENTRES:
            centre = self._org(
                key={"sor_code": demo_sor(centre_no)},
                name=centre_name,
                kind="psychiatric_centre",
                parent_id=self.region.id,
                gln=demo_gln(centre_no * 10),
            )
            for ward_name, ward_no in wards:
                self.wards.append(
                    self._org(
                        key={"sor_code": demo_sor(ward_no * 100)},
                        name=ward_name,
                        kind="ward",
                        parent_id=centre.id,
                        gln=demo_gln(ward_no * 10 + 1),
                        email=f"afsnit{ward_no}@regionh.example",
                    )
                )
        self.municipalities: dict[str, Organisation] = {}
        self.social_units: dict[str, Organisation] = {}
        for code, name in MUNICIPALITIES:
            muni = self._org(
                key={"kommunekode": code},
                name=name,
                kind="municipality",
                sor_code=demo_sor(MUNICIPALITY_SOR_BASE + int(code)),
                gln=demo_gln(500 + int(code)),
                email=f"psykiatri@k{code}.example",
            )
            self.municipalities[code] = muni
            self.social_units[code] = self._org(
                key={"kommunekode": code},
                name=f"Socialpsykiatrien, {name}",
                kind="municipal_unit",
                parent_id=muni.id,
                email=f"socialpsykiatri@k{code}.example",
            )
        self.gp_clinics = [
            self._org(
                key={"ydernummer": yder},
                name=name,
                kind="gp_clinic",
                sor_code=demo_sor(GP_SOR_BASE + i),
                gln=demo_gln(900 + i),
            )
            for i, (name, yder) in enumerate(GP_CLINICS)
        ]

    def people(self) -> None:
        ward, muni, gp = self.wards[0], self.municipalities["101"], self.gp_clinics[0]
        logins = [
            (
                ward,
                "Birgitte Holm",
                Role.DISCHARGE_NURSE,
                "sygeplejerske",
                "Udskrivningssygeplejerske",
            ),
            (ward, "Henrik Lund", Role.CHIEF_PHYSICIAN, "overlaege", "Overlæge"),
            (ward, "Sara Dahl", Role.WARD_STAFF, "afsnit", "Social- og sundhedsassistent"),
            (muni, "Lene Kjær", Role.CASE_WORKER, "sagsbehandler", "Sagsbehandler"),
            (
                self.social_units["101"],
                "Tobias Friis",
                Role.SUPPORT_WORKER,
                "bostoette",
                "Bostøttemedarbejder",
            ),
            (gp, "Anne Vestergaard", Role.GP, "laege", "Praktiserende læge"),
            (gp, "Julie Bach", Role.PRACTICE_STAFF, "klinikpersonale", "Sekretær"),
            (self.region, "Niels Krogh", Role.ORG_ADMIN, "orgadmin", "Administrator"),
            (self.region, "Kasper Møller", Role.SYSTEM_ADMIN, "sysadmin", "Systemadministrator"),
            (self.region, "Eva Lindberg", Role.AUDITOR, "revisor", "Revisor"),
        ]
        self.login_users = {
            role: self._staff(
                org, name, role, f"{login}@demo.carepath.example", title=title, login=login
            )
            for org, name, role, login, title in logins
        }
        self.nurses = [self.login_users[Role.DISCHARGE_NURSE]] + [
            self._staff(
                w,
                f"Sygeplejerske {w.name.split(',')[0]}",
                Role.DISCHARGE_NURSE,
                f"sygeplejerske.{w.id}@demo.carepath.example",
                title="Sygeplejerske",
            )
            for w in self.wards[1:]
        ]
        self.case_workers = {
            code: self._staff(
                m,
                f"Sagsbehandler {m.name}",
                Role.CASE_WORKER,
                f"sagsbehandler.{code}@demo.carepath.example",
                title="Sagsbehandler",
            )
            for code, m in self.municipalities.items()
        }
        self.gps = [self.login_users[Role.GP]] + [
            self._staff(
                c,
                f"Læge {c.name}",
                Role.GP,
                f"laege.{c.ydernummer}@demo.carepath.example",
                title="Praktiserende læge",
            )
            for c in self.gp_clinics[1:]
        ]

    # ------------------------------------------------------------------ patients and their pathways
    def patients(self) -> None:
        codes = list(self.municipalities)
        for i in range(40):
            birth = date(1955 + (i * 7) % 45, 1 + (i * 5) % 12, 1 + (i * 11) % 28)
            cpr = synthetic_cpr(birth, 1000 + i * 37)
            patient = self.session.scalar(sa.select(Patient).where(Patient.cpr == cpr))
            if patient is None:
                patient = register_patient(
                    self.session,
                    LOADER,
                    self.clock,
                    given_name=GIVEN[i % len(GIVEN)],
                    family_name=FAMILY[(i * 3) % len(FAMILY)],
                    kommunekode=_home_municipality(i, codes),
                    cpr=cpr,
                    gp_organisation_id=self.gp_clinics[i % len(self.gp_clinics)].id,
                    is_protected=(i == 13),
                    purpose="demo data",
                )
                self.result.count("patients")
            self._pathway_story(i, patient)
            self._assessments(i, patient)
            self._network_meeting(i, patient)
            self._contacts(i, patient)

    def _episode(self, i: int, stay: int) -> tuple[str, str]:
        return LPR3_SYSTEMS[0], f"urn:uuid:{uuid.uuid5(EPISODE_NAMESPACE, f'demo-{i}-{stay}')}"

    def _admit(
        self,
        i: int,
        patient: Patient,
        stay: int,
        days_ago: int,
        readmission_of: Pathway | None = None,
    ) -> Pathway:
        system, value = self._episode(i, stay)
        existing = self.session.scalar(sa.select(Pathway).where(Pathway.episode_value == value))
        if existing is not None:
            return existing
        self.result.count("pathways")
        return admit_patient(
            self.session,
            LOADER,
            self.clock,
            patient_id=patient.id,
            ward_id=self.wards[_ward_index(i, len(self.wards))].id,
            admitted_at=self._at(days_ago, 14),
            idempotency_key=f"demo:{value}:admitted",
            source=EventSource.DEMO,
            episode_system=system,
            episode_value=value,
            readmission_of_id=readmission_of.id if readmission_of else None,
        )

    def _event(
        self,
        pathway: Pathway,
        event_type: PathwayEventType,
        days_ago: int,
        planned: date | None = None,
    ) -> None:
        record_pathway_event(
            self.session,
            LOADER,
            self.clock,
            pathway_id=pathway.id,
            event_type=event_type,
            occurred_at=self._at(days_ago, 11),
            idempotency_key=f"demo:{pathway.episode_value}:{event_type.value}",
            source=EventSource.DEMO,
            planned_discharge_on=planned,
        )

    def _pathway_story(self, i: int, patient: Patient) -> None:  # noqa: PLR0912 - a branch per story
        """Ten stories, one per patient in turn; plans go through the same use cases as real ones."""
        E = PathwayEventType  # noqa: N806
        DA, CP = PlanKind.DISCHARGE_AGREEMENT, PlanKind.COORDINATION_PLAN  # noqa: N806
        story = i % 10
        if story in (0, 1):  # admitted; a draft agreement for one of them
            pw = self._admit(i, patient, 1, 3 + i % 4)
            if story == 1:
                self._plan(pw, DA, PlanStatus.DRAFT, days_ago=1)
        elif story == 2:  # on leave
            pw = self._admit(i, patient, 1, 12)
            self._event(pw, E.LEAVE_STARTED, 1)
        elif story in (3, 4):  # discharge planned in 2 days; a proposed agreement for one of them
            pw = self._admit(i, patient, 1, 9)
            self._event(pw, E.DISCHARGE_PLANNED, 1, planned=self.today + timedelta(days=2))
            if story == 3:
                self._plan(pw, DA, PlanStatus.PROPOSED, days_ago=1)
        elif story == 5:  # discharged yesterday WITHOUT agreement: the gap carepath exists for
            pw = self._admit(i, patient, 1, 15)
            self._event(pw, E.DISCHARGE_PLANNED, 4, planned=self.today - timedelta(days=1))
            self._event(pw, E.DISCHARGED, 1)
        elif story in (
            6,
            7,
        ):  # discharged with an agreement, or a §13b plan when the patient refused
            pw = self._admit(i, patient, 1, 30)
            self._plan(pw, DA if story == 6 else CP, PlanStatus.AGREED, days_ago=12)
            self._event(pw, E.DISCHARGED, 8)  # activates the agreed plan
            self._event(pw, E.FOLLOW_UP_BOOKED, 7)
            if i % 20 == 6:
                self._event(pw, E.FOLLOW_UP_HELD, 2)
        elif story == 8:  # readmitted: discharged with an active plan, admitted again yesterday
            first = self._admit(i, patient, 1, 40)
            self._plan(first, DA, PlanStatus.AGREED, days_ago=15)
            self._event(first, E.DISCHARGED, 10)
            self._admit(i, patient, 2, 1, readmission_of=first)
        else:  # agreed ahead of a planned discharge, under revision, ended, withdrawn
            variant = (i // 10) % 4
            pw = self._admit(i, patient, 1, 60 if variant in (1, 2) else 20)
            if variant == 0:
                self._event(pw, E.DISCHARGE_PLANNED, 3, planned=self.today + timedelta(days=4))
                self._plan(pw, DA, PlanStatus.AGREED, days_ago=2)
                return
            if variant == 3:  # withdrawn lately (the parties still see it, §13c grace period)
                self._plan(pw, DA, PlanStatus.WITHDRAWN, days_ago=8)
                self._event(pw, E.DISCHARGED, 6)
                self._event(pw, E.CLOSED, 5)
                return
            self._plan(pw, DA, PlanStatus.AGREED, days_ago=50)
            self._event(pw, E.DISCHARGED, 45)
            if variant == 1:
                self._plan_step(pw, PlanStatus.UNDER_REVISION, days_ago=3)
            else:
                self._plan_step(pw, PlanStatus.ENDED, days_ago=5)
                self._event(pw, E.CLOSED, 5)

    # ------------------------------------------------------------------ plans
    def _actors_for(self, pathway: Pathway) -> dict[ParticipantRole, Actor]:
        ward_index = self.wards.index(pathway.ward)
        gp_index = self.gp_clinics.index(pathway.patient.gp_organisation)  # type: ignore[arg-type]
        nurse = actor_for(self.nurses[ward_index])
        return {
            ParticipantRole.PATIENT: nurse,  # the ward records the patient's answer
            ParticipantRole.WARD: nurse,
            ParticipantRole.MUNICIPALITY: actor_for(self.case_workers[pathway.patient.kommunekode]),
            ParticipantRole.GP: actor_for(self.gps[gp_index]),
        }

    def _plan(self, pathway: Pathway, kind: PlanKind, target: PlanStatus, *, days_ago: int) -> None:
        """Drive a plan through the real use cases up to ``target``, the clock walking from days_ago."""
        if self.session.scalar(sa.select(Plan.id).where(Plan.pathway_id == pathway.id)) is not None:
            return
        clock = FixedClock(self._at(days_ago, 9))
        actors = self._actors_for(pathway)
        nurse = actors[ParticipantRole.WARD]
        plan = create_draft(self.session, nurse, clock, pathway_id=pathway.id)
        self.result.count("plans")
        if kind is PlanKind.COORDINATION_PLAN:
            clock.advance(timedelta(minutes=30))
            plan = record_participation(
                self.session,
                nurse,
                clock,
                plan_id=plan.id,
                expected_version=plan.version,
                participates=False,
            )
        clock.advance(timedelta(hours=1))
        plan = edit_plan(
            self.session,
            nurse,
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            sections=demo_sections(self.today),
            review_on=self.today + timedelta(days=90),
            change_note="content from the discharge conference",
        )
        if target is PlanStatus.DRAFT:
            return
        if target is PlanStatus.WITHDRAWN:
            withdraw(
                self.session,
                nurse,
                clock,
                plan_id=plan.id,
                expected_version=plan.version,
                reason="patient transferred to another region",
            )
            return
        clock.advance(timedelta(hours=1))
        plan = propose(self.session, nurse, clock, plan_id=plan.id, expected_version=plan.version)
        if target is PlanStatus.PROPOSED:
            return
        for participant in list(plan.participants):
            if participant.response is ResponseStatus.ACCEPTED or participant.role not in actors:
                continue
            clock.advance(timedelta(hours=3))
            plan = respond(
                self.session,
                actors[participant.role],
                clock,
                plan_id=plan.id,
                expected_version=plan.version,
                participant_id=participant.id,
                response=ResponseStatus.ACCEPTED,
            )

    def _plan_step(self, pathway: Pathway, target: PlanStatus, *, days_ago: int) -> None:
        plan = self.session.scalar(sa.select(Plan).where(Plan.pathway_id == pathway.id))
        if plan is None or plan.status is target or not plan.status.is_open:
            return
        clock = FixedClock(self._at(days_ago, 13))
        case_worker = self._actors_for(pathway)[ParticipantRole.MUNICIPALITY]
        if target is PlanStatus.UNDER_REVISION:
            start_revision(
                self.session,
                case_worker,
                clock,
                plan_id=plan.id,
                expected_version=plan.version,
                reason="the citizen is moving to supported housing (SEL §107)",
            )
        elif target is PlanStatus.ENDED:
            end_plan(
                self.session,
                case_worker,
                clock,
                plan_id=plan.id,
                expected_version=plan.version,
                reason=EndReason.REVIEW_OUTCOME,
                note="goals reached, no longer needed",
            )

    # ------------------------------------------------------------------ what the worklists show
    def _assessments(self, i: int, patient: Patient) -> None:
        """The chief physician's §13a assessment, a day after admission: an agreement is required for
        most stays, not for story 2's, and story 0's still wait for it, so every worklist state occurs."""
        story = i % 10
        if story == 0:
            return
        stays = self.session.scalars(
            sa.select(Pathway)
            .where(Pathway.patient_id == patient.id, Pathway.requirement_assessed_at.is_(None))
            .order_by(Pathway.id)
        ).all()
        chief = self.login_users[Role.CHIEF_PHYSICIAN]
        for stay in stays:
            by = actor_for(chief) if stay.ward_id == chief.organisation_id else LOADER
            assess_requirement(
                self.session,
                by,
                FixedClock(min(stay.admitted_at + timedelta(days=1), self.now)),
                pathway_id=stay.id,
                receives_sel_support=story != 2,
                presumed_not_to_seek_treatment=False,
            )
            self.result.count("§13a assessments")

    def _network_meeting(self, i: int, patient: Patient) -> None:
        """A network meeting requested for one citizen whose discharge is planned (story 3's first)."""
        if i != 3:
            return
        stay = self.session.scalar(sa.select(Pathway).where(Pathway.patient_id == patient.id))
        if stay is None:
            return
        record_pathway_fact(
            self.session,
            LOADER,
            FixedClock(self._at(1, 12)),
            pathway_id=stay.id,
            fact=PathwayFactType.NETWORK_MEETING_REQUESTED,
            occurred_at=self._at(1, 12),
            idempotency_key=f"demo:{stay.episode_value}:network_meeting_requested",
            source=EventSource.DEMO,
        )

    # ------------------------------------------------------------------ contact persons, with gaps
    def _contacts(self, i: int, patient: Patient) -> None:
        if self.session.scalar(
            sa.select(ContactAssignment.id).where(ContactAssignment.patient_id == patient.id)
        ):
            return
        ward_index = _ward_index(i, len(self.wards))
        wanted: list[tuple[Sector, Organisation, User | None, date | None]] = [
            (Sector.REGION, self.wards[ward_index], self.nurses[ward_index], None),
        ]
        if i % 5 != 4:  # every fifth patient has no municipal contact person: a gap to close
            muni = self.municipalities[patient.kommunekode]
            wanted.append((Sector.MUNICIPALITY, muni, self.case_workers[patient.kommunekode], None))
        if i % 7 != 3:  # some lack a GP contact; one in six has a contact whose period has ended
            gp_index = i % len(self.gp_clinics)
            ended = self.today - timedelta(days=3) if i % 6 == 0 else None
            wanted.append(
                (Sector.GENERAL_PRACTICE, self.gp_clinics[gp_index], self.gps[gp_index], ended)
            )
        for sector, org, person, valid_to in wanted:
            self.session.add(
                ContactAssignment(
                    patient_id=patient.id,
                    sector=sector,
                    organisation=org,
                    person=person,
                    team_inbox=org.email,
                    valid_from=self.today - timedelta(days=90),
                    valid_to=valid_to,
                    ended_reason="contact person left the unit" if valid_to else "",
                    created_at=self.now,
                )
            )
            self.result.count("contact persons")


def _ward_index(i: int, wards: int) -> int:
    """The ward of patient ``i``. The discharge nurse's login works at the first ward: it holds one
    patient of every story (the first ten) and every variant of the tenth, so she sees plans in every
    state; the other patients are spread over all wards."""
    return 0 if i < 10 or i % 10 == 9 else i % wards


def _home_municipality(i: int, codes: list[str]) -> str:
    """The case worker's login works in the first municipality: it is home to the citizens whose
    discharge is planned (stories 3, 4 and the tenth), so she sees them coming."""
    return codes[0] if i % 10 in (3, 4, 9) else codes[i % len(codes)]


def load_demo(session: Session, clock: Clock, *, reset_passwords: bool = False) -> DemoResult:
    loader = _Loader(session, clock, reset_passwords)
    loader.organisations()
    loader.people()
    loader.patients()
    if add_network_meeting(session, clock):
        loader.result.count("network meetings")
    session.flush()
    return loader.result
