from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings

from fhir_adapters.careplan import (
    FHIR_STATUS,
    PLAN_STATUS_EXTENSION,
    SECTION_EXTENSION,
    care_plan_from_fhir,
    care_plan_json,
    care_plan_to_fhir,
    plan_status_from_fhir,
)
from fhir_adapters.codesystems import PLAN_KIND
from fhir_adapters.common import to_json
from fhir_adapters.records import PlanRecord
from pathways.errors import ValidationFailed
from pathways.plans import (
    Participant,
    ParticipantRole,
    PatientParticipation,
    Plan,
    PlanKind,
    PlanStatus,
    ResponseStatus,
    SectionKey,
)
from tests.unit.fhir.helpers import errors_of, reparse
from tests.unit.fhir.strategies import PLAN_RECORDS

RECORD = PlanRecord(
    plan=Plan(
        kind=PlanKind.DISCHARGE_AGREEMENT,
        status=PlanStatus.UNDER_REVISION,
        version=3,
        sections={
            SectionKey.CRISIS_PLAN: {
                "warning_signs": ["sleeps badly", "stops eating"],
                "call_day": "Team Nord 7010 2030",
            },
            SectionKey.FIRST_FOLLOW_UP: {"date": "2026-12-03", "who": "District psychiatry"},
            SectionKey.HOUSING: {},
        },
        participants=(
            Participant(ParticipantRole.PATIENT, name="Anne Testesen"),
            Participant(ParticipantRole.WARD, response=ResponseStatus.ACCEPTED, organisation_id=12),
            Participant(ParticipantRole.GP, is_required=False, organisation_id=30),
        ),
        patient_participation=PatientParticipation.PARTICIPATES,
        review_on=date(2027, 3, 1),
        valid_from=date(2026, 12, 1),
    ),
    patient_id=5,
    responsible_organisation_id=12,
    id=9,
    version=4,
    updated_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    pathway_id=8,
    created_at=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
    agreed_at=datetime(2026, 11, 25, 14, 0, tzinfo=UTC),
    care_team_id="plan-9",
)


def _json() -> dict[str, Any]:
    return reparse(care_plan_to_fhir(RECORD))


def _section(data: dict[str, Any], key: str) -> int:
    """Position of a section's extension in CarePlan.extension."""
    return next(
        i
        for i, e in enumerate(data["extension"])
        if e["url"] == SECTION_EXTENSION and e["extension"][0]["valueCode"] == key
    )


def _without(data: dict[str, Any], url: str) -> dict[str, Any]:
    data["extension"] = [e for e in data["extension"] if e["url"] != url]
    return data


@settings(max_examples=60, deadline=None)
@given(PLAN_RECORDS)
def test_round_trip_is_lossless(record: PlanRecord) -> None:
    data = reparse(care_plan_to_fhir(record))
    assert care_plan_from_fhir(data) == record
    assert data["status"] == FHIR_STATUS[record.plan.status]
    assert data["category"][0]["coding"][0]["system"] == PLAN_KIND.url


@settings(max_examples=60, deadline=None)
@given(PLAN_RECORDS)
def test_wire_json_is_the_serialised_model(record: PlanRecord) -> None:
    """The read path answers the JSON it built (validated, not dumped again): it must be the dump."""
    assert care_plan_json(record) == to_json(care_plan_to_fhir(record))


def test_native_elements() -> None:
    data = _json()
    assert data["status"] == "active"
    assert data["intent"] == "plan"
    assert data["category"][0]["coding"][0]["code"] == "discharge-agreement"
    assert data["subject"] == {"reference": "Patient/5"}
    assert data["author"] == {"reference": "Organization/12"}
    assert data["encounter"] == {"reference": "Encounter/8"}
    assert data["careTeam"] == [{"reference": "CareTeam/plan-9"}]
    assert data["period"] == {"start": "2026-12-01"}
    assert data["meta"]["versionId"] == "4"
    exact = next(e for e in data["extension"] if e["url"] == PLAN_STATUS_EXTENSION)
    assert exact["valueCoding"]["code"] == "under-revision"


def test_sections_are_extensions_and_readable_notes() -> None:
    data = _json()
    crisis = data["extension"][_section(data, "crisis_plan")]
    assert [
        e["extension"][0]["valueCode"] for e in data["extension"] if e["url"] == SECTION_EXTENSION
    ] == [
        "housing",
        "crisis_plan",
        "first_follow_up",
    ]
    assert crisis["extension"] == [
        {"url": "section", "valueCode": "crisis_plan"},
        {"url": "warning_signs", "valueString": "sleeps badly"},
        {"url": "warning_signs", "valueString": "stops eating"},
        {"url": "call_day", "valueString": "Team Nord 7010 2030"},
    ]
    assert len(data["note"]) == 2  # the empty housing section has no note
    assert data["note"][0]["text"].startswith("**Kriseplan**")
    assert "sleeps badly; stops eating" in data["note"][0]["text"]


def test_title_and_note_headings_are_danish_unless_english_is_asked_for() -> None:
    danish, english = _json(), reparse(care_plan_to_fhir(RECORD, "en"))
    assert danish["title"] == "Udskrivningsaftale (psykiatriloven § 13 a)"
    assert [n["text"].split("\n")[0] for n in danish["note"]] == [
        "**Kriseplan**",
        "**Første opfølgning**",
    ]
    assert english["title"] == "Discharge agreement (udskrivningsaftale, psykiatriloven §13a)"
    assert [n["text"].split("\n")[0] for n in english["note"]] == [
        "**Crisis plan**",
        "**First follow-up**",
    ]
    # the coding is the CodeSystem's, whatever the reader's language
    assert danish["category"] == english["category"]


@pytest.mark.parametrize(
    ("fhir_status", "expected"),
    [
        ("draft", PlanStatus.DRAFT),
        ("active", PlanStatus.ACTIVE),
        ("completed", PlanStatus.ENDED),
        ("revoked", PlanStatus.WITHDRAWN),
    ],
)
def test_status_without_our_extension(fhir_status: str, expected: PlanStatus) -> None:
    assert plan_status_from_fhir(fhir_status) is expected


def test_every_plan_status_maps_to_an_r4_code_and_back() -> None:
    for status in PlanStatus:
        assert plan_status_from_fhir(FHIR_STATUS[status], status.value.replace("_", "-")) is status


def test_a_minimal_external_care_plan() -> None:
    data = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "category": [{"coding": [{"system": PLAN_KIND.url, "code": "coordination-plan"}]}],
        "subject": {"reference": "https://example.org/fhir/Patient/5/_history/2"},
        "author": {"reference": "Organization/12"},
        "note": [{"text": "ignored on input"}],
    }
    record = care_plan_from_fhir(data)
    assert record.plan == Plan(kind=PlanKind.COORDINATION_PLAN, status=PlanStatus.DRAFT, version=1)
    assert (record.patient_id, record.responsible_organisation_id, record.id) == (5, 12, None)


def test_status_codes() -> None:
    data = _json()
    data["status"] = "completed"  # contradicts our exact status under-revision
    assert errors_of(care_plan_from_fhir, data) == {"CarePlan.status": "invariant"}
    data["status"] = "bogus"
    assert errors_of(care_plan_from_fhir, data) == {"CarePlan.status": "code-invalid"}
    data = _without(_json(), PLAN_STATUS_EXTENSION)
    data["status"] = "on-hold"
    assert errors_of(care_plan_from_fhir, data) == {"CarePlan.status": "not-supported"}
    data = _json()
    exact = next(e for e in data["extension"] if e["url"] == PLAN_STATUS_EXTENSION)
    exact["valueCoding"]["code"] = "paused"
    position = data["extension"].index(exact)
    assert errors_of(care_plan_from_fhir, data) == {
        f"CarePlan.extension[{position}].valueCoding.code": "code-invalid"
    }


def test_required_codes_and_references() -> None:
    data = _json()
    data["intent"] = "order"
    data["category"] = [{"coding": [{"system": PLAN_KIND.url, "code": "crisis-plan"}]}]
    data["author"] = {"reference": "Practitioner/4"}
    assert errors_of(care_plan_from_fhir, data) == {
        "CarePlan.intent": "code-invalid",
        "CarePlan.category[0].coding[0].code": "code-invalid",
        "CarePlan.author.reference": "value",
    }
    del data["category"]
    del data["author"]
    data["intent"] = "plan"
    assert errors_of(care_plan_from_fhir, data) == {
        "CarePlan.category": "required",
        "CarePlan.author": "required",
    }


def test_structural_errors() -> None:
    data = _json()
    del data["subject"]
    data["period"]["end"] = "soon"
    assert errors_of(care_plan_from_fhir, data) == {
        "CarePlan.subject": "required",
        "CarePlan.period.end": "value",
    }


def test_period_must_not_end_before_it_starts() -> None:
    data = _json()
    data["period"]["end"] = "2026-11-30"
    assert errors_of(care_plan_from_fhir, data) == {"CarePlan.period.end": "invariant"}


def test_section_errors_name_the_sub_extension() -> None:
    data = _json()
    crisis, follow_up = _section(data, "crisis_plan"), _section(data, "first_follow_up")
    data["extension"][crisis]["extension"].append({"url": "favourite_colour", "valueString": "x"})
    fields = data["extension"][follow_up]["extension"]
    assert fields[1]["url"] == "date"
    fields[1] = {"url": "date", "valueDate": "2026-12"}  # a partial date: valid FHIR, not for us
    assert errors_of(care_plan_from_fhir, data) == {
        f"CarePlan.extension[{crisis}].extension[4].url": "code-invalid",
        f"CarePlan.extension[{follow_up}].extension[1]": "invalid",
    }


def test_unknown_section_and_duplicates() -> None:
    data = _json()
    housing = _section(data, "housing")
    data["extension"].append(copy.deepcopy(data["extension"][housing]))
    data["extension"][housing]["extension"][0]["valueCode"] = "hobbies"
    data["extension"].append(
        {"url": SECTION_EXTENSION, "extension": [{"url": "text", "valueString": "x"}]}
    )
    last = len(data["extension"]) - 1
    assert errors_of(care_plan_from_fhir, data) == {
        f"CarePlan.extension[{housing}].extension[0].valueCode": "code-invalid",
        f"CarePlan.extension[{last}].extension": "required",
    }
    data["extension"][housing]["extension"][0]["valueCode"] = "housing"
    del data["extension"][last]
    assert errors_of(care_plan_from_fhir, data) == {f"CarePlan.extension[{last - 1}]": "structure"}


def test_participant_errors() -> None:
    data = _json()
    position = next(
        i for i, e in enumerate(data["extension"]) if e["url"].endswith("/plan-participant")
    )
    data["extension"][position]["extension"][0]["valueCode"] = "fixed-contact"
    data["extension"][position + 1]["extension"][2]["valueCode"] = "maybe"
    with pytest.raises(ValidationFailed) as caught:
        care_plan_from_fhir(data)
    assert caught.value.fields == (
        f"CarePlan.extension[{position}].extension[0].valueCode",
        f"CarePlan.extension[{position + 1}].extension[2].valueCode",
    )
