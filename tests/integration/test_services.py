"""Foundation use cases: bad input gives a clear domain error naming the field and writes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import NO_ACCESS, AccessDenied
from coordinator.accounts.models import User
from coordinator.accounts.services import create_staff_member, verify_password
from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.corrections import Correction, correct_pathway_event
from coordinator.care_pathways.models import Pathway, PathwayEvent
from coordinator.care_pathways.services import STAY_WARD_ONLY, admit_patient, record_pathway_event
from coordinator.organisations.models import Organisation
from coordinator.organisations.services import create_organisation
from coordinator.patients.models import Patient
from coordinator.patients.services import register_patient
from pathways.audit import AuditAction
from pathways.clock import FixedClock
from pathways.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from pathways.people import Actor, ActorKind, Role
from pathways.stays import PathwayEventType, PathwayStatus
from tests import scenario as sc
from tests.factories import OrganisationFactory, PatientFactory, WardFactory

ADMIN = Actor(kind=ActorKind.USER, name="admin", id=None, role=Role.SYSTEM_ADMIN)
NURSE = Actor(kind=ActorKind.USER, name="nurse", id=None, role=Role.DISCHARGE_NURSE)
GP = Actor(kind=ActorKind.USER, name="gp", id=None, role=Role.GP)
SYSTEM = Actor.system("test")


# ---------------------------------------------------------------- organisations
def test_create_organisation_hierarchy_and_audit(session: Session, clock: FixedClock) -> None:
    region = create_organisation(
        session, ADMIN, clock, name="Region Hovedstaden", kind="region", region_code="DK-84"
    )
    centre = create_organisation(
        session,
        ADMIN,
        clock,
        name="PC København",
        kind="psychiatric_centre",
        parent_id=region.id,
        sor_code="12345678901",
    )
    ward = create_organisation(
        session,
        ADMIN,
        clock,
        name="Afsnit 1",
        kind="ward",
        parent_id=centre.id,
        sor_code="123456789012",
        gln="5790000000005",
    )
    assert ward.parent is centre
    assert centre.parent is region
    assert ward.sector.value == "region"
    entries = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.resource_type == "Organisation")
    ).all()
    assert [(e.action, e.resource_id) for e in entries] == [
        (AuditAction.CREATE, str(region.id)),
        (AuditAction.CREATE, str(centre.id)),
        (AuditAction.CREATE, str(ward.id)),
    ]
    assert all(e.occurred_at == clock.now() for e in entries)


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"name": "X", "kind": "ward", "sor_code": "123"}, {"sor_code", "parent"}),
        ({"name": "", "kind": "municipality", "kommunekode": "999"}, {"name", "kommunekode"}),
        ({"name": "X", "kind": "gp_clinic"}, {"ydernummer"}),
        ({"name": "X", "kind": "gp_clinic", "ydernummer": "1", "gln": "5790000000001"}, {"gln"}),
        ({"name": "X", "kind": "hospital"}, {"kind"}),
    ],
)
def test_invalid_organisation_names_each_field_and_writes_nothing(
    session: Session, clock: FixedClock, kwargs: dict[str, str], fields: set[str]
) -> None:
    before = sc.count(session, Organisation), sc.count(session, AuditEntry)
    with pytest.raises(ValidationFailed) as caught:
        create_organisation(session, ADMIN, clock, **kwargs)  # type: ignore[arg-type]
    assert set(caught.value.fields) == fields
    assert (sc.count(session, Organisation), sc.count(session, AuditEntry)) == before


def test_unknown_parent_organisation(session: Session, clock: FixedClock) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create_organisation(
            session, ADMIN, clock, name="W", kind="ward", sor_code="12345678901", parent_id=999_999
        )
    assert caught.value.fields == ("parent",)
    assert "999999 does not exist" in caught.value.errors[0].message


def test_duplicate_sor_code_is_a_conflict(session: Session, clock: FixedClock) -> None:
    region = create_organisation(
        session, ADMIN, clock, name="R", kind="region", region_code="DK-81"
    )
    create_organisation(
        session,
        ADMIN,
        clock,
        name="C1",
        kind="psychiatric_centre",
        parent_id=region.id,
        sor_code="11111111111",
    )
    with pytest.raises(Conflict, match="already registered to 'C1'"):
        create_organisation(
            session,
            ADMIN,
            clock,
            name="C2",
            kind="psychiatric_centre",
            parent_id=region.id,
            sor_code="11111111111",
        )


def test_only_admins_create_organisations(session: Session, clock: FixedClock) -> None:
    with pytest.raises(PermissionDenied):
        create_organisation(session, GP, clock, name="R", kind="region", region_code="DK-81")
    assert sc.count(session, Organisation) == 0


# ---------------------------------------------------------------- staff
def test_staff_password_is_hashed_with_argon2(session: Session, clock: FixedClock) -> None:
    ward = WardFactory()
    user = create_staff_member(
        session,
        ADMIN,
        clock,
        organisation_id=ward.id,
        name="Birgitte",
        role="discharge_nurse",
        username="Birgitte",
        password="correct horse battery",
    )
    assert user.username == "birgitte"
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert verify_password(user, "correct horse battery")
    assert not verify_password(user, "wrong password!!")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"role": "gp"}, "role"),  # a GP does not work on a ward
        ({"role": "discharge_nurse", "email": "not-an-email"}, "email"),
        ({"role": "discharge_nurse", "password": "short"}, "password"),
        ({"role": "nurse"}, "role"),
    ],
)
def test_invalid_staff_member(
    session: Session, clock: FixedClock, kwargs: dict[str, str], field: str
) -> None:
    ward = WardFactory()
    with pytest.raises(ValidationFailed) as caught:
        create_staff_member(
            session, ADMIN, clock, organisation_id=ward.id, name="X", username="x.y", **kwargs
        )
    assert caught.value.fields == (field,)
    assert sc.count(session, User) == 0


def test_staff_in_unknown_organisation(session: Session, clock: FixedClock) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create_staff_member(session, ADMIN, clock, organisation_id=424242, name="X", role="gp")
    assert caught.value.fields == ("organisation_id",)


# ---------------------------------------------------------------- patients
def test_register_patient_normalises_and_audits(session: Session, clock: FixedClock) -> None:
    gp = OrganisationFactory()
    patient = register_patient(
        session,
        NURSE,
        clock,
        given_name=" Mette ",
        family_name="Jensen",
        kommunekode="0101",
        cpr="010190-1235",
        gp_organisation_id=gp.id,
    )
    assert (patient.cpr, patient.kommunekode, patient.given_name) == ("0101901235", "101", "Mette")
    entry = session.scalars(sa.select(AuditEntry).where(AuditEntry.patient_id == patient.id)).one()
    assert (entry.action, entry.resource_type, entry.actor_name) == (
        AuditAction.CREATE,
        "Patient",
        "nurse",
    )


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"cpr": "3102901234"}, {"cpr"}),
        ({"cpr": "12345"}, {"cpr"}),
        ({"cpr": None}, {"cpr"}),
        ({"kommunekode": "100"}, {"kommunekode"}),
        ({"given_name": "", "family_name": ""}, {"given_name", "family_name"}),
    ],
)
def test_invalid_patient_names_the_field_and_writes_nothing(
    session: Session, clock: FixedClock, kwargs: dict[str, object], fields: set[str]
) -> None:
    data: dict[str, object] = {
        "given_name": "A",
        "family_name": "B",
        "kommunekode": "101",
        "cpr": "0101901235",
    } | kwargs
    with pytest.raises(ValidationFailed) as caught:
        register_patient(session, NURSE, clock, **data)  # type: ignore[arg-type]
    assert set(caught.value.fields) == fields
    assert sc.count(session, Patient) == 0
    assert sc.count(session, AuditEntry) == 0


def test_patient_with_unknown_gp(session: Session, clock: FixedClock) -> None:
    ward = WardFactory()
    with pytest.raises(ValidationFailed) as caught:
        register_patient(
            session,
            NURSE,
            clock,
            given_name="A",
            family_name="B",
            kommunekode="101",
            cpr="0101901235",
            gp_organisation_id=ward.id,
        )  # a ward is no GP clinic
    assert caught.value.fields == ("gp_organisation_id",)


def test_duplicate_cpr_is_a_conflict(session: Session, clock: FixedClock) -> None:
    register_patient(
        session, NURSE, clock, given_name="A", family_name="B", kommunekode="101", cpr="0101901235"
    )
    with pytest.raises(Conflict, match="already exists"):
        register_patient(
            session,
            NURSE,
            clock,
            given_name="C",
            family_name="D",
            kommunekode="147",
            cpr="010190-1235",
        )
    assert sc.count(session, Patient) == 1


def test_gp_may_not_register_patients(session: Session, clock: FixedClock) -> None:
    with pytest.raises(PermissionDenied, match="may not register patient"):
        register_patient(
            session, GP, clock, given_name="A", family_name="B", kommunekode="101", cpr="0101901235"
        )


# ---------------------------------------------------------------- pathways
@pytest.fixture
def ward(session: Session) -> Organisation:
    return WardFactory()


@pytest.fixture
def ward_nurse(ward: Organisation) -> Actor:
    """A discharge nurse of the admitting ward: only the ward's staff record its stays' events."""
    return Actor(
        kind=ActorKind.USER,
        name="ward nurse",
        id=None,
        organisation_id=ward.id,
        role=Role.DISCHARGE_NURSE,
    )


def _admit(session: Session, clock: FixedClock, nurse: Actor, key: str = "k1") -> Pathway:
    assert nurse.organisation_id is not None
    return admit_patient(
        session,
        nurse,
        clock,
        patient_id=PatientFactory().id,
        ward_id=nurse.organisation_id,
        admitted_at=clock.now() - timedelta(days=3),
        idempotency_key=key,
    )


def test_pathway_lifecycle(session: Session, clock: FixedClock, ward_nurse: Actor) -> None:
    pathway = _admit(session, clock, ward_nurse)
    assert pathway.status is PathwayStatus.ADMITTED
    t = clock.now()
    record_pathway_event(
        session,
        ward_nurse,
        clock,
        pathway_id=pathway.id,
        event_type=PathwayEventType.LEAVE_STARTED,
        occurred_at=t - timedelta(days=2),
        idempotency_key="k2",
    )
    assert pathway.status is PathwayStatus.ON_LEAVE
    record_pathway_event(
        session,
        ward_nurse,
        clock,
        pathway_id=pathway.id,
        event_type=PathwayEventType.LEAVE_ENDED,
        occurred_at=t - timedelta(days=1),
        idempotency_key="k3",
    )
    record_pathway_event(
        session,
        ward_nurse,
        clock,
        pathway_id=pathway.id,
        event_type=PathwayEventType.DISCHARGE_PLANNED,
        occurred_at=t,
        planned_discharge_on=date(2026, 11, 28),
        idempotency_key="k4",
    )
    record_pathway_event(
        session,
        ward_nurse,
        clock,
        pathway_id=pathway.id,
        event_type=PathwayEventType.DISCHARGED,
        occurred_at=t,
        idempotency_key="k5",
    )
    assert pathway.status is PathwayStatus.DISCHARGED
    assert pathway.discharged_at == t
    assert pathway.planned_discharge_on == date(2026, 11, 28)
    assert [(p.started_at, p.ended_at) for p in pathway.leave_periods] == [
        (t - timedelta(days=2), t - timedelta(days=1))
    ]
    assert [e.type for e in pathway.events] == [
        PathwayEventType.ADMITTED,
        PathwayEventType.LEAVE_STARTED,
        PathwayEventType.LEAVE_ENDED,
        PathwayEventType.DISCHARGE_PLANNED,
        PathwayEventType.DISCHARGED,
    ]


def test_replayed_event_changes_nothing(
    session: Session, clock: FixedClock, ward_nurse: Actor
) -> None:
    pathway = _admit(session, clock, ward_nurse)
    first = record_pathway_event(
        session,
        ward_nurse,
        clock,
        pathway_id=pathway.id,
        event_type=PathwayEventType.DISCHARGED,
        occurred_at=clock.now(),
        idempotency_key="msg-1",
    )
    again = record_pathway_event(
        session,
        ward_nurse,
        clock,
        pathway_id=pathway.id,
        event_type=PathwayEventType.DISCHARGED,
        occurred_at=clock.now(),
        idempotency_key="msg-1",
    )
    assert again.id == first.id
    assert sc.count(session, PathwayEvent) == 2  # admitted + discharged, once
    assert _admit(session, clock, ward_nurse, key="k1").id == pathway.id  # replayed admission too


def test_illegal_event_is_refused_and_writes_nothing(
    session: Session, clock: FixedClock, ward_nurse: Actor
) -> None:
    pathway = _admit(session, clock, ward_nurse)
    with pytest.raises(IllegalTransition, match="from 'admitted' to 'leave_ended'"):
        record_pathway_event(
            session,
            ward_nurse,
            clock,
            pathway_id=pathway.id,
            event_type=PathwayEventType.LEAVE_ENDED,
            occurred_at=clock.now(),
            idempotency_key="bad",
        )
    assert pathway.status is PathwayStatus.ADMITTED
    assert sc.count(session, PathwayEvent) == 1


def test_event_before_admission_or_without_date(
    session: Session, clock: FixedClock, ward_nurse: Actor
) -> None:
    pathway = _admit(session, clock, ward_nurse)
    with pytest.raises(ValidationFailed) as caught:
        record_pathway_event(
            session,
            ward_nurse,
            clock,
            pathway_id=pathway.id,
            event_type=PathwayEventType.DISCHARGED,
            occurred_at=datetime(2020, 1, 1, tzinfo=UTC),
            idempotency_key="x",
        )
    assert caught.value.fields == ("occurred_at",)
    with pytest.raises(ValidationFailed) as caught:
        record_pathway_event(
            session,
            ward_nurse,
            clock,
            pathway_id=pathway.id,
            event_type=PathwayEventType.DISCHARGE_PLANNED,
            occurred_at=clock.now(),
            idempotency_key="y",
        )
    assert caught.value.fields == ("planned_discharge_on",)


def test_admission_needs_known_patient_and_ward(
    session: Session, clock: FixedClock, ward_nurse: Actor, ward: Organisation
) -> None:
    # An unknown patient id: the refusal someone else's patient gets (no oracle for patient ids).
    with pytest.raises(AccessDenied) as refused:
        admit_patient(
            session,
            ward_nurse,
            clock,
            patient_id=4242,
            ward_id=ward.id,
            admitted_at=clock.now(),
            idempotency_key="a",
        )
    assert (refused.value.message, refused.value.reason) == (NO_ACCESS, "no such patient")
    assert (refused.value.resource_type, refused.value.resource_id) == ("Patient", 4242)
    with pytest.raises(NotFound, match="patient 4242 does not exist"):  # a job is simply told
        admit_patient(
            session,
            SYSTEM,
            clock,
            patient_id=4242,
            ward_id=ward.id,
            admitted_at=clock.now(),
            idempotency_key="a",
        )
    with pytest.raises(ValidationFailed) as caught:
        admit_patient(
            session,
            ward_nurse,
            clock,
            patient_id=PatientFactory().id,
            ward_id=OrganisationFactory().id,
            admitted_at=clock.now(),
            idempotency_key="b",
        )
    assert caught.value.fields == ("ward_id",)
    assert sc.count(session, Pathway) == 0


def test_only_the_wards_staff_admit_to_it(
    session: Session, clock: FixedClock, ward_nurse: Actor
) -> None:
    other_ward = WardFactory(name="Afsnit 9")
    patient = PatientFactory()
    for patient_id in (patient.id, 4242):  # the ward is refused first: no word about the patient
        with pytest.raises(AccessDenied) as refused:
            admit_patient(
                session,
                ward_nurse,
                clock,
                patient_id=patient_id,
                ward_id=other_ward.id,
                admitted_at=clock.now(),
                idempotency_key=f"elsewhere-{patient_id}",
            )
        assert refused.value.message == (
            "only staff acting for the ward Afsnit 9 may admit patients to it"
        )
        assert refused.value.reason == f"does not act for the ward {other_ward.id}"
    assert sc.count(session, Pathway) == 0


def test_readmission_closes_the_earlier_stay(
    session: Session, clock: FixedClock, ward_nurse: Actor
) -> None:
    first = _admit(session, clock, ward_nurse)
    record_pathway_event(
        session,
        ward_nurse,
        clock,
        pathway_id=first.id,
        event_type=PathwayEventType.DISCHARGED,
        occurred_at=clock.now() - timedelta(days=1),
        idempotency_key="d",
    )
    second = admit_patient(
        session,
        ward_nurse,
        clock,
        patient_id=first.patient_id,
        ward_id=first.ward_id,
        admitted_at=clock.now(),
        idempotency_key="re",
        readmission_of_id=first.id,
    )
    assert first.status is PathwayStatus.CLOSED
    assert second.readmission_of_id == first.id
    assert second.events[0].type is PathwayEventType.READMITTED
    other_patient = PatientFactory()
    with pytest.raises(ValidationFailed):
        admit_patient(
            session,
            ward_nurse,
            clock,
            patient_id=other_patient.id,
            ward_id=first.ward_id,
            admitted_at=clock.now(),
            idempotency_key="re2",
            readmission_of_id=second.id,
        )


def test_only_the_stays_ward_records_or_corrects_its_events(
    session: Session, clock: FixedClock, ward_nurse: Actor
) -> None:
    pathway = _admit(session, clock, ward_nurse)
    record_pathway_event(
        session,
        ward_nurse,
        clock,
        pathway_id=pathway.id,
        event_type=PathwayEventType.LEAVE_STARTED,
        occurred_at=clock.now(),
        idempotency_key="leave",
    )
    elsewhere = replace(ward_nurse, organisation_id=WardFactory().id)
    refusals = []
    for pathway_id in (pathway.id, 4242):
        with pytest.raises(AccessDenied) as refused:
            record_pathway_event(
                session,
                elsewhere,
                clock,
                pathway_id=pathway_id,
                event_type=PathwayEventType.DISCHARGED,
                occurred_at=clock.now(),
                idempotency_key=f"discharge-{pathway_id}",
            )
        refusals.append(refused.value)
    with pytest.raises(AccessDenied) as refused:
        correct_pathway_event(
            session,
            elsewhere,
            clock,
            corrects_key="leave",
            correction=Correction.CANCEL,
            idempotency_key="cancel-leave",
        )
    refusals.append(refused.value)
    assert [(r.message, r.resource_id, r.patient_id, r.reason) for r in refusals] == [
        (
            STAY_WARD_ONLY,
            pathway.id,
            pathway.patient_id,
            f"does not act for the stay's ward {pathway.ward_id}",
        ),
        (STAY_WARD_ONLY, 4242, None, "no such pathway"),
        (
            STAY_WARD_ONLY,
            pathway.id,
            pathway.patient_id,
            f"does not act for the stay's ward {pathway.ward_id}",
        ),
    ]
    assert pathway.status is PathwayStatus.ON_LEAVE
    assert sc.count(session, PathwayEvent) == 2
    with pytest.raises(NotFound, match="pathway 4242 does not exist"):  # a job is simply told
        record_pathway_event(
            session,
            SYSTEM,
            clock,
            pathway_id=4242,
            event_type=PathwayEventType.DISCHARGED,
            occurred_at=clock.now(),
            idempotency_key="job",
        )


def test_organisation_admins_manage_only_their_own_accounts(
    session: Session, clock: FixedClock
) -> None:
    region = create_organisation(
        session, ADMIN, clock, name="R", kind="region", region_code="DK-84"
    )
    centre = create_organisation(
        session,
        ADMIN,
        clock,
        name="C",
        kind="psychiatric_centre",
        parent_id=region.id,
        sor_code="22222222222",
    )
    clinic = OrganisationFactory()
    region_admin = Actor(
        kind=ActorKind.USER, name="ra", id=None, organisation_id=region.id, role=Role.ORG_ADMIN
    )
    clinic_admin = Actor(
        kind=ActorKind.USER, name="ca", id=None, organisation_id=clinic.id, role=Role.ORG_ADMIN
    )
    made = create_staff_member(
        session, region_admin, clock, organisation_id=centre.id, name="N", role="discharge_nurse"
    )
    assert made.organisation_id == centre.id  # a unit below the region
    with pytest.raises(PermissionDenied, match="their own organisation"):
        create_staff_member(
            session,
            clinic_admin,
            clock,
            organisation_id=centre.id,
            name="X",
            role="discharge_nurse",
        )
    with pytest.raises(PermissionDenied, match="system administrator"):
        create_staff_member(
            session, region_admin, clock, organisation_id=region.id, name="X", role="system_admin"
        )
