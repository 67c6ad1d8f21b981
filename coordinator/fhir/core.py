"""What every part of the FHIR facade shares: the request context, errors that carry an HTTP status, the
declarative description of a served resource type, search requests and results, and Bundles."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from coordinator.edge import require_scope
from fhir_adapters.capability import Operation, ResourceSupport, SearchParam
from pathways.clock import Clock
from pathways.people import Actor
from pathways.scopes import actor_scope_allows

JSON = dict[str, Any]
FHIR_JSON = "application/fhir+json"
CONTENT_TYPE = f"{FHIR_JSON}; fhirVersion=4.0"
Mode = Literal["read", "write"]


def validate_output() -> bool:
    """Whether the resources we build are validated with fhir.resources before we answer with them
    (FHIR_VALIDATE_OUTPUT, ADR 0007). Outside an application (a script, a test of a service) always."""
    return not has_app_context() or bool(current_app.config.get("FHIR_VALIDATE_OUTPUT", True))


class FhirError(Exception):
    """An answer the facade gives itself: an HTTP status and a one-issue OperationOutcome."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        *,
        expression: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression
        self.headers = dict(headers or {})


def not_found(diagnostics: str) -> FhirError:
    return FhirError(404, "not-found", diagnostics)


def bad_search(diagnostics: str) -> FhirError:
    """A search parameter that cannot be used as given: FHIR answers 400."""
    return FhirError(400, "invalid", diagnostics)


def int_id(resource_type: str, rid: str) -> int:
    """One of our integer ids; anything else names no resource here (404)."""
    if rid.isascii() and rid.isdigit() and 0 < int(rid) <= 2**31 - 1:
        return int(rid)
    raise not_found(f"{resource_type}/{rid} is not known here")


@dataclass
class Context:
    """One request (or one transaction entry): the unit of work, the clock, the base URL and the caller.

    The caller is looked up on first use, so the CapabilityStatement and CodeSystems need no login.
    """

    session: Session
    clock: Clock
    base_url: str
    authenticate: Callable[[], Actor]
    _actor: Actor | None = None

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            self._actor = self.authenticate()
        return self._actor

    def require_scope(self, resource: str | None, mode: Mode) -> None:
        """A system client is held to its token's SMART scopes for the resource type it asks for (people
        and jobs have no scopes: their role decides, in the use cases)."""
        require_scope(self.actor, resource, mode)

    def allows(self, resource: str, mode: Mode) -> bool:
        """Whether the caller's scopes cover ``resource`` (always true for people and jobs)."""
        return actor_scope_allows(self.actor, resource, mode)

    def full_url(self, resource: Mapping[str, Any]) -> str:
        return f"{self.base_url}/{resource['resourceType']}/{resource['id']}"


# ---------------------------------------------------------------------------- search
@dataclass(frozen=True, slots=True)
class Param:
    """A search parameter as the table declares it; ``chains`` are the chained names it accepts
    (``patient`` with chain ``identifier`` accepts ``patient.identifier``)."""

    name: str
    type: str
    documentation: str
    definition: str = ""
    chains: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[str, ...]:
        return (self.name, *(f"{self.name}.{chain}" for chain in self.chains))

    def capability(self) -> SearchParam:
        doc = self.documentation
        if self.chains:
            doc += " Chained: " + ", ".join(self.accepted[1:]) + "."
        return SearchParam(self.name, self.type, doc, self.definition)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A validated search: the known parameters (name, raw value) in request order, the page size, the
    keyset cursor and the _include values. Unknown parameters are not in it (see the self link)."""

    resource_type: str
    params: tuple[tuple[str, str], ...] = ()
    count: int = 50
    cursor: str | None = None
    includes: tuple[str, ...] = ()
    count_given: bool = False

    def values(self, name: str) -> list[str]:
        """Every occurrence of ``name`` (occurrences AND; commas inside one value OR)."""
        return [value for key, value in self.params if key == name]

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.params)

    def link(
        self,
        base_url: str,
        cursor: str | None = None,
        params: tuple[tuple[str, str], ...] | None = None,
    ) -> str:
        """The URL of this search (``params`` in place of the request's, see SearchResult)."""
        pairs = list(self.params if params is None else params)
        if self.count_given or cursor is not None:
            pairs.append(("_count", str(self.count)))
        pairs += [("_include", include) for include in self.includes]
        if cursor is not None:
            pairs.append(("_cursor", cursor))
        elif self.cursor is not None:
            pairs.append(("_cursor", self.cursor))
        query = urlencode(pairs)
        return f"{base_url}/{self.resource_type}" + (f"?{query}" if query else "")


def split_values(value: str) -> list[str]:
    """The OR-ed values of one parameter occurrence (``a,b``); ``\\,`` is a literal comma."""
    parts, current, escaped = [], "", False
    for char in value:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p != ""]


# The id a link names when a search by identifier found nothing: no resource here has it (our ids are
# numbers), so the link repeats the empty result without carrying the identifier.
NO_MATCH_ID = "none"


@dataclass
class SearchResult:
    """A page of matches and includes. ``link_params``, when set, stand in for the request's parameters
    in the self and next links: a search by CPR links to its resolved equivalent (``_id=7``,
    ``patient=Patient/7``), so that no CPR number is in a URL carepath builds."""

    matches: list[JSON]
    includes: list[JSON] = field(default_factory=list)
    next_cursor: str | None = None
    link_params: tuple[tuple[str, str], ...] | None = None


def resolved_params(
    query: SearchQuery,
    replaced: tuple[str, ...],
    name: str,
    values: list[str],
    nothing: str = NO_MATCH_ID,
) -> tuple[tuple[str, str], ...]:
    """The query's parameters with those in ``replaced`` taken out and ``name`` set to ``values``
    (OR-ed), or to ``nothing`` when there are none: what a search links to in place of identifiers."""
    kept = tuple((key, value) for key, value in query.params if key not in replaced)
    return (*kept, (name, ",".join(values) if values else nothing))


def searchset(
    ctx: Context,
    self_url: str,
    result: SearchResult,
    *,
    next_url: str | None = None,
    total: int | None = None,
) -> JSON:
    """A searchset Bundle: matches first, then included resources (each resource once)."""
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    entries: list[JSON] = []
    seen: set[str] = set()
    for mode, resources in (("match", result.matches), ("include", result.includes)):
        for resource in resources:
            url = ctx.full_url(resource)
            if url in seen:
                continue
            seen.add(url)
            entries.append({"fullUrl": url, "resource": resource, "search": {"mode": mode}})
    bundle: JSON = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return bundle


def search_bundle(ctx: Context, query: SearchQuery, result: SearchResult) -> JSON:
    """The Bundle for a search: a self link with the parameters used (a search by CPR: their resolved
    equivalent), a next link (keyset cursor) when the page is full, and the total when everything
    fitted on the first page."""
    params = result.link_params
    next_url = None
    if result.next_cursor is not None:
        next_url = query.link(ctx.base_url, result.next_cursor, params)
    total = len(result.matches) if next_url is None and query.cursor is None else None
    self_url = query.link(ctx.base_url, params=params)
    return searchset(ctx, self_url, result, next_url=next_url, total=total)


# ---------------------------------------------------------------------------- the table's row type
Read = Callable[[Context, str], JSON]
VRead = Callable[[Context, str, str], JSON]
History = Callable[[Context, str], list[JSON]]
Search = Callable[[Context, SearchQuery], SearchResult]
Matches = Callable[[Context, SearchQuery], list[JSON]]
Create = Callable[[Context, JSON], JSON]
Update = Callable[[Context, str, JSON, int | None], JSON]
OperationHandler = Callable[[Context, str], JSON]


@dataclass(frozen=True, slots=True)
class InstanceOperation:
    name: str  # without the $
    definition: str
    documentation: str
    handler: OperationHandler
    scope_mode: Mode = "read"


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One served resource type: what the CapabilityStatement says and what the router calls are the same
    fields, so the statement lists exactly what is supported."""

    name: str
    documentation: str
    scope: str | None  # the SMART scope resource a system client needs (None: none needed)
    read: Read | None = None
    vread: VRead | None = None
    history: History | None = None
    search: Search | None = None
    params: tuple[Param, ...] = ()
    includes: tuple[str, ...] = ()
    max_count: int = 100
    create: Create | None = None
    conditional_create: bool = False
    # What If-None-Exist matches, where that is more than the caller's search finds (default: search).
    conditional: Matches | None = None
    update: Update | None = None
    operations: tuple[InstanceOperation, ...] = ()
    versioning: str = "versioned-update"
    public: bool = False  # served without authentication (terminology, no patient data)

    def interactions(self) -> tuple[str, ...]:
        handlers = (
            ("read", self.read),
            ("vread", self.vread),
            ("update", self.update),
            ("history-instance", self.history),
            ("create", self.create),
            ("search-type", self.search),
        )
        return tuple(code for code, handler in handlers if handler is not None)

    def accepted_params(self) -> dict[str, Param]:
        return {name: param for param in self.params for name in param.accepted}

    def operation(self, name: str) -> InstanceOperation | None:
        return next((o for o in self.operations if o.name == name), None)

    def support(self) -> ResourceSupport:
        return ResourceSupport(
            type=self.name,
            interactions=self.interactions(),
            search_params=tuple(p.capability() for p in self.params),
            documentation=self.documentation,
            versioning=self.versioning,
            read_history=False,
            search_includes=self.includes,
            operations=tuple(
                Operation(o.name, o.definition, o.documentation) for o in self.operations
            ),
        )
