"""Transaction Bundles (POST /fhir): every entry in the request's one unit of work, all or nothing.

Entries the facade carries out are listed in ``table.TRANSACTION_ENTRIES`` (a CarePlan create or update,
a CareTeam create). Creates run before updates; among creates, CarePlans run before CareTeams, so a
CareTeam can point at a CarePlan of the same Bundle by its ``fullUrl`` (``urn:uuid:...``): such
references are replaced by the new ``CarePlan/{id}`` before the CareTeam is read. The first failure
rolls everything back and is reported with the entry's index (``Bundle.entry[i]``).
"""

from __future__ import annotations

from typing import Any

from flask import g

from coordinator.fhir.core import JSON, Context, FhirError
from coordinator.fhir.http import conditional_match, location, parse_etag
from coordinator.fhir.table import BY_NAME, TRANSACTION_ENTRIES
from pathways.errors import ValidationFailed, VersionRequired

# Creates in this order of resource types: what others may reference first.
CREATE_ORDER = ("CarePlan", "CareTeam")


def _resolve(value: Any, resolved: dict[str, str]) -> Any:
    """A copy of ``value`` with references to entries already made (by fullUrl) made literal."""
    if isinstance(value, dict):
        out = {k: _resolve(v, resolved) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in resolved:
            out["reference"] = resolved[ref]
        return out
    if isinstance(value, list):
        return [_resolve(v, resolved) for v in value]
    return value


def _entry(index: int, entry: Any) -> tuple[str, str, JSON, JSON]:
    """(method, url, resource, request) of one entry, checked."""
    where = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict):
        raise ValidationFailed.single(where, "an entry must be a JSON object", "structure")
    request = entry.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        raise ValidationFailed.single(
            f"{where}.request",
            "a transaction entry needs request.method and request.url",
            "required",
        )
    method = str(request.get("method", "")).upper()
    url = request["url"].strip("/")
    resource_type = url.split("/")[0].split("?")[0]
    if (method, resource_type) not in TRANSACTION_ENTRIES:
        supported = ", ".join(f"{m} {t}" for m, t in sorted(TRANSACTION_ENTRIES))
        raise ValidationFailed.single(
            f"{where}.request",
            f"{method} {url} is not supported in a transaction here (supported: {supported})",
            "not-supported",
        )
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        raise ValidationFailed.single(
            f"{where}.resource", f"a {method} entry needs a resource", "required"
        )
    if resource.get("resourceType") != resource_type:
        raise ValidationFailed.single(
            f"{where}.resource.resourceType",
            f"request.url names {resource_type}, the resource is {resource.get('resourceType')!r}",
            "invariant",
        )
    return method, url, resource, request


def _response(ctx: Context, resource: JSON, status: str) -> JSON:
    meta = resource.get("meta", {})
    response: JSON = {"status": status, "location": location(ctx, resource)}
    if "versionId" in meta:
        response["etag"] = f'W/"{meta["versionId"]}"'
    if "lastUpdated" in meta:
        response["lastModified"] = meta["lastUpdated"]
    return {"fullUrl": ctx.full_url(resource), "resource": resource, "response": response}


def run(ctx: Context, bundle: JSON) -> JSON:
    if bundle.get("resourceType") != "Bundle":
        raise ValidationFailed.single(
            "Bundle.resourceType", "POST a transaction Bundle to the base URL", "invalid"
        )
    if bundle.get("type") != "transaction":
        raise FhirError(
            422,
            "not-supported",
            f"Bundle type {bundle.get('type')!r} is not processed here: send a transaction "
            "(all or nothing)",
            expression="Bundle.type",
        )
    raw = bundle.get("entry", [])
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed.single("Bundle.entry", "a transaction needs entries", "required")
    checked = [_entry(i, e) for i, e in enumerate(raw)]
    creates = sorted(
        (i for i, (method, *_rest) in enumerate(checked) if method == "POST"),
        key=lambda i: CREATE_ORDER.index(checked[i][1].split("/")[0]),
    )
    updates = [i for i, (method, *_rest) in enumerate(checked) if method == "PUT"]
    resolved: dict[str, str] = {}
    results: dict[int, JSON] = {}
    for index in [*creates, *updates]:
        method, url, resource, request = checked[index]
        rtype = BY_NAME[url.split("/")[0]]
        g.fhir_entry, g.fhir_type = index, rtype.name
        ctx.require_scope(rtype.scope, "write")
        body = _resolve(resource, resolved)
        if method == "POST":
            assert rtype.create is not None
            existing = None
            if request.get("ifNoneExist"):
                existing = conditional_match(ctx, rtype, str(request["ifNoneExist"]))
            made = existing if existing is not None else rtype.create(ctx, body)
            results[index] = _response(ctx, made, "200 OK" if existing else "201 Created")
            full_url = raw[index].get("fullUrl")
            if isinstance(full_url, str) and full_url:
                resolved[full_url] = f"{made['resourceType']}/{made['id']}"
        else:
            assert rtype.update is not None
            parts = url.split("/")
            if len(parts) != 2:
                raise FhirError(
                    400,
                    "invalid",
                    "an update's request.url is <type>/<id>",
                    expression=f"Bundle.entry[{index}].request.url",
                )
            version = parse_etag(str(request["ifMatch"])) if request.get("ifMatch") else None
            try:
                updated = rtype.update(ctx, parts[1], body, version)
            except VersionRequired:  # raised once access is settled: told to an editor only
                raise FhirError(
                    428,
                    "required",
                    'an update needs request.ifMatch W/"<versionId>"',
                    expression=f"Bundle.entry[{index}].request.ifMatch",
                ) from None
            results[index] = _response(ctx, updated, "200 OK")
    g.fhir_entry = None
    g.fhir_type = None
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [results[i] for i in range(len(raw))],
    }
