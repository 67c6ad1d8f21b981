"""The /fhir blueprint: one catch-all rule and a small router that reads coordinator.fhir.table.

Every request is one unit of work (committed once at the end, rolled back on any error), JSON only
(``application/fhir+json; fhirVersion=4.0`` out; ``application/fhir+json`` or ``application/json`` in,
415 otherwise), and every failure is an OperationOutcome (coordinator.fhir.errors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Blueprint, Response, current_app, g, request, url_for
from werkzeug.datastructures import MultiDict

from coordinator import edge
from coordinator.db import get_session
from coordinator.fhir import errors, transaction
from coordinator.fhir.core import JSON, Context, FhirError, ResourceType, search_bundle
from coordinator.fhir.http import (
    FORM,
    check_format,
    conditional_match,
    expected_version,
    json_body,
    resource_response,
    respond,
    search_query,
    strict,
)
from coordinator.fhir.table import BY_NAME, RESOURCES, SYSTEM_INTERACTIONS, SYSTEM_OPERATIONS
from coordinator.inputs import MESSAGE
from fhir_adapters.capability import capability_statement
from fhir_adapters.common import to_json
from pathways.errors import FieldError, ValidationFailed

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
SECURITY = (
    "OAuth2 client credentials with a signed JWT (SMART Backend Services, private_key_jwt) for "
    "systems, or the web session. A system client is held to its token's system/<Resource>.read|write "
    "scopes; every read and search of patient data needs a current care relation (§13c) and is "
    "audited, refusals included."
)


def _base_url() -> str:
    configured = current_app.config.get("FHIR_BASE_URL")
    return str(configured).rstrip("/") if configured else request.url_root.rstrip("/") + "/fhir"


def _context() -> Context:
    return Context(
        session=get_session(),
        clock=edge.clock(),
        base_url=_base_url(),
        authenticate=edge.current_actor,
    )


# ---------------------------------------------------------------------------- interactions
@dataclass(frozen=True, slots=True)
class Target:
    """What a URL under /fhir names: a ``shape`` (type, _search, instance, history, version, operation)
    of a resource type, with the id and the version or operation name where the shape has them."""

    rtype: ResourceType
    shape: str
    rid: str = ""
    extra: str = ""

    def describe(self) -> str:
        parts = [self.rtype.name, self.rid]
        parts += {"_search": ["_search"], "history": ["_history"], "version": ["_history"]}.get(
            self.shape, []
        )
        parts += [self.extra] if self.shape != "operation" else [f"${self.extra}"]
        return "/".join(p for p in parts if p)


def _target(rtype: ResourceType, rest: list[str]) -> Target:
    match rest:
        case []:
            return Target(rtype, "type")
        case ["_search"]:
            return Target(rtype, "_search")
        case [rid] if not rid.startswith("$"):
            return Target(rtype, "instance", rid)
        case [rid, "_history"]:
            return Target(rtype, "history", rid)
        case [rid, operation] if operation.startswith("$") and rtype.operation(operation[1:]):
            return Target(rtype, "operation", rid, operation[1:])
        case [rid, "_history", vid]:
            return Target(rtype, "version", rid, vid)
    raise FhirError(
        404,
        "not-supported",
        f"/fhir/{rtype.name}/{'/'.join(rest)} is not served here (see metadata)",
    )


def _search(ctx: Context, t: Target, args: Any) -> Response:
    assert t.rtype.search is not None
    g.fhir_interaction = "search"
    ctx.require_scope(t.rtype.scope, "read")
    query = search_query(t.rtype, args, strict=strict())
    return respond(search_bundle(ctx, query, t.rtype.search(ctx, query)))


def _search_get(ctx: Context, t: Target) -> Response:
    return _search(ctx, t, request.args)


def _search_post(ctx: Context, t: Target) -> Response:
    """POST <type>/_search with a form body: the parameters (a CPR number) stay out of the URL."""
    if request.mimetype != FORM:
        raise FhirError(415, "not-supported", f"POST _search takes {FORM}")
    args: MultiDict[str, str] = MultiDict(request.args)
    for name, value in request.form.items(multi=True):
        args.add(name, value)
    return _search(ctx, t, args)


def _create(ctx: Context, t: Target) -> Response:
    assert t.rtype.create is not None
    g.fhir_interaction = "create"
    body = json_body()
    ctx.require_scope(t.rtype.scope, "write")
    condition = request.headers.get("If-None-Exist")
    if condition:
        existing = conditional_match(ctx, t.rtype, condition)
        if existing is not None:
            return resource_response(ctx, existing, 200)
    return resource_response(ctx, t.rtype.create(ctx, body), 201)


def _update(ctx: Context, t: Target) -> Response:
    assert t.rtype.update is not None
    g.fhir_interaction = "update"
    body = json_body()
    ctx.require_scope(t.rtype.scope, "write")
    return resource_response(ctx, t.rtype.update(ctx, t.rid, body, expected_version()), 200)


def _read(ctx: Context, t: Target) -> Response:
    assert t.rtype.read is not None
    g.fhir_interaction = "read"
    if not t.rtype.public:
        ctx.require_scope(t.rtype.scope, "read")
    return resource_response(ctx, t.rtype.read(ctx, t.rid), 200)


def _vread(ctx: Context, t: Target) -> Response:
    assert t.rtype.vread is not None
    g.fhir_interaction = "vread"
    ctx.require_scope(t.rtype.scope, "read")
    return resource_response(ctx, t.rtype.vread(ctx, t.rid, t.extra), 200)


def _history(ctx: Context, t: Target) -> Response:
    assert t.rtype.history is not None
    g.fhir_interaction = "history"
    ctx.require_scope(t.rtype.scope, "read")
    return respond(history_bundle(ctx, t.rtype, t.rid, t.rtype.history(ctx, t.rid)))


def _operation(ctx: Context, t: Target) -> Response:
    operation = t.rtype.operation(t.extra)
    assert operation is not None
    g.fhir_interaction = "operation"
    ctx.require_scope(t.rtype.scope, operation.scope_mode)
    return respond(operation.handler(ctx, t.rid))


Handler = Callable[[Context, Target], Response]
# (shape, method) -> the handler, and the table field that must be set for it to be served.
INTERACTIONS: dict[tuple[str, str], tuple[Handler, str]] = {
    ("type", "GET"): (_search_get, "search"),
    ("type", "POST"): (_create, "create"),
    ("_search", "POST"): (_search_post, "search"),
    ("instance", "GET"): (_read, "read"),
    ("instance", "PUT"): (_update, "update"),
    ("history", "GET"): (_history, "history"),
    ("version", "GET"): (_vread, "vread"),
    ("operation", "GET"): (_operation, "operations"),
    ("operation", "POST"): (_operation, "operations"),
}


def _allowed(t: Target) -> list[str]:
    allowed = [
        method
        for (shape, method), (_, field) in INTERACTIONS.items()
        if shape == t.shape and getattr(t.rtype, field)
    ]
    return [*allowed, "HEAD"] if "GET" in allowed else allowed


def _refuse(method: str, allowed: list[str], what: str) -> Response:
    headers = {"Allow": ", ".join(allowed)}
    if method == "OPTIONS":
        return Response(status=204, headers=headers)
    raise FhirError(405, "not-supported", f"{method} is not supported on {what}", headers=headers)


def history_bundle(ctx: Context, rtype: ResourceType, rid: str, found: list[JSON]) -> JSON:
    entries = []
    for resource in found:
        meta = resource.get("meta", {})
        first = meta.get("versionId") == "1"
        response: JSON = {"status": "201" if first else "200"}
        if "versionId" in meta:
            response["etag"] = f'W/"{meta["versionId"]}"'
        if "lastUpdated" in meta:
            response["lastModified"] = meta["lastUpdated"]
        entries.append(
            {
                "fullUrl": ctx.full_url(resource),
                "resource": resource,
                "request": {
                    "method": "POST" if first else "PUT",
                    "url": f"{rtype.name}/{resource['id']}",
                },
                "response": response,
            }
        )
    bundle: JSON = {
        "resourceType": "Bundle",
        "type": "history",
        "total": len(entries),
        "link": [{"relation": "self", "url": f"{ctx.base_url}/{rtype.name}/{rid}/_history"}],
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def capability(ctx: Context) -> JSON:
    """The CapabilityStatement, rendered from the table (coordinator.fhir.table)."""
    token_url = current_app.config.get("OAUTH2_TOKEN_URL") or url_for("oauth.token", _external=True)
    try:
        software_version = version("carepath")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
        software_version = "0"
    statement = to_json(
        capability_statement(
            [r.support() for r in RESOURCES],
            base_url=ctx.base_url,
            date=ctx.clock.now(),
            software_version=software_version,
            security_description=SECURITY,
            oauth_token_url=token_url,
            system_interactions=SYSTEM_INTERACTIONS,
        )
    )
    rest = statement["rest"][0]
    for entry in rest["resource"]:
        if BY_NAME[entry["type"]].conditional_create:
            entry["conditionalCreate"] = True
    operations = [
        {"name": name, "definition": definition, "documentation": documentation}
        for name, (definition, documentation) in SYSTEM_OPERATIONS.items()
        if _other_methods(f"/fhir/${name}")
    ]
    if operations:
        rest["operation"] = operations
    return statement


def _other_methods(path: str) -> list[str]:
    """The methods another blueprint serves at exactly ``path`` (e.g. POST /fhir/$process-message)."""
    return sorted(
        {
            method
            for rule in current_app.url_map.iter_rules()
            if rule.rule == path and not rule.endpoint.startswith(f"{bp.name}.")
            for method in rule.methods or ()
            if method not in ("HEAD", "OPTIONS")
        }
    )


def _system(ctx: Context, segments: list[str], method: str) -> Response:
    """The base URL (transactions) and metadata."""
    if not segments:
        if method != "POST":
            return _refuse(method, ["POST"], "the base URL (POST a transaction Bundle)")
        g.fhir_interaction = "transaction"
        ctx.actor  # noqa: B018 - authenticate before looking at the body
        _guard()
        return respond(transaction.run(ctx, json_body()))
    if method != "GET":
        return _refuse(method, ["GET", "HEAD"], "metadata")
    _guard()
    return respond(capability(ctx))


def _route(ctx: Context, segments: list[str], method: str) -> Response:
    if segments in ([], ["metadata"]):
        return _system(ctx, segments, method)
    if segments[0].startswith("$"):  # a system-level operation: only other packages serve some
        served = _other_methods(f"/fhir/{segments[0]}")
        if len(segments) > 1 or not served:
            raise FhirError(404, "not-supported", f"operation {segments[0]} is not served here")
        return _refuse(method, served, segments[0])
    rtype = BY_NAME.get(segments[0])
    if rtype is None:
        raise FhirError(
            404, "not-supported", f"resource type {segments[0]!r} is not served here (see metadata)"
        )
    g.fhir_type = rtype.name
    if not rtype.public:
        ctx.actor  # noqa: B018 - authenticate before saying what exists
    _guard()
    target = _target(rtype, segments[1:])
    found = INTERACTIONS.get((target.shape, method))
    if found is None or not getattr(rtype, found[1]):
        return _refuse(method, _allowed(target), target.describe())
    return found[0](ctx, target)


def _guard() -> None:
    """The edge's input guards (size, nesting, NUL; coordinator.edge), after the caller is known: NUL in
    a parameter is a 400, in a resource a 422 with the FHIRPath of the value. Bodies are JSON or, for
    POST _search, a form: each interaction checks its own media type."""
    found = edge.guard_input(json_only=False)
    if found.query:
        raise FhirError(400, "invalid", f"parameter(s) {', '.join(found.query)}: {MESSAGE}")
    if found.body:
        body = request.get_json(force=True, silent=True)
        root = str(body.get("resourceType") or "Resource") if isinstance(body, dict) else "Resource"
        raise ValidationFailed([FieldError(f"{root}.{p}", MESSAGE, "value") for p in found.body])


def dispatch(path: str = "") -> Response:
    segments = path.split("/") if path else []
    if segments and segments[-1] == "":
        segments.pop()
    method = "GET" if request.method == "HEAD" else request.method
    check_format()
    return edge.unit_of_work(lambda: _route(_context(), segments, method))


def _handle_error(error: Exception) -> Response:
    answer = errors.answer_for(error)
    return respond(answer.body, answer.status, answer.headers)


def _no_redirects(response: Response) -> Response:
    """The web session's hooks (idle timeout, a password to change) answer with a redirect to a page:
    under /fhir that is a 401 OperationOutcome instead."""
    if 300 <= response.status_code < 400:
        answer = errors.answer_for(
            FhirError(
                401,
                "login",
                "the web session has ended or needs a new password; log in again or send a "
                "bearer token",
                headers={"WWW-Authenticate": errors.BEARER_CHALLENGE},
            )
        )
        return respond(answer.body, answer.status, answer.headers)
    return response


bp.add_url_rule("", "root", dispatch, methods=METHODS)
bp.add_url_rule("/", "root_slash", dispatch, methods=METHODS)
bp.add_url_rule("/<path:path>", "dispatch", dispatch, methods=METHODS)
bp.register_error_handler(Exception, _handle_error)
bp.after_request(_no_redirects)
