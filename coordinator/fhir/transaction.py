"""Transaction Bundles (POST /fhir): every entry in the request's one unit of work, all or nothing.

Writes the facade carries out are listed in ``table.TRANSACTION_ENTRIES`` (a CarePlan create or update, a
CareTeam create, a Task update); a GET entry may be any read, vread, history, search or GET operation the
facade serves, run through the same table handlers (scopes checked, audited as on their own). Creates
run before updates, reads last (as FHIR orders them, so they see the writes); among creates, CarePlans
run before CareTeams, so a CareTeam can point at a CarePlan of the same Bundle by its ``fullUrl``
(``urn:uuid:...``): such references are replaced by the new ``CarePlan/{id}`` before the CareTeam is
read. An entry the facade cannot carry out is a 400 naming it and what is supported. The first failure
rolls everything back and is reported with the entry's index (``Bundle.entry[i]``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from flask import g

from coordinator.fhir.core import JSON, Context, FhirError, ResourceType, search_bundle
from coordinator.fhir.http import conditional_match, location, parse_etag, search_query
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
    if method == "GET":
        if _read_of(url) is None:
            raise _unsupported(index, method, url)
        return method, url, {}, request
    if (method, resource_type) not in TRANSACTION_ENTRIES:
        raise _unsupported(index, method, url)
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


def supported_entries() -> str:
    """What a transaction entry may be, in words (the 400 for any other entry says it)."""
    writes = ", ".join(f"{m} {t}" for m, t in sorted(TRANSACTION_ENTRIES))
    return (
        "GET of any read, vread, _history, search or GET operation the facade serves "
        f"(see metadata), {writes}"
    )


def _unsupported(index: int, method: str, url: str) -> FhirError:
    return FhirError(
        400,
        "not-supported",
        f"Bundle.entry[{index}]: {method} {url} is not supported in a transaction here "
        f"(supported: {supported_entries()})",
        expression=f"Bundle.entry[{index}].request",
    )


# (the table field a GET needs, the interaction) per shape of URL
_GET_SHAPES = {
    "search": ("search", "search"),
    "read": ("read", "read"),
    "history": ("history", "history"),
    "vread": ("vread", "vread"),
    "operation": ("operations", "operation"),
}


def _read_of(url: str) -> tuple[ResourceType, str, list[str], str] | None:
    """(type, shape, path segments after the type, query) of a GET entry the facade serves, else
    None."""
    path, _, query = url.partition("?")
    segments = [s for s in path.split("/") if s]
    rtype = BY_NAME.get(segments[0]) if segments else None
    if rtype is None:
        return None
    rest = segments[1:]
    match rest:
        case []:
            shape = "search"
        case [rid] if not rid.startswith("$"):
            shape = "read"
        case [_, "_history"]:
            shape = "history"
        case [_, "_history", _]:
            shape = "vread"
        case [_, operation] if operation.startswith("$") and rtype.operation(operation[1:]):
            shape = "operation"
        case _:
            return None
    if shape != "search" and query:
        return None
    field, _ = _GET_SHAPES[shape]
    return (rtype, shape, rest, query) if getattr(rtype, field) else None


def _get(ctx: Context, url: str) -> JSON:
    """A GET entry through the table's handler, as the router would run it on its own."""
    found = _read_of(url)
    assert found is not None  # checked in _entry
    rtype, shape, rest, query = found
    g.fhir_interaction = _GET_SHAPES[shape][1]
    if not (rtype.public and shape == "read"):
        operation = rtype.operation(rest[1][1:]) if shape == "operation" else None
        ctx.require_scope(rtype.scope, operation.scope_mode if operation else "read")
    if shape == "search":
        assert rtype.search is not None
        params = search_query(rtype, parse_qsl(query, keep_blank_values=True), strict=True)
        return {
            "resource": search_bundle(ctx, params, rtype.search(ctx, params)),
            "response": {"status": "200 OK"},
        }
    if shape == "read":
        assert rtype.read is not None
        return _response(ctx, rtype.read(ctx, rest[0]), "200 OK", located=False)
    if shape == "vread":
        assert rtype.vread is not None
        return _response(ctx, rtype.vread(ctx, rest[0], rest[2]), "200 OK", located=False)
    if shape == "history":
        # The router imports this module; its history Bundle is looked up when a history is asked for.
        from coordinator.fhir.routes import history_bundle  # noqa: PLC0415

        assert rtype.history is not None
        bundle = history_bundle(ctx, rtype, rest[0], rtype.history(ctx, rest[0]))
        return {"resource": bundle, "response": {"status": "200 OK"}}
    operation = rtype.operation(rest[1][1:])
    assert operation is not None
    return {"resource": operation.handler(ctx, rest[0]), "response": {"status": "200 OK"}}


def _response(ctx: Context, resource: JSON, status: str, *, located: bool = True) -> JSON:
    meta = resource.get("meta", {})
    response: JSON = {"status": status}
    if located:
        response["location"] = location(ctx, resource)
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
    reads = [i for i, (method, *_rest) in enumerate(checked) if method == "GET"]
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
    for index in reads:
        url = checked[index][1]
        g.fhir_entry, g.fhir_type = index, BY_NAME[url.split("/")[0].split("?")[0]].name
        results[index] = _get(ctx, url)
    g.fhir_entry = None
    g.fhir_type = None
    g.fhir_interaction = "transaction"
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [results[i] for i in range(len(raw))],
    }
