"""message_fingerprint: a resend of a message keeps it, other content under the same id does not."""

from __future__ import annotations

from fhir_adapters.medcom import message_fingerprint
from tests.unit.medcom.support import HOSPITAL_NOTIFICATIONS, load, resource


def test_every_fixture_has_its_own_fingerprint() -> None:
    prints = {message_fingerprint(load(name)) for name in HOSPITAL_NOTIFICATIONS}
    assert len(prints) == len(HOSPITAL_NOTIFICATIONS)
    assert all(len(p) == 64 for p in prints)


def test_transmission_details_do_not_count() -> None:
    original = load("admit-inpatient")
    resent = load("admit-inpatient")
    resent["id"] = "another-transmission"
    resent["timestamp"] = "2026-03-02T11:00:00+01:00"
    resent["meta"]["lastUpdated"] = "2026-03-02T11:00:00+01:00"
    resource(resent, "Patient")["text"] = {"status": "generated", "div": "<div>x</div>"}
    resource(resent, "Encounter").setdefault("meta", {})["versionId"] = "2"
    assert message_fingerprint(resent) == message_fingerprint(original)
    assert resent["id"] == "another-transmission"  # the input is not touched


def test_content_counts() -> None:
    original = message_fingerprint(load("admit-inpatient"))
    changed = load("admit-inpatient")
    resource(changed, "Encounter")["period"]["start"] = "2026-03-01T10:12:00+01:00"
    assert message_fingerprint(changed) != original
    protected = load("admit-inpatient")
    resource(protected, "Patient").setdefault("meta", {})["security"] = [{"code": "R"}]
    assert message_fingerprint(protected) != original
