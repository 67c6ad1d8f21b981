"""The web pages' benchmark (``pages``, issue 20): server time and SQL statements per page, on the REST
benchmark's data set (``bench.load``, schema carepath_bench: 100,000 patients, about 150 current stays per
ward).

Each page is fetched through Flask's test client of a real app, logged in (session cookie) as the benchmark
user whose page it is:

- ward worklist: ``GET /`` and ``GET /?page=2`` as the discharge nurse of the first ward;
- municipality worklist: ``GET /?per_page=50`` as the case worker in København;
- patient page: ``GET /patients/<id>`` as the nurse, cycling through patients with a current stay on her
  ward;
- plan editor: ``GET /plans/<id>`` as the nurse, cycling through those patients' draft and proposed plans.

Printed: median and p95 of the server time against the issue's target (median <= 50 ms; printed, never
asserted), the SQL statements of one request and the statements it runs more than once (an N+1 shows up
there), and beside it a reference "floor": the page's main list in raw SQL, the audit row of each patient
shown, and a commit (the legal minimum of such a read). The floor approximates what the issue asks each
page to list; it is not the page's own query. A page that is not there yet (no route, or 404) is reported
as skipped with the reason, so the harness measures each page once it is merged.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from psycopg.rows import dict_row
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RoutingException

from bench import load as loader
from bench import run
from coordinator.care_pathways.models import Pathway
from coordinator.care_pathways.queries import CURRENT as CURRENT_STAYS
from coordinator.db import get_database
from coordinator.reminders.models import StoredRank
from coordinator.reminders.scan import evaluate_pathways
from pathways.clock import SystemClock
from pathways.organisations import Sector
from pathways.plans import PlanStatus
from pathways.stays import PathwayStatus

TARGET_MS = 50.0  # the goal for each page's median server time: printed, never asserted
SAMPLES = 50  # patients and plans cycled through
PER_PAGE = 50
CURRENT = [PathwayStatus.ADMITTED.value, PathwayStatus.ON_LEAVE.value]
EDITABLE = [PlanStatus.DRAFT.value, PlanStatus.PROPOSED.value]
OPEN_PLAN = "p.status NOT IN ('ended', 'withdrawn')"

# -- the floors: what each page must list, in raw SQL (the rows the issue names, not the page's query)
_STAY_ROW = (
    """
SELECT w.id, w.patient_id, pt.cpr, pt.given_name, pt.family_name, pt.kommunekode, w.status,
       w.admitted_at, w.planned_discharge_on, w.discharged_at, w.requirement_assessed_at,
       p.id AS plan_id, p.kind AS plan_kind, p.status AS plan_status,
       (SELECT coalesce(json_agg(json_build_object('role', pp.role, 'response', pp.response)
                                 ORDER BY pp.id), '[]')
          FROM plan_participants pp WHERE pp.plan_id = p.id) AS parties
FROM pathways w
JOIN patients pt ON pt.id = w.patient_id
LEFT JOIN plans p ON p.pathway_id = w.id AND """
    + OPEN_PLAN
)
# The nurse's ward: its current stays, the next planned discharge first, a page at a time.
FLOOR_WARD = (
    _STAY_ROW
    + " WHERE w.ward_id = %s AND w.status = ANY(%s)"
    + " ORDER BY w.planned_discharge_on, w.id LIMIT %s OFFSET %s"
)
# The municipality's citizens who are admitted or were discharged in the last 30 days, a page of 50.
FLOOR_MUNICIPALITY = (
    _STAY_ROW
    + " WHERE pt.kommunekode = %s AND (w.status = ANY(%s)"
    + " OR w.discharged_at > now() - interval '30 days')"
    + " ORDER BY w.planned_discharge_on NULLS LAST, w.id LIMIT %s OFFSET %s"
)
# The patient page: the patient, the stays, and the plans with their parties' answers, in one statement.
FLOOR_PATIENT = """
SELECT pt.id AS patient_id, pt.cpr, pt.given_name, pt.family_name, pt.kommunekode, pt.gp_organisation_id,
       pt.is_protected,
       (SELECT coalesce(json_agg(json_build_object(
                   'id', w.id, 'ward_id', w.ward_id, 'status', w.status, 'admitted_at', w.admitted_at,
                   'planned_discharge_on', w.planned_discharge_on, 'discharged_at', w.discharged_at)
                   ORDER BY w.admitted_at), '[]')
          FROM pathways w WHERE w.patient_id = pt.id) AS stays,
       (SELECT coalesce(json_agg(json_build_object(
                   'id', p.id, 'kind', p.kind, 'status', p.status, 'created_at', p.created_at,
                   'parties', (SELECT json_agg(json_build_object(
                                   'role', pp.role, 'organisation_id', pp.organisation_id,
                                   'response', pp.response, 'responded_at', pp.responded_at)
                                   ORDER BY pp.id)
                                 FROM plan_participants pp WHERE pp.plan_id = p.id))
                   ORDER BY p.created_at DESC, p.id DESC), '[]')
          FROM plans p WHERE p.patient_id = pt.id) AS plans
FROM patients pt WHERE pt.id = %s
"""
AUDIT_INSERT = (
    "INSERT INTO audit_entries (occurred_at, actor_kind, actor_id, actor_name, actor_organisation_id, "
    "patient_id, resource_type, resource_id, action, purpose, outcome, channel, request_id, details) "
    "VALUES (now(), 'user', 1, 'bench floor', 1, %s, %s, %s, 'read', 'bench floor', 'allowed', "
    "'web', 'bench-floor', '{}')"
)


@dataclass
class PageCase:
    name: str
    client: FlaskClient
    paths: list[str]  # cycled through, one per iteration
    floor_sql: str
    floor_params: list[tuple[Any, ...]]  # the floor's input for paths[i]
    resource: str  # the audit rows' resource type
    page: run.Stats | None = None
    floor: run.Stats | None = None
    statements: int | None = None
    statements_max: int | None = None
    repeated: list[tuple[int, str]] = field(default_factory=list)
    dropped: int = 0  # paths that did not answer 200 and were left out
    served_by: str = (
        ""  # the endpoint (module) of the view: until a page is merged, / is the start page
    )
    skipped: str = ""

    def get(self, i: int) -> None:
        path = self.paths[i % len(self.paths)]
        response = self.client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{self.name}: GET {path} answered {response.status_code}")

    def call_floor(self, cursor: psycopg.Cursor[dict[str, Any]], i: int) -> str:
        """The main list, an audit row per patient shown, and a commit."""
        with cursor.connection.transaction():
            cursor.execute(
                self.floor_sql, self.floor_params[i % len(self.floor_params)], prepare=True
            )
            rows = cursor.fetchall()
            patients = sorted({row["patient_id"] for row in rows})
            if patients:
                cursor.executemany(
                    AUDIT_INSERT,
                    [
                        (p, self.resource, str(p if self.resource == "Patient" else rows[0]["id"]))
                        for p in patients
                    ],
                )
        return json.dumps(rows, default=run._json_default)


def served_by(app: Flask, path: str) -> str:
    """The endpoint and module of the view that answers GET ``path``; "" when no route matches."""
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _values = adapter.match(path.split("?", 1)[0], method="GET")
    except (NotFound, MethodNotAllowed):
        return ""
    except RoutingException:  # a redirect (a missing slash, say): the route is there
        return "(redirect)"
    view = app.view_functions.get(str(endpoint))
    return f"{endpoint} ({view.__module__})" if view else str(endpoint)


def probe(case: PageCase, app: Flask) -> None:
    """GET every path once: drop those that do not answer 200, skip the case when none does."""
    case.served_by = served_by(app, case.paths[0])
    if not case.served_by:
        route = case.paths[0].split("?", 1)[0]
        case.skipped = f"no route for GET {route} yet: measured once the page is merged"
        return
    answering: list[str] = []
    params: list[tuple[Any, ...]] = []
    first_failure = ""
    for path, floor in zip(case.paths, case.floor_params, strict=True):
        response = case.client.get(path)
        if response.status_code == 200:
            answering.append(path)
            params.append(floor)
        elif not first_failure:
            first_failure = f"GET {path} answered {response.status_code}"
            if response.status_code in (301, 302, 303):
                first_failure += f" (to {response.headers.get('Location')})"
    if not answering:
        case.skipped = f"{first_failure}: the page is not there yet, or refuses the benchmark user"
        return
    case.dropped = len(case.paths) - len(answering)
    case.paths, case.floor_params = answering, params


def _elapsed_ms(call: Callable[[], object]) -> float:
    started = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - started) / 1e6


def count_statements(case: PageCase, app: Flask, requests: int = 5) -> None:
    """The statements of the second request, the most any of the next few ran, and the repeated ones of
    the request that ran the most."""
    worst: list[str] = []
    counts = []
    for i in range(1, 1 + min(requests, max(1, len(case.paths)))):
        with run.StatementCounter(app) as counter:
            case.get(i)
        counts.append(len(counter.statements))
        if len(counter.statements) > len(worst):
            worst = counter.statements
    case.statements, case.statements_max = counts[0], max(counts)
    shapes = Counter(run._shape(s) for s in worst)
    case.repeated = [(n, shape) for shape, n in shapes.most_common(3) if n > 1]


def measure(
    case: PageCase, cursor: psycopg.Cursor[dict[str, Any]], iterations: int, warmup: int
) -> None:
    """Warm up, then alternate page and floor calls on the same inputs."""
    for i in range(warmup):
        case.get(i)
        case.call_floor(cursor, i)
    page: list[float] = []
    floor: list[float] = []
    for i in range(iterations):
        page.append(_elapsed_ms(partial(case.get, i)))
        floor.append(_elapsed_ms(partial(case.call_floor, cursor, i)))
    case.page, case.floor = run.Stats.of(page), run.Stats.of(floor)


def build_cases(
    app: Flask,
    cursor: psycopg.Cursor[dict[str, Any]],
    data: run.DataSet,
    *,
    samples: int = SAMPLES,
    seed: int = 1,
) -> list[PageCase]:
    rng = random.Random(seed)
    nurse, ward = data.users[Sector.REGION]
    case_worker, _municipality = data.users[Sector.MUNICIPALITY]
    # Patients with a current stay on the nurse's ward (her worklist), and their draft or proposed plans.
    cursor.execute(
        "SELECT patient_id FROM pathways WHERE ward_id = %s AND status = ANY(%s)", [ward, CURRENT]
    )
    patients = run._sample(rng, [row["patient_id"] for row in cursor.fetchall()], samples)
    cursor.execute(
        "SELECT p.id FROM plans p JOIN pathways w ON w.id = p.pathway_id "
        "WHERE w.ward_id = %s AND w.status = ANY(%s) AND p.status = ANY(%s)",
        [ward, CURRENT, EDITABLE],
    )
    plans = run._sample(rng, [row["id"] for row in cursor.fetchall()], samples)
    nurse_client = run.login(app, nurse)
    cases = [
        PageCase(
            "ward worklist GET /",
            nurse_client,
            ["/"],
            FLOOR_WARD,
            [(ward, CURRENT, PER_PAGE, 0)],
            "Patient",
        ),
        PageCase(
            "ward worklist GET /?page=2",
            nurse_client,
            ["/?page=2"],
            FLOOR_WARD,
            [(ward, CURRENT, PER_PAGE, PER_PAGE)],
            "Patient",
        ),
        PageCase(
            "municipality worklist GET /?per_page=50",
            run.login(app, case_worker),
            [f"/?per_page={PER_PAGE}"],
            FLOOR_MUNICIPALITY,
            [(data.kommunekode, CURRENT, PER_PAGE, 0)],
            "Patient",
        ),
        PageCase(
            "patient page GET /patients/{id}",
            nurse_client,
            [f"/patients/{i}" for i in patients],
            FLOOR_PATIENT,
            [(i,) for i in patients],
            "Patient",
        ),
        PageCase(
            "plan editor GET /plans/{id}",
            nurse_client,
            [f"/plans/{i}" for i in plans],
            # the plan with its current version's sections and its parties (the REST floor's)
            run.FLOOR_PLAN,
            [(i,) for i in plans],
            "Plan",
        ),
    ]
    for case in cases:
        if not case.paths:
            case.skipped = "the data set has no patient or plan for it (run without --reuse?)"
    return cases


def measure_cases(
    app: Flask,
    cursor: psycopg.Cursor[dict[str, Any]],
    data: run.DataSet,
    *,
    iterations: int,
    warmup: int,
    seed: int,
) -> list[PageCase]:
    """Build, probe, count and measure every page case; a case that cannot run is skipped, not fatal."""
    cases = build_cases(app, cursor, data, seed=seed)
    for case in cases:
        measure_case(case, app, cursor, iterations=iterations, warmup=warmup)
    return cases


def measure_case(
    case: PageCase,
    app: Flask,
    cursor: psycopg.Cursor[dict[str, Any]],
    *,
    iterations: int,
    warmup: int,
) -> None:
    """Probe, count and measure one case, or mark it skipped with the reason."""
    if not case.skipped:
        probe(case, app)
    if case.skipped:
        print(f"skipping {case.name}: {case.skipped}")
        return
    print(f"measuring {case.name}...")
    try:
        count_statements(case, app)
        measure(case, cursor, iterations, warmup)
    except RuntimeError as error:  # a page that answered 200 once and then did not
        case.skipped = str(error)
        case.page = None


def rank_stays(app: Flask, *, batch: int = 2000) -> tuple[int, float]:
    """Evaluate the stays the worklists show (current, or discharged in the last 31 days) that have no
    stored rank yet, as the scheduler's scan does in service (the loader writes rows past the commit
    triggers). Answers how many and the seconds it took; nothing on a data set ranked before."""
    database = get_database(app)
    started = time.perf_counter()
    with database.transaction() as session:
        ids = list(
            session.scalars(
                sa.select(Pathway.id)
                .where(
                    sa.or_(
                        Pathway.status.in_(CURRENT_STAYS),
                        Pathway.discharged_at >= datetime.now(UTC) - timedelta(days=31),
                    ),
                    Pathway.id.not_in(sa.select(StoredRank.pathway_id)),
                )
                .order_by(Pathway.id)
            )
        )
    for first in range(0, len(ids), batch):
        with database.transaction() as session:
            evaluate_pathways(session, SystemClock(), ids[first : first + batch], config=app.config)
    return len(ids), time.perf_counter() - started


def measure_pages(
    url: str, *, iterations: int, warmup: int, seed: int, profile: bool = False
) -> tuple[list[PageCase], run.DataSet]:
    """Measure the pages on the data set loaded at ``url`` (the REST benchmark's schema)."""
    app = run.bench_app(url)
    ranked, seconds = rank_stays(app)
    if ranked:
        print(f"ranked {ranked} stays for the worklists in {seconds:.1f} s (the scheduler's scan)")
    with psycopg.connect(loader.libpq_url(url), row_factory=dict_row) as conn:
        conn.autocommit = True  # each floor call is a transaction of its own
        with conn.cursor() as cursor:
            data = run.inspect(cursor)
            cases = measure_cases(
                app, cursor, data, iterations=iterations, warmup=warmup, seed=seed
            )
    if profile:
        for case in cases:
            if case.page is not None:
                print(f"\n--- where the time of {case.name} goes (cProfile, cumulative) ---")
                profiler = cProfile.Profile()
                profiler.enable()
                for i in range(min(iterations, 100)):
                    case.get(i)
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    get_database(app).dispose()
    return cases, data


# ---------------------------------------------------------------------------- report
def print_table(cases: Sequence[PageCase], iterations: int) -> None:
    width = max(len(c.name) for c in cases)
    print(
        f"\n{'page':<{width}}  {'page ms':>8} {'p95':>8}  {'target':>8}  {'':6}  "
        f"{'SQL/req':>7} {'max':>4}  {'floor ms':>8} {'p95':>8}  {'page/floor':>10}"
    )
    print("-" * (width + 84))
    for case in cases:
        if case.page is None:
            print(f"{case.name:<{width}}  {'skipped':>17}")
            continue
        verdict = "ok" if case.page.median_ms <= TARGET_MS else "MISSED"
        floor = case.floor.median_ms if case.floor else None
        print(
            f"{case.name:<{width}}  {run._ms(case.page)}  {f'<= {TARGET_MS:g}':>8}  {verdict:6}  "
            f"{case.statements:>7} {case.statements_max:>4}  {run._ms(case.floor)}  "
            f"{(f'{case.page.median_ms / floor:.1f}x' if floor else '-'):>10}"
        )
    print(
        f"(median and p95 of {iterations} requests each, server time through the test client; the target "
        "is printed, never enforced)"
    )
    print(
        "(floor: the page's main list in raw SQL, an audit row per patient shown and a commit: the legal "
        "minimum of the read, a reference; SQL/req: the second request's statements, max: the most of five)"
    )
    served = [f"  {case.name}: {case.served_by}" for case in cases if case.served_by]
    if served:
        print("\nserved by (endpoint, module):\n" + "\n".join(served))
    for case in cases:
        if case.skipped:
            print(f"\n{case.name}: skipped: {case.skipped}")
        if case.dropped:
            print(f"\n{case.name}: {case.dropped} of its addresses did not answer 200, left out")
        if case.repeated:
            print(f"\n{case.name}: statements run more than once in one request:")
            for n, shape in case.repeated:
                print(f"  {n:3d} x {shape}")


def results(cases: Sequence[PageCase], iterations: int, warmup: int) -> dict[str, Any]:
    """The ``pages`` part of the results document."""
    return {
        "iterations": iterations,
        "warmup": warmup,
        "target_median_ms": TARGET_MS,
        "cases": [
            {
                "name": case.name,
                "request": case.paths[0] if case.paths else None,
                "requests_cycled": len(case.paths),
                "served_by": case.served_by or None,
                "page": vars(case.page) if case.page else None,
                "floor_with_audit": vars(case.floor) if case.floor else None,
                "met": None if case.page is None else case.page.median_ms <= TARGET_MS,
                "statements_per_request": case.statements,
                "statements_max": case.statements_max,
                "repeated_statements": [{"times": n, "sql": s} for n, s in case.repeated],
                "dropped_requests": case.dropped,
                "skipped": case.skipped or None,
            }
            for case in cases
        ],
    }
