"""Fixture loading and the synthetic parties of tests/fixtures/medcom (see its README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fhir_adapters.medcom import MedComOrganization

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "medcom"

HOSPITAL_NOTIFICATIONS = (
    "admit-inpatient",
    "revise-admit-inpatient",
    "start-leave-inpatient",
    "cancel-start-leave-inpatient",
    "end-leave-inpatient",
    "discharge-inpatient-home",
    "revise-discharge-inpatient-home",
    "admit-emergency",
    "cancel-admit-emergency",
    "discharge-emergency-home",
    "cancel-discharge-inpatient-home",
    "deceased-inpatient",
)

# Synthetic SOR codes (SCTID layout with a Verhoeff check digit) and GLNs (GS1 mod-10 check digit).
WARD_P3 = MedComOrganization(
    sor="990111000016009",
    gln="5790000990115",
    name="Psykiatrisk Center Nordtest, Sengeafsnit P3",
)
CENTRE = MedComOrganization(
    sor="990101000016007", gln="5790000990108", name="Psykiatrisk Center Nordtest"
)
ACUTE_SOR = "990121000016000"
KOBENHAVN = MedComOrganization(
    sor="990211000016003",
    gln="5790000990214",
    name="Københavns Kommune, Sygehusadvis Socialpsykiatri (test)",
)
AALBORG = MedComOrganization(
    sor="990311000016006", gln="5790000990313", name="Aalborg Kommune, Sygehusadvis (test)"
)
SOR_ENDPOINT = "https://sor2.sum.dsdn.dk/#id="

# MessageHeader ids of the messages in the fixtures (and of the messages they point back to)
MSG = {
    "A1": "5864b254-51cb-5987-bb12-ebb7563c95b1",  # admit-inpatient
    "A2": "310174e4-c9f7-5657-9192-8fd8430eb295",  # revise-admit-inpatient
    "A3": "85cfeb5b-f773-54b0-a2ee-c072b8042626",  # start-leave-inpatient
    "A3X": "995648fc-85be-517c-b971-04f8c8791044",  # cancel-start-leave-inpatient
    "A4": "901782bc-d29b-57f1-ba82-3cefff61e498",  # end-leave-inpatient
    "A5": "a7fd09df-29fb-5b73-b975-3039a42b322a",  # discharge-inpatient-home
    "A6": "25c244b7-8764-5b7a-8df9-f7b71e14d49b",  # revise-discharge-inpatient-home
    "B1": "ed508594-3035-5f57-ae07-278b3b545deb",  # admit-emergency
    "B1X": "afa70051-dd1d-572e-bf58-ba46bc89daa2",  # cancel-admit-emergency
    "B2": "8d60b5d3-c293-5d4a-bc78-7f24e2354614",  # discharge-emergency-home
    "C2": "ba9d2706-d74d-5146-9f4d-34529325beda",  # (not a fixture) the discharge C2X cancels
    "C2X": "b5dbd181-5a35-52c5-800c-132c2d3bfcb4",  # cancel-discharge-inpatient-home
    "D1": "d1189719-a50a-527c-a521-d1c32600e479",  # (not a fixture) admission before the death
    "D2": "e7ffc372-bece-501f-8cc8-5d8b09175166",  # deceased-inpatient
    "CC1": "7b773c38-a67b-52ee-8ef9-16cfea933a3c",  # our CareCommunication, acknowledged/replied to
    "CC2": "3d23203a-b962-5c21-b1a2-d03f0811f66d",  # care-communication-reply
    "K1": "a8a41dd1-66b3-52c9-ae44-e57b11c0d558",  # acknowledgement-ok
    "K2": "f52e481a-9db6-50a3-8477-accfc3194e82",  # acknowledgement-fatal-error
}


def load(name: str) -> dict[str, Any]:
    """A fresh copy of a fixture, safe to mutate."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def resource(bundle: dict[str, Any], rtype: str, occurrence: int = -1) -> dict[str, Any]:
    """The n-th (default: last) resource of a type in a Bundle."""
    found: list[dict[str, Any]] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype
    ]
    return found[occurrence]
