from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from fhir_adapters.codesystems import GAP_RULE_SYSTEM
from fhir_adapters.encounter import (
    ENCOUNTER_STATUS,
    EPISODE_STATUS,
    PLANNED_END_EXTENSION,
    encounter_to_fhir,
    episode_of_care_to_fhir,
    is_episode_system,
)
from fhir_adapters.records import EncounterRecord, TaskRecord
from fhir_adapters.task import (
    OWNER_ORGANIZATION_EXTENSION,
    TASK_PRIORITY,
    TASK_STATUS,
    reminder_status_from_fhir,
    task_to_fhir,
)
from pathways.errors import ValidationFailed
from pathways.identifiers import LPR3_SYSTEMS
from pathways.reminders import ReminderStatus, Severity
from pathways.stays import EncounterClass, LeavePeriod, PathwayStatus
from tests.unit.fhir.helpers import reparse

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TASK = TaskRecord(
    id=44,
    rule="discharged_without_plan",
    status=ReminderStatus.SNOOZED,
    severity=Severity.BREACH,
    due_at=datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
    owner_organisation_id=12,
    owner_person_id=3,
    patient_id=5,
    plan_id=9,
    pathway_id=8,
    message="Discharged without an agreed discharge agreement",
    basis="psykiatriloven §13a",
    version=2,
    created_at=T0,
    updated_at=T0,
    snoozed_until=datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
)
STAY = EncounterRecord(
    id=8,
    patient_id=5,
    ward_id=12,
    status=PathwayStatus.ON_LEAVE,
    admitted_at=T0,
    planned_discharge_on=date(2026, 12, 1),
    episode_system=LPR3_SYSTEMS[0],
    episode_value="urn:uuid:5f0c0e0e-6a7c-5b43-9f1d-0c7b0b8e2b4a",
    leave_periods=(LeavePeriod(datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),),
)


def test_task_from_a_reminder() -> None:
    data = reparse(task_to_fhir(TASK))
    assert (data["status"], data["priority"], data["intent"]) == ("on-hold", "stat", "order")
    assert data["statusReason"]["text"] == "snoozed until 2026-11-27T08:00:00Z"
    assert data["code"]["coding"] == [
        {"system": GAP_RULE_SYSTEM, "code": "discharged_without_plan"}
    ]
    assert data["owner"] == {"reference": "Practitioner/3"}
    assert data["extension"] == [
        {"url": OWNER_ORGANIZATION_EXTENSION, "valueReference": {"reference": "Organization/12"}}
    ]
    assert data["for"] == {"reference": "Patient/5"}
    assert data["focus"] == {"reference": "CarePlan/9"}
    assert data["encounter"] == {"reference": "Encounter/8"}
    assert data["restriction"]["period"]["end"].startswith("2026-11-26T15:00:00")
    assert data["reasonCode"] == {"text": "psykiatriloven §13a"}


def test_task_owned_by_an_organisation() -> None:
    data = reparse(task_to_fhir(replace(TASK, owner_person_id=None, plan_id=None)))
    assert data["owner"] == {"reference": "Organization/12"}
    assert data["focus"] == {"reference": "Encounter/8"}


def test_every_reminder_status_and_severity_maps() -> None:
    assert set(TASK_STATUS) == set(ReminderStatus)
    assert set(TASK_PRIORITY) == set(Severity)
    for status, code in TASK_STATUS.items():
        assert reminder_status_from_fhir(code) is status
    with pytest.raises(ValidationFailed) as caught:
        reminder_status_from_fhir("in-progress")
    assert caught.value.fields == ("Task.status",)


def test_encounter_and_episode_of_care() -> None:
    encounter = reparse(encounter_to_fhir(STAY))
    assert encounter["status"] == "onleave"
    assert encounter["class"]["code"] == "IMP"
    assert encounter["statusHistory"][0]["status"] == "onleave"
    assert encounter["extension"] == [{"url": PLANNED_END_EXTENSION, "valueDateTime": "2026-12-01"}]
    assert encounter["episodeOfCare"] == [{"reference": "EpisodeOfCare/8"}]
    assert encounter["serviceProvider"] == {"reference": "Organization/12"}
    assert "end" not in encounter["period"]
    episode = reparse(episode_of_care_to_fhir(STAY))
    assert episode["identifier"] == [{"system": STAY.episode_system, "value": STAY.episode_value}]
    assert episode["status"] == "active"
    assert set(ENCOUNTER_STATUS) == set(EPISODE_STATUS) == set(PathwayStatus)


def test_an_emergency_stay_keeps_its_class() -> None:
    encounter = reparse(encounter_to_fhir(replace(STAY, encounter_class=EncounterClass.EMERGENCY)))
    assert encounter["class"] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "EMER",
        "display": "emergency",
    }


def test_episode_systems() -> None:
    assert all(is_episode_system(s) for s in LPR3_SYSTEMS)
    assert is_episode_system("https://sor2.sum.dsdn.dk/#id=123456789012")
    assert not is_episode_system("https://sor2.sum.dsdn.dk/#id=abc")
    assert not is_episode_system("urn:oid:1.2.208.176.1.1")
