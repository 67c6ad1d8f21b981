"""The worklist of the logged-in person's role, shown as the start page (``web.index``).

Filters, search and paging are plain GET parameters: without JavaScript the form reloads the page; with
htmx only the results are swapped in and the address is pushed, so the back button and a bookmarked
address show the same list. Roles without a worklist (administrators, auditors) get their menu.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import sqlalchemy as sa
from flask import make_response, render_template, request, url_for
from flask.typing import ResponseReturnValue

from coordinator import edge
from coordinator.db import get_session
from coordinator.i18n import request_language
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.web.kit import actor, is_htmx, perform
from coordinator.worklists.queries import (
    PAGE_SIZES,
    ListKind,
    StayFilter,
    WorklistQuery,
    list_kind,
    worklist,
)
from pathways.labels import label_or_code
from pathways.worklists import WorkState

RESULTS_ID = "worklist-results"
_PARAMETERS = ("q", "state", "gaps", "ward", "stay", "per_page", "page")


def _integer(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _choice(name: str, enum: type[Any]) -> Any:
    value = request.args.get(name, "")
    return enum(value) if value in {m.value for m in enum} else None


def parse_query() -> WorklistQuery:
    """The filters of the address; a value that is not one of the choices counts as not given."""
    per_page = _integer("per_page")
    return WorklistQuery(
        state=_choice("state", WorkState),
        gaps_only=request.args.get("gaps") == "1",
        ward_id=_integer("ward"),
        stay=_choice("stay", StayFilter) or StayFilter.ALL,
        search=request.args.get("q", "")[:100],
        page=_integer("page") or 1,
        per_page=per_page if per_page in PAGE_SIZES else PAGE_SIZES[0],
    )


def _page_url(page: int) -> str:
    """The address of another page of the same list (the filters kept, the language choice not)."""
    args: dict[str, Any] = {k: request.args[k] for k in _PARAMETERS if request.args.get(k)}
    args["page"] = str(page)
    return url_for("web.index", **args)


def _page_numbers(page: int, pages: int) -> list[int | None]:
    """The page numbers to show: the first, the last and two around the current; None for a gap."""
    wanted = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    numbers: list[int | None] = []
    for number in wanted:
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


def show_worklist() -> ResponseReturnValue:
    person = actor()
    kind = list_kind(person)
    if kind is None:
        return _start_page()
    query = parse_query()
    found = perform(lambda: worklist(get_session(), person, edge.clock(), query))
    language = request_language()
    context = {
        "worklist": found,
        "query": query,
        "kinds": ListKind,
        "states": [(s.value, label_or_code("work_state", s, language)) for s in WorkState],
        "stays": list(StayFilter),
        "page_sizes": PAGE_SIZES,
        "page_url": _page_url,
        "page_numbers": _page_numbers(found.page, found.pages),
        "results_id": RESULTS_ID,
    }
    partial = is_htmx() and not request.headers.get("HX-History-Restore-Request")
    template = "worklists/_results.html" if partial else "worklists/index.html"
    response = make_response(render_template(template, **context))
    response.headers["Vary"] = "HX-Request"
    return response


def _start_page() -> str:
    """Administrators and auditors: their screens, and how the service is doing."""
    session = get_session()
    counts = {
        "organisations": session.scalar(sa.select(sa.func.count(Organisation.id))) or 0,
        "patients": session.scalar(sa.select(sa.func.count(Patient.id))) or 0,
    }
    return render_template("worklists/start.html", counts=counts, app_version=version("carepath"))
