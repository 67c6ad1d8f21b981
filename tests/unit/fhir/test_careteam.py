from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from hypothesis import given, settings

from fhir_adapters.careteam import (
    CONTACT_BACKUP_EXTENSION,
    care_team_for_plan,
    care_team_from_fhir,
    care_team_json,
    care_team_to_fhir,
    contact_team_id,
    plan_team_id,
)
from fhir_adapters.codesystems import CARE_TEAM_ROLE, SECTOR, CareTeamRole
from fhir_adapters.common import to_json
from fhir_adapters.records import CareTeamRecord, ContactMember, PlanRecord
from pathways.contacts import ContactAssignment
from pathways.organisations import Sector
from pathways.plans import Participant, ParticipantRole, Plan, PlanKind, PlanStatus
from tests.unit.fhir.helpers import errors_of, reparse
from tests.unit.fhir.strategies import CARE_TEAM_RECORDS

CONTACTS = CareTeamRecord(
    id=contact_team_id(5),
    patient_id=5,
    name="Fixed contact persons",
    contacts=(
        ContactMember(
            assignment=ContactAssignment(
                sector=Sector.MUNICIPALITY,
                valid_from=date(2026, 1, 1),
                valid_to=date(2026, 6, 30),
                person_id=21,
                backup_person_id=22,
                team_inbox="psyk@aarhus.dk",
            ),
            organisation_id=40,
            assignment_id=17,
        ),
        ContactMember(
            assignment=ContactAssignment(
                sector=Sector.GENERAL_PRACTICE,
                valid_from=date(2026, 2, 1),
                team_inbox="klinik@laeger.dk",
            ),
            organisation_id=30,
        ),
    ),
)


def _json() -> dict[str, Any]:
    return reparse(care_team_to_fhir(CONTACTS))


@settings(max_examples=75, deadline=None)
@given(CARE_TEAM_RECORDS)
def test_round_trip_is_lossless(record: CareTeamRecord) -> None:
    data = reparse(care_team_to_fhir(record))
    assert care_team_from_fhir(data) == record


@settings(max_examples=75, deadline=None)
@given(CARE_TEAM_RECORDS)
def test_wire_json_is_the_serialised_model(record: CareTeamRecord) -> None:
    assert care_team_json(record) == to_json(care_team_to_fhir(record))


def test_fixed_contact_shape() -> None:
    data = _json()
    assert data["id"] == "patient-5-contacts"
    assert data["subject"] == {"reference": "Patient/5"}
    first, second = data["participant"]
    assert first["id"] == "contact-17"
    assert first["role"][0]["coding"] == [
        CARE_TEAM_ROLE.coding(CareTeamRole.FIXED_CONTACT),
        SECTOR.coding(Sector.MUNICIPALITY),
    ]
    assert first["role"][0]["coding"][0]["code"] == "fixed-contact"
    assert first["member"] == {"reference": "Practitioner/21"}
    assert first["onBehalfOf"] == {"reference": "Organization/40"}
    assert first["period"] == {"start": "2026-01-01", "end": "2026-06-30"}
    assert {
        "url": CONTACT_BACKUP_EXTENSION,
        "valueReference": {"reference": "Practitioner/22"},
    } in (first["extension"])
    # no person: the organisation is the member and onBehalfOf is absent (R4 ctm-1)
    assert second["member"] == {"reference": "Organization/30"}
    assert "onBehalfOf" not in second
    assert second["role"][0]["coding"][1]["code"] == "general-practice"


def test_plan_parties() -> None:
    plan = PlanRecord(
        plan=Plan(
            kind=PlanKind.COORDINATION_PLAN,
            status=PlanStatus.PROPOSED,
            version=1,
            participants=(
                Participant(ParticipantRole.PATIENT, name="Anne"),
                Participant(ParticipantRole.MUNICIPALITY, organisation_id=40),
                Participant(ParticipantRole.RELATIVE, is_required=False, name="Bo (brother)"),
            ),
        ),
        patient_id=5,
        responsible_organisation_id=12,
        id=9,
    )
    team = care_team_for_plan(plan)
    assert (team.id, team.plan_id) == (plan_team_id(9), 9)
    data = reparse(care_team_to_fhir(team))
    members = [p.get("member") for p in data["participant"]]
    assert members == [
        {"reference": "Patient/5", "display": "Anne"},
        {"reference": "Organization/40"},
        {"display": "Bo (brother)"},
    ]
    assert data["participant"][1]["role"][0]["coding"][1]["code"] == "municipality"
    assert care_team_from_fhir(data).participants == plan.plan.participants
    assert data["name"] == "Parterne i plan 9"
    assert care_team_for_plan(plan, "en").name == "Parties to plan 9"


def test_contact_needs_sector_organisation_and_start() -> None:
    data = _json()
    first = data["participant"][0]
    first["role"][0]["coding"] = first["role"][0]["coding"][:1]
    del first["onBehalfOf"]
    del first["period"]["start"]
    assert errors_of(care_team_from_fhir, data) == {
        "CareTeam.participant[0].role": "required",
        "CareTeam.participant[0].onBehalfOf": "required",
        "CareTeam.participant[0].period.start": "required",
    }


def test_contact_rules_name_the_element() -> None:
    data = _json()
    first = data["participant"][0]
    first["period"]["end"] = "2025-12-31"
    backup = next(e for e in first["extension"] if e["url"] == CONTACT_BACKUP_EXTENSION)
    backup["valueReference"] = {"reference": "Practitioner/21"}  # the contact person again
    position = first["extension"].index(backup)
    assert errors_of(care_team_from_fhir, data) == {
        "CareTeam.participant[0].period.end": "invalid",
        f"CareTeam.participant[0].extension[{position}].valueReference": "invalid",
    }


def test_unknown_codes_and_references() -> None:
    data = _json()
    data["participant"][0]["role"][0]["coding"][0]["code"] = "friend"
    data["participant"][1]["role"][0]["coding"][1]["code"] = "county"
    data["participant"][1]["member"] = {"reference": "RelatedPerson/3"}
    assert errors_of(care_team_from_fhir, data) == {
        "CareTeam.participant[0].role[0].coding[0].code": "code-invalid",
        "CareTeam.participant[1].role[0].coding[1].code": "code-invalid",
        "CareTeam.participant[1].member.reference": "value",
    }


def test_subject_is_required() -> None:
    data = _json()
    del data["subject"]
    assert errors_of(care_team_from_fhir, data) == {"CareTeam.subject": "required"}


def test_contact_persons_show_their_names_and_organisation_and_read_back_without_them() -> None:
    member = replace(
        CONTACTS.contacts[0],
        person_name="Sara Sagsbehandler",
        backup_person_name="Bent Backup",
        organisation_name="Aarhus Kommune",
    )
    data = reparse(care_team_to_fhir(replace(CONTACTS, contacts=(member,))))
    participant = data["participant"][0]
    assert participant["member"] == {
        "reference": "Practitioner/21",
        "display": "Sara Sagsbehandler",
    }
    assert participant["onBehalfOf"] == {
        "reference": "Organization/40",
        "display": "Aarhus Kommune",
    }
    assert participant["extension"][0] == {
        "url": CONTACT_BACKUP_EXTENSION,
        "valueReference": {"reference": "Practitioner/22", "display": "Bent Backup"},
    }
    assert care_team_from_fhir(data).contacts == (CONTACTS.contacts[0],)
