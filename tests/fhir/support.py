"""A FHIR-speaking wrapper of the Flask test client and the checks every answer must pass."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from fhir.resources.R4B import get_fhir_model_class
from flask.testing import FlaskClient
from joserfc.jwk import RSAKey
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from coordinator.clients.services import register_client, save_issued_token
from fhir_adapters.careplan import SECTION_EXTENSION
from fhir_adapters.codesystems import PLAN_KIND
from fhir_adapters.common import to_json
from pathways.clock import Clock
from pathways.identifiers import (
    CPR_SYSTEM,
    GLN_SYSTEM,
    MUNICIPALITY_SYSTEM,
    REGION_SYSTEM,
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
)
from pathways.plan_content import section_fields
from pathways.plans import SectionKey
from tests import scenario as sc

FHIR_JSON = "application/fhir+json"
CONTENT_TYPE = "application/fhir+json; fhirVersion=4.0"
DK_ORGANISATION_SYSTEMS = {
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
    MUNICIPALITY_SYSTEM,
    REGION_SYSTEM,
    GLN_SYSTEM,
}


class Fhir:
    """``client.get("CarePlan/1")``: paths are relative to /fhir, bodies go out as FHIR JSON."""

    def __init__(self, client: FlaskClient, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = dict(headers or {})

    def _url(self, path: str) -> str:
        return "/fhir/" + path.lstrip("/") if path else "/fhir"

    def get(self, path: str, **headers: str) -> TestResponse:
        return self.client.get(self._url(path), headers={**self.headers, **headers})

    def post(
        self, path: str, body: Any, content_type: str = FHIR_JSON, **headers: str
    ) -> TestResponse:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post(
            self._url(path),
            data=data,
            content_type=content_type,
            headers={**self.headers, **headers},
        )

    def put(
        self, path: str, body: Any, content_type: str = FHIR_JSON, **headers: str
    ) -> TestResponse:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.put(
            self._url(path),
            data=data,
            content_type=content_type,
            headers={**self.headers, **headers},
        )

    def request(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        return self.client.open(self._url(path), method=method, **kwargs)


def parsed(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` after checking that fhir.resources' R4B model of its type reads it back unchanged."""
    model = get_fhir_model_class(data["resourceType"])
    again = to_json(model.model_validate(data))
    assert again == data, (again, data)
    return data


def resources(bundle: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for entry in bundle.get("entry", []):
        if "resource" in entry:
            yield entry["resource"]


def ids(bundle: dict[str, Any]) -> list[str]:
    return [r["id"] for r in resources(bundle)]


def next_path(bundle: dict[str, Any]) -> str | None:
    """The path (relative to /fhir) of the bundle's next page."""
    for link in bundle["link"]:
        if link["relation"] == "next":
            parts = urlsplit(link["url"])
            return parts.path.removeprefix("/fhir/") + "?" + parts.query
    return None


def pages(client: Fhir, first: str) -> list[list[str]]:
    """The ids of every page of a search, following its next links."""
    found: list[list[str]] = []
    path: str | None = first
    while path is not None:
        assert len(found) < 10, found  # a cursor that does not move on would page for ever
        bundle = ok(client.get(path))
        found.append(ids(bundle))
        path = next_path(bundle)
        if path is not None:
            assert "_cursor" in parse_qs(urlsplit(path).query)
            assert "total" not in bundle
    return found


def ok(response: TestResponse, status: int = 200) -> dict[str, Any]:
    """A successful FHIR answer: its status, FHIR JSON, and a body (and every resource in a Bundle)
    that the R4B models parse."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == CONTENT_TYPE
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = json.loads(response.get_data(as_text=True))
    parsed(body)
    for resource in resources(body):
        parsed(resource)
    return body


def outcome(
    response: TestResponse, status: int, code: str, expression: str | None = None
) -> dict[str, Any]:
    """A failure: the status, an OperationOutcome whose first issue has ``code`` (and, if given, an
    issue naming ``expression``)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == CONTENT_TYPE
    body: dict[str, Any] = parsed(json.loads(response.get_data(as_text=True)))
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == code, body
    if expression is not None:
        expressions = {e for issue in body["issue"] for e in issue.get("expression", [])}
        assert expression in expressions, body
    return body


def issues(body: dict[str, Any]) -> dict[str, str]:
    """{expression: code} of an OperationOutcome."""
    return {e: issue["code"] for issue in body["issue"] for e in issue.get("expression", [])}


def systems(resource: dict[str, Any]) -> set[str]:
    return {i["system"] for i in resource.get("identifier", [])}


def cpr_token(cpr: str) -> str:
    return f"{CPR_SYSTEM}|{cpr}"


def section_extensions(sections: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Plan sections (as the REST API takes them) as CarePlan plan-section extensions."""
    out = []
    for key, fields in sections.items():
        subs: list[dict[str, Any]] = [{"url": "section", "valueCode": key}]
        for name, value in fields.items():
            if isinstance(value, list):
                subs += [{"url": name, "valueString": item} for item in value]
            elif name == "date":
                subs.append({"url": name, "valueDate": value})
            else:
                subs.append({"url": name, "valueString": value})
        out.append({"url": SECTION_EXTENSION, "extension": subs})
    return out


def careplan_body(
    patient_id: int,
    ward_id: int,
    pathway_id: int,
    sections: dict[str, dict[str, Any]] | None = None,
    kind: str = "discharge-agreement",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "category": [{"coding": [{"system": PLAN_KIND.url, "code": kind}]}],
        "subject": {"reference": f"Patient/{patient_id}"},
        "author": {"reference": f"Organization/{ward_id}"},
        "encounter": {"reference": f"Encounter/{pathway_id}"},
    }
    if sections:
        body["extension"] = section_extensions(sections)
    return body


def sections_of(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The plan-section extensions of a CarePlan back as {section: {field: value}} (lists as lists)."""
    schema = section_fields()
    out: dict[str, dict[str, Any]] = {}
    for ext in plan.get("extension", []):
        if ext["url"] != SECTION_EXTENSION:
            continue
        subs = ext.get("extension", [])
        key = SectionKey(next(s["valueCode"] for s in subs if s["url"] == "section"))
        fields: dict[str, Any] = {}
        for sub in subs:
            name = sub["url"]
            if name == "section":
                continue
            value = sub.get("valueString", sub.get("valueDate"))
            if schema[key][name] == "list":
                fields.setdefault(name, []).append(value)
            else:
                fields[name] = value
        out[key.value] = fields
    return out


def bearer_token(
    session: Session, clock: Clock, organisation_id: int, scopes: str, name: str = "EHR"
) -> str:
    """A system client of the organisation with a live token for ``scopes`` (the token as the OAuth
    endpoint would have issued it; tests/fhir/test_live_clients.py goes through the endpoint)."""
    client = register_client(
        session,
        sc.SYSTEM,
        clock,
        organisation_id=organisation_id,
        name=name,
        scopes=scopes,
        jwks=public_jwks(),
    )
    token = f"token-{client.client_id}"
    save_issued_token(session, clock, client, access_token=token, scope=scopes, expires_in=300)
    return token


@cache
def signing_key(name: str = "ehr") -> RSAKey:
    """A fresh RSA key pair per name (made once per test run)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return RSAKey.import_key(private, {"kid": f"{name}-key"})


def public_jwks(name: str = "ehr") -> dict[str, Any]:
    return {"keys": [signing_key(name).as_dict(private=False)]}
