"""Staff members, patients and fixed contact persons."""

from __future__ import annotations

from datetime import date

import pytest

from pathways.contacts import ContactAssignment, new_contact_assignment
from pathways.errors import FieldError, ValidationFailed
from pathways.organisations import Sector
from pathways.patients import Patient, new_patient
from pathways.people import Actor, ActorKind, Role, StaffMember, new_staff_member

R, M, G = Sector.REGION, Sector.MUNICIPALITY, Sector.GENERAL_PRACTICE

# ------------------------------------------------------------------------------------------- staff


def test_new_staff_member_cleans_its_input() -> None:
    staff = new_staff_member(
        name="  Anne Hansen ",
        role="discharge_nurse",
        sector=R,
        title=" Udskrivningskoordinator ",
        phone=" +45 12 34 56 78 ",
        email=" Anne.Hansen@Regionh.DK ",
        username=" AHansen ",
    )
    assert staff == StaffMember(
        name="Anne Hansen",
        role=Role.DISCHARGE_NURSE,
        sector=R,
        title="Udskrivningskoordinator",
        phone="+45 12 34 56 78",
        email="anne.hansen@regionh.dk",
        username="ahansen",
    )


def test_new_staff_member_without_login_or_contact_details() -> None:
    staff = new_staff_member(name="Dr. Jensen", role=Role.GP, sector=G)
    assert staff == StaffMember(name="Dr. Jensen", role=Role.GP, sector=G)
    assert staff.username is None


# Which sectors each role exists in, written out from the domain (README §1).
ROLE_SECTOR_TABLE: dict[str, set[Sector]] = {
    "discharge_nurse": {R},
    "chief_physician": {R},
    "ward_staff": {R},
    "case_worker": {M},
    "support_worker": {M},
    "gp": {G},
    "practice_staff": {G},
    "org_admin": {R, M, G},
    "system_admin": {R, M, G},
    "auditor": {R, M, G},
}


@pytest.mark.parametrize(
    ("role", "sector", "fits"),
    [
        (role, sector, sector in fits)
        for role, fits in ROLE_SECTOR_TABLE.items()
        for sector in Sector
    ],
)
def test_role_must_fit_the_sector(role: str, sector: Sector, fits: bool) -> None:
    if fits:
        assert new_staff_member(name="Someone", role=role, sector=sector).role == Role(role)
    else:
        with pytest.raises(ValidationFailed) as exc:
            new_staff_member(name="Someone", role=role, sector=sector)
        assert exc.value.errors == (
            FieldError(
                "role", f"role {role} does not exist in the {sector.value} sector", "invalid"
            ),
        )


def test_role_table_covers_every_role() -> None:
    assert set(ROLE_SECTOR_TABLE) == {r.value for r in Role}
    for role, sectors in ROLE_SECTOR_TABLE.items():
        assert Role(role).sectors == sectors


@pytest.mark.parametrize("role", ["nurse", "GP", "", None])
def test_unknown_role(role: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_staff_member(name="Someone", role=role, sector=R)
    assert exc.value.fields == ("role",)
    assert exc.value.errors[0].code == "invalid-choice"


@pytest.mark.parametrize("email", ["anne", "anne@dk", "a b@x.dk", "a@@x.dk", "@x.dk", "anne@x."])
def test_bad_email(email: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_staff_member(name="Anne", role="case_worker", sector=M, email=email)
    assert exc.value.errors == (FieldError("email", "email address is not valid", "invalid"),)


@pytest.mark.parametrize(
    "phone",
    ["1234567", "12-34-56-78", "abcdefgh", "+45123456789012345", "++4512345678", "1234567+"],
)
def test_bad_phone(phone: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_staff_member(name="Anne", role="case_worker", sector=M, phone=phone)
    assert exc.value.errors == (
        FieldError("phone", "phone number must be 8 to 15 digits, optionally with +", "invalid"),
    )


@pytest.mark.parametrize("phone", ["12345678", "+4512345678", "+45 12 34 56 78", "123456789012345"])
def test_good_phone(phone: str) -> None:
    assert new_staff_member(name="Anne", role="gp", sector=G, phone=phone).phone == phone


@pytest.mark.parametrize("username", ["ab", "a b c", "_abc", ".abc", "æbc", "anne@x", "x" * 65])
def test_bad_username(username: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_staff_member(name="Anne", role="gp", sector=G, username=username)
    assert set(exc.value.fields) == {"username"}


@pytest.mark.parametrize(
    ("username", "expected"),
    [("ANNE", "anne"), ("a.hansen-2", "a.hansen-2"), ("abc", "abc"), ("A" * 64, "a" * 64)],
)
def test_username_is_lower_cased(username: str, expected: str) -> None:
    assert (
        new_staff_member(name="Anne", role="gp", sector=G, username=username).username == expected
    )


def test_staff_member_reports_every_bad_field() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_staff_member(name="", role="gp", sector=R, phone="12", email="nope", username="x y")
    assert set(exc.value.fields) == {"name", "username", "phone", "email", "role"}


def test_system_actor() -> None:
    actor = Actor.system("reminder-job")
    assert actor == Actor(kind=ActorKind.SYSTEM, name="reminder-job", role=Role.SYSTEM_ADMIN)


# ----------------------------------------------------------------------------------------- patients


def test_new_patient_with_cpr() -> None:
    patient = new_patient(
        given_name=" Mette ", family_name=" Sørensen ", kommunekode="0101", cpr="010170-1234"
    )
    assert patient == Patient(
        given_name="Mette", family_name="Sørensen", kommunekode="101", cpr="0101701234"
    )
    assert patient.birth_date == date(1970, 1, 1)
    assert patient.display_name == "Mette Sørensen"
    assert patient.is_protected is False


def test_new_patient_with_replacement_cpr_only() -> None:
    patient = new_patient(
        given_name="Ukendt",
        family_name="Person",
        kommunekode="851",
        replacement_cpr="0101701ab1",
        is_protected=True,
    )
    assert patient == Patient(
        given_name="Ukendt",
        family_name="Person",
        kommunekode="851",
        replacement_cpr="0101701AB1",
        is_protected=True,
    )
    assert patient.cpr is None
    assert patient.birth_date is None


@pytest.mark.parametrize(
    ("cpr", "born"),
    [
        ("0101074000", date(2007, 1, 1)),
        ("0101374000", date(1937, 1, 1)),
        ("3112995999", date(1899, 12, 31)),
        ("2902004000", date(2000, 2, 29)),
    ],
)
def test_patient_birth_date_follows_the_century_rules(cpr: str, born: date) -> None:
    patient = new_patient(given_name="A", family_name="B", kommunekode="101", cpr=cpr)
    assert patient.birth_date == born


@pytest.mark.parametrize(("cpr", "replacement"), [(None, None), ("", ""), (None, ""), ("", None)])
def test_new_patient_needs_a_cpr_or_a_replacement(cpr: object, replacement: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_patient(
            given_name="A", family_name="B", kommunekode="101", cpr=cpr, replacement_cpr=replacement
        )
    assert exc.value.errors == (
        FieldError("cpr", "a CPR number or a replacement CPR is required", "required"),
    )


@pytest.mark.parametrize("kommunekode", [None, ""])
def test_new_patient_needs_a_kommunekode(kommunekode: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_patient(given_name="A", family_name="B", kommunekode=kommunekode, cpr="0101701234")
    assert exc.value.errors == (
        FieldError("kommunekode", "the home municipality (kommunekode) is required", "required"),
    )


def test_new_patient_rejects_an_unknown_kommunekode() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_patient(given_name="A", family_name="B", kommunekode="999", cpr="0101701234")
    assert exc.value.errors == (
        FieldError("kommunekode", "999 is not a Danish kommunekode", "invalid"),
    )


def test_new_patient_reports_every_bad_field() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_patient(given_name="", family_name=" ", kommunekode=None)
    assert set(exc.value.fields) == {"given_name", "family_name", "kommunekode", "cpr"}
    assert {e.code for e in exc.value.errors} == {"required"}


def test_new_patient_rejects_a_bad_cpr_even_with_a_good_replacement() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_patient(
            given_name="A",
            family_name="B",
            kommunekode="101",
            cpr="3102901234",
            replacement_cpr="0101701AB1",
        )
    assert exc.value.fields == ("cpr",)
    assert exc.value.errors[0].code == "invalid"


def test_new_patient_rejects_a_bad_replacement_cpr() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_patient(
            given_name="A", family_name="B", kommunekode="101", replacement_cpr="0101702AB1"
        )
    assert exc.value.fields == ("replacement_cpr",)


def test_patient_names_are_limited_to_100_characters() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_patient(given_name="x" * 101, family_name="B", kommunekode="101", cpr="0101701234")
    assert exc.value.errors == (
        FieldError("given_name", "must be at most 100 characters", "too-long"),
    )


# ---------------------------------------------------------------------------------- contact persons

MARCH_1, MARCH_31 = date(2025, 3, 1), date(2025, 3, 31)


def test_new_contact_assignment_with_a_person() -> None:
    assignment = new_contact_assignment(
        sector="municipality",
        valid_from=MARCH_1,
        valid_to=MARCH_31,
        person_id=7,
        backup_person_id=8,
    )
    assert assignment == ContactAssignment(
        sector=M, valid_from=MARCH_1, valid_to=MARCH_31, person_id=7, backup_person_id=8
    )


def test_new_contact_assignment_with_a_team_inbox_only() -> None:
    assignment = new_contact_assignment(
        sector=Sector.REGION, valid_from=MARCH_1, team_inbox=" team-p1@regionh.dk "
    )
    assert assignment == ContactAssignment(
        sector=R, valid_from=MARCH_1, team_inbox="team-p1@regionh.dk"
    )


@pytest.mark.parametrize("team_inbox", ["", "   ", None])
def test_new_contact_assignment_needs_a_person_or_a_team_inbox(team_inbox: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_contact_assignment(sector="region", valid_from=MARCH_1, team_inbox=team_inbox)
    assert exc.value.errors == (
        FieldError("person_id", "name a contact person or at least a team inbox", "required"),
    )


def test_the_backup_must_be_another_person() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_contact_assignment(sector="region", valid_from=MARCH_1, person_id=7, backup_person_id=7)
    assert exc.value.errors == (
        FieldError(
            "backup_person_id",
            "the backup must be another person than the contact person",
            "invalid",
        ),
    )


def test_the_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_contact_assignment(sector="region", valid_from=MARCH_31, valid_to=MARCH_1, person_id=7)
    assert exc.value.errors == (
        FieldError("valid_to", "the period cannot end before it starts", "invalid"),
    )


def test_a_one_day_period_is_fine() -> None:
    one_day = new_contact_assignment(
        sector="region", valid_from=MARCH_1, valid_to=MARCH_1, person_id=7
    )
    assert one_day.is_current(MARCH_1)
    assert not one_day.is_current(date(2025, 3, 2))


@pytest.mark.parametrize("sector", ["hospital", "", None])
def test_new_contact_assignment_unknown_sector(sector: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_contact_assignment(sector=sector, valid_from=MARCH_1, person_id=7)
    assert exc.value.fields == ("sector",)
    assert exc.value.errors[0].code == "invalid-choice"


def test_new_contact_assignment_reports_every_bad_field() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_contact_assignment(sector="x", valid_from=MARCH_31, valid_to=MARCH_1)
    assert exc.value.fields == ("sector", "person_id", "valid_to")


@pytest.mark.parametrize(
    ("on", "current"),
    [
        (date(2025, 2, 28), False),
        (MARCH_1, True),
        (date(2025, 3, 15), True),
        (MARCH_31, True),
        (date(2025, 4, 1), False),
    ],
)
def test_is_current_includes_both_boundary_days(on: date, current: bool) -> None:
    assignment = ContactAssignment(sector=R, valid_from=MARCH_1, valid_to=MARCH_31, person_id=1)
    assert assignment.is_current(on) is current


@pytest.mark.parametrize(
    ("on", "current"),
    [(date(2025, 2, 28), False), (MARCH_1, True), (date(2099, 12, 31), True)],
)
def test_is_current_without_an_end(on: date, current: bool) -> None:
    assignment = ContactAssignment(sector=R, valid_from=MARCH_1, person_id=1)
    assert assignment.is_current(on) is current


def test_spaces_do_not_count_as_phone_digits() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_staff_member(name="Anne", role="gp", sector=G, phone="1 2 3 4 5")
    assert exc.value.fields == ("phone",)


def test_empty_username_from_a_form_means_no_login() -> None:
    assert new_staff_member(name="Anne", role="gp", sector=G, username="").username is None
