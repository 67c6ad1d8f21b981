"""The slim model of the HospitalNotification elements carepath reads (fhir_adapters.medcom_fast): valid
messages skip the full fhir.resources validation; a message that breaks an R4 rule in an element carepath
reads fails the fast check, runs the full validation, and is never accepted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fhir_adapters import medcom_common
from fhir_adapters.medcom import parse_hospital_notification
from fhir_adapters.medcom_fast import fast_check
from pathways.errors import ValidationFailed
from tests.unit.medcom.support import HOSPITAL_NOTIFICATIONS, load, resource

Mutation = Callable[[dict[str, Any]], None]


@pytest.mark.parametrize("name", HOSPITAL_NOTIFICATIONS)
def test_every_valid_message_passes_the_fast_check_and_the_full_validation(name: str) -> None:
    bundle = load(name)
    assert fast_check(bundle)
    medcom_common.check_r4(bundle)  # the two agree on what is valid


def test_a_message_passing_the_fast_check_skips_the_full_validation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(medcom_common, "check_r4", calls.append)
    parse_hospital_notification(load("admit-inpatient"))
    assert calls == []
    bad = load("admit-inpatient")
    resource(bad, "Encounter")["period"]["start"] = "2026-03-02 10:00"
    with pytest.raises(ValidationFailed):
        parse_hospital_notification(bad)
    assert len(calls) == 1  # the fast check failed: the full validation ran


def _both(*mutations: Mutation) -> Mutation:
    def mutate(bundle: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(bundle)

    return mutate


def _in(rtype: str, key: str, value: object) -> Mutation:
    return lambda b: resource(b, rtype).__setitem__(key, value)


def _del(rtype: str, key: str) -> Mutation:
    return lambda b: resource(b, rtype).pop(key)


def _header(key: str, value: object) -> Mutation:
    return lambda b: b["entry"][0]["resource"].__setitem__(key, value)


# Each breaks an R4 rule (datatype, pattern, cardinality, choice) in an element carepath reads.
BROKEN: dict[str, Mutation] = {
    "period.start not a dateTime": lambda b: resource(b, "Encounter")["period"].__setitem__(
        "start", "2026-03-02 10:00"
    ),
    "period.start a number": lambda b: resource(b, "Encounter")["period"].__setitem__(
        "start", 20260302
    ),
    "Encounter.status missing": _del("Encounter", "status"),
    "Encounter.status with spaces": _in("Encounter", "status", " in-progress"),
    "Encounter.class missing": _del("Encounter", "class"),
    "Encounter.class a list": lambda b: resource(b, "Encounter").__setitem__(
        "class", [resource(b, "Encounter")["class"]]
    ),
    "Encounter misspelt element": _in("Encounter", "episodeOfcare", []),
    "episodeOfCare not a list": lambda b: resource(b, "Encounter").__setitem__(
        "episodeOfCare", resource(b, "Encounter")["episodeOfCare"][0]
    ),
    "identifier value a number": lambda b: resource(b, "Patient")["identifier"][0].__setitem__(
        "value", 101701234
    ),
    "identifier system with a space": lambda b: resource(b, "Patient")["identifier"][0].__setitem__(
        "system", "urn:oid:1.2.208 .176.1.2"
    ),
    "Patient unknown element": _in("Patient", "cprNummer", "0101701234"),
    "deceased twice": _both(
        _in("Patient", "deceasedBoolean", True), _in("Patient", "deceasedDateTime", "2026-03-02")
    ),
    "name.given not a list": lambda b: resource(b, "Patient")["name"][0].__setitem__(
        "given", "Bente"
    ),
    "MessageHeader.source.endpoint missing": _header("source", {"name": "x"}),
    "eventCoding code empty": lambda b: b["entry"][0]["resource"]["eventCoding"].__setitem__(
        "code", ""
    ),
    "destination.endpoint missing": lambda b: b["entry"][0]["resource"]["destination"][0].pop(
        "endpoint"
    ),
    "Provenance.target missing": _del("Provenance", "target"),
    "Provenance.occurredDateTime no zone": _in(
        "Provenance", "occurredDateTime", "2026-03-02T10:15:00"
    ),
    "Bundle.timestamp a date": lambda b: b.__setitem__("timestamp", "2026-03-02"),
    "Bundle.id with a slash": lambda b: b.__setitem__("id", "a/b"),
    "Organization.name empty": lambda b: resource(b, "Organization").__setitem__("name", ""),
    "extension without url": lambda b: resource(b, "Patient")["address"][0]["extension"][0].pop(
        "url"
    ),
    "unknown resource type": lambda b: b["entry"].append(
        {"fullUrl": "urn:uuid:x", "resource": {"resourceType": "Sygehusadvis"}}
    ),
}


@pytest.mark.parametrize("mutate", BROKEN.values(), ids=BROKEN)
def test_a_broken_element_we_read_fails_the_fast_check_and_is_never_accepted(
    mutate: Mutation,
) -> None:
    bundle = load("admit-inpatient")
    mutate(bundle)
    assert not fast_check(bundle)
    with pytest.raises(ValidationFailed) as caught:
        parse_hospital_notification(bundle)
    assert all(e.field.startswith("Bundle") for e in caught.value.errors)  # the element is named


# Stricter than fhir.resources (which coerces "true" and lets a null source pass): the fast check fails,
# and the full validation decides as it did before the fast check existed.
STRICTER = {
    "deceasedBoolean a string": _in("Patient", "deceasedBoolean", "true"),
    "MessageHeader.source null": _header("source", None),
}


@pytest.mark.parametrize("mutate", STRICTER.values(), ids=STRICTER)
def test_where_the_fast_model_is_stricter_the_full_validation_decides(
    mutate: Mutation, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = load("admit-inpatient")
    mutate(bundle)
    assert not fast_check(bundle)
    calls: list[object] = []
    real = medcom_common.check_r4
    monkeypatch.setattr(medcom_common, "check_r4", lambda b: calls.append(b) or real(b))
    parse_hospital_notification(bundle)
    assert calls == [bundle]
