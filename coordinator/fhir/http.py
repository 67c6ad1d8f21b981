"""Reading FHIR requests and writing FHIR responses: content types, bodies, ETags, search parameters
checked against the table, and conditional create (If-None-Exist)."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import parse_qsl

from flask import Response, g, request
from werkzeug.datastructures import MultiDict
from werkzeug.http import http_date

from coordinator.edge import etag_version
from coordinator.fhir.core import CONTENT_TYPE, JSON, Context, FhirError, ResourceType, SearchQuery
from coordinator.fhir.table import COUNT, CURSOR, FORMAT, INCLUDE

BODY_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
FORM = "application/x-www-form-urlencoded"
JSON_FORMATS = frozenset(
    {"json", "application/json", "application/fhir+json", "application/json+fhir"}
)
IGNORED_RESULT_PARAMS = frozenset({FORMAT, "_pretty"})


# ---------------------------------------------------------------------------- requests and responses
def check_format() -> None:
    wanted = request.args.get(FORMAT)
    # An unescaped + in a query string arrives as a space (_format=application/fhir+json).
    if wanted is not None and wanted.split(";")[0].strip().replace(" ", "+") not in JSON_FORMATS:
        raise FhirError(406, "not-supported", "this server speaks JSON only (_format=json)")
    accept = request.accept_mimetypes
    if accept and accept.best_match(sorted(BODY_TYPES)) is None:
        raise FhirError(406, "not-supported", "this server answers application/fhir+json only")


def json_body() -> JSON:
    if request.mimetype not in BODY_TYPES:
        raise FhirError(
            415, "not-supported", "send the resource as application/fhir+json or application/json"
        )
    try:
        data = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise FhirError(400, "structure", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise FhirError(400, "structure", "the body must be a JSON object (a FHIR resource)")
    return data


def respond(
    body: JSON | None, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    text = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = Response(text, status=status, content_type=CONTENT_TYPE)
    # Patient data: no copy in a shared cache or a browser's disk cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


def version_headers(resource: JSON) -> dict[str, str]:
    meta = resource.get("meta", {})
    headers = {}
    if "versionId" in meta:
        headers["ETag"] = f'W/"{meta["versionId"]}"'
    if "lastUpdated" in meta:
        headers["Last-Modified"] = http_date(datetime.fromisoformat(meta["lastUpdated"]))
    return headers


def location(ctx: Context, resource: JSON) -> str:
    url = ctx.full_url(resource)
    vid = resource.get("meta", {}).get("versionId")
    return f"{url}/_history/{vid}" if vid else url


def resource_response(ctx: Context, resource: JSON, status: int) -> Response:
    headers = version_headers(resource)
    if status == 201:
        headers["Location"] = location(ctx, resource)
    prefer = request.headers.get("Prefer", "")
    if request.method in ("POST", "PUT") and "return=minimal" in prefer:
        return respond(None, status, headers)
    return respond(resource, status, headers)


def strict() -> bool:
    return "handling=strict" in request.headers.get("Prefer", "").replace(" ", "")


def expected_version() -> int | None:
    """The version an update edits, from If-Match (W/"n" or "n"), or None without it: the use case
    answers 428 for a missing version once it has settled access (a stranger is refused either way)."""
    raw = request.headers.get("If-Match")
    return parse_etag(raw) if raw else None


def parse_etag(raw: str) -> int:
    version = etag_version(raw)
    if version is None:
        raise FhirError(412, "conflict", f'If-Match {raw!r} names no version (use W/"<n>")')
    return version


# ---------------------------------------------------------------------------- search parameters
def search_query(
    rtype: ResourceType, args: MultiDict[str, str] | list[tuple[str, str]], *, strict: bool
) -> SearchQuery:
    """The parameters the table declares for ``rtype``; unknown ones are refused (strict) or left out
    (lenient: the self link then shows what was used)."""
    accepted = rtype.accepted_params()
    pairs = args.items(multi=True) if isinstance(args, MultiDict) else args
    params: list[tuple[str, str]] = []
    includes: list[str] = []
    unknown: list[str] = []
    count, cursor, count_given = min(50, rtype.max_count), None, False
    for name, value in pairs:
        if name == COUNT:
            if not (value.isascii() and value.isdigit() and int(value) > 0):
                raise FhirError(400, "invalid", f"{COUNT} must be a whole number of 1 or more")
            count, count_given = min(int(value), rtype.max_count), True
        elif name == CURSOR:
            cursor = value
        elif name == INCLUDE and value in rtype.includes:
            includes.append(value)
        elif name == INCLUDE:
            unknown.append(f"{INCLUDE}={value}")
        elif name in IGNORED_RESULT_PARAMS:
            continue
        elif name in accepted:
            params.append((name, value))
        else:
            unknown.append(name)
    if unknown and strict:
        known = ", ".join([*accepted, COUNT, INCLUDE]) if accepted else "none"
        raise FhirError(
            400,
            "not-supported",
            f"{rtype.name} does not support the search parameter(s) {', '.join(unknown)} "
            f"(supported: {known})",
        )
    return SearchQuery(
        resource_type=rtype.name,
        params=tuple(params),
        count=count,
        cursor=cursor,
        includes=tuple(includes),
        count_given=count_given,
    )


def conditional_match(ctx: Context, rtype: ResourceType, condition: str) -> JSON | None:
    """If-None-Exist: the one resource the search names (then nothing is created), None for no match,
    412 for several."""
    if not rtype.conditional_create or rtype.search is None:
        raise FhirError(400, "not-supported", f"{rtype.name} does not support conditional create")
    pairs = parse_qsl(condition.lstrip("?"), keep_blank_values=True)
    if not pairs:
        raise FhirError(400, "invalid", "If-None-Exist needs search parameters")
    query = search_query(rtype, [*pairs, (COUNT, "2")], strict=True)
    interaction = g.get("fhir_interaction")
    g.fhir_interaction = "search"
    matches = (
        rtype.conditional(ctx, query) if rtype.conditional else rtype.search(ctx, query).matches
    )
    g.fhir_interaction = interaction
    if len(matches) > 1:
        raise FhirError(
            412, "multiple-matches", f"If-None-Exist {condition!r} matches several resources"
        )
    return matches[0] if matches else None
