"""`make bench`: benchmarks on PostgreSQL, each against a target from its issue, never gating.

1. REST API (``api``): 100,000 patients and 200,000 plans (``bench.load``, schema carepath_bench). For each
   case the API is called through Flask's test client of a real app, logged in as a benchmark user with a
   care relation. Beside it, in raw SQL on psycopg connections of their own (prepared statements, rows to
   JSON with ``json.dumps``, in the same process): the floor (the read alone) and the legal floor of issue
   21 (the read plus the audit row per patient shown and a commit, in one transaction). API, floor and
   legal floor calls alternate, so that a busy machine slows all alike. Printed: median and p95 latency,
   the ratio API / legal floor of the medians against issue 21's target (<= 3x; the municipality's open
   plans <= 2x), the SQL statements and commits one request runs against the target of 4 (who, access and
   data, audit row, commit; repeated statements are listed, to expose N+1 patterns), and the ratio to the
   bare floor for reference.
2. Web pages (``pages``, issue 20, ``bench.pages``): on the REST benchmark's data set, the ward worklist,
   the municipality worklist (a page of 50), the patient page and the plan editor, each fetched through the
   test client as its benchmark user: median and p95 server time, SQL statements per request and the
   repeated ones (N+1). Target: median <= 50 ms each. A page not there yet is reported as skipped.
3. HTTP throughput (``http``, issue 21, ``bench.throughput``): GET plan over real HTTP, the app under
   gunicorn (gthread) on the REST data set with one worker and then two, ``--http-clients`` concurrent
   keep-alive clients for ``--http-seconds``: requests per second and p50/p95/p99, and the scaling.
4. Gap scan (``scan``, issue 8, ``bench.gap_scan``): the scheduler's ``scan_all`` over 1,000,000 pathways
   (``bench.load_pathways``, schema carepath_bench_pathways), cold and warm, with its peak memory, against
   one set-based SQL query computing the same gaps; both must find the same gaps. Target: < 10 s, <= 2x.
5. MedCom ingest (``ingest``, issue 7, ``bench.ingest``): HospitalNotification messages per second through
   ``process_message``, one transaction per message, new and resent. Target: >= 500 messages per second.

Benchmarks never gate: the exit code is 0 whether a target is met or not. Results also go to
``bench/results/<timestamp>.json`` (the REST part at the top level, ``pages``, ``http``, ``gap_scan`` and
``ingest`` beside it).
Everything takes about 5 minutes on a 2-core machine, most of it loading the data sets and the ingest.

    python -m bench.run                 # load the data sets, then measure them all
    python -m bench.run --reuse         # measure on the data sets the previous run loaded
                                        # (make bench ARGS=--reuse)
    python -m bench.run --only scan     # one benchmark (repeat --only for several; make bench
                                        # ARGS="--only ingest --stays 5000")
    python -m bench.run --only pages --reuse   # the web pages on the REST data set loaded before
    python -m bench.run --only http --reuse    # GET plan over HTTP under gunicorn, 1 and 2 workers
    python -m bench.run --profile       # and print where the time goes (cProfile, top functions)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from flask import Flask
from flask.testing import FlaskClient
from psycopg.rows import dict_row
from sqlalchemy import event

# bench.pages uses this module's tools (a cycle: neither touches the other while being imported)
from bench import gap_scan, ingest, load_pathways, pages, throughput
from bench import load as loader
from coordinator import create_app, migrate
from coordinator.db import get_database
from coordinator.security import LAST_SEEN_KEY
from pathways.organisations import Sector
from pathways.plans import PlanStatus

SCHEMA = "carepath_bench"
RESULTS = Path(__file__).resolve().parent / "results"
PAGE = 50

# The API's plan representation (coordinator.api.schemas.plans.PlanSchema), read in one statement.
_PLAN_SELECT = """
SELECT p.id, p.kind, p.status, p.patient_id, p.pathway_id, p.responsible_organisation_id, p.version,
       p.current_version_number, v.sections, p.valid_from, p.valid_to, p.review_on,
       p.patient_participation, p.patient_refused_on, p.supersedes_plan_id, p.agreed_at,
       p.activated_at, p.ended_at, p.ended_reason,
       (SELECT coalesce(json_agg(json_build_object(
                   'id', pp.id, 'role', pp.role, 'organisation_id', pp.organisation_id,
                   'person_name', pp.person_name, 'is_required', pp.is_required,
                   'response', pp.response, 'response_note', pp.response_note,
                   'responded_version_number', pp.responded_version_number,
                   'responded_at', pp.responded_at) ORDER BY pp.id), '[]')
          FROM plan_participants pp WHERE pp.plan_id = p.id) AS participants,
       p.created_at, p.updated_at
FROM plans p
JOIN plan_versions v ON v.plan_id = p.id AND v.number = p.current_version_number
"""
FLOOR_PLAN = _PLAN_SELECT + "WHERE p.id = %s"
FLOOR_PATIENT_PLANS = _PLAN_SELECT + "WHERE p.patient_id = %s ORDER BY p.created_at DESC, p.id DESC"
# The plans the caller's organisation is a party to (what the endpoint may show), in the patients'
# municipality, in the given statuses: the first page, newest (highest id) first.
FLOOR_MUNICIPALITY_PLANS = (
    _PLAN_SELECT
    + "JOIN patients pt ON pt.id = p.patient_id "
    + "WHERE pt.kommunekode = %s AND p.status = ANY(%s) AND EXISTS ("
    + "SELECT 1 FROM plan_participants party "
    + "WHERE party.plan_id = p.id AND party.organisation_id = ANY(%s)) "
    + f"ORDER BY p.id DESC LIMIT {PAGE}"
)
OPEN_STATUSES = [s.value for s in PlanStatus if s.is_open]
# The audit row a read writes (coordinator.audit.services.record), for the audited floor.
AUDIT_INSERT = (
    "INSERT INTO audit_entries (occurred_at, actor_kind, actor_id, actor_name, actor_organisation_id, "
    "patient_id, resource_type, resource_id, action, purpose, outcome, channel, request_id, details) "
    "VALUES (now(), 'user', 1, 'bench floor', 1, %s, 'Plan', '', 'read', 'bench floor', 'allowed', "
    "'rest', 'bench-floor', %s)"
)
PARTS = ("api", "pages", "http", "scan", "ingest")
# Issue 21: a single audited read needs at most who, access and data, audit row, commit.
STATEMENT_TARGET = 4


# ---------------------------------------------------------------------------- measuring
@dataclass
class Stats:
    median_ms: float
    p95_ms: float
    min_ms: float
    max_ms: float

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> Stats:
        ordered = sorted(samples_ms)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return cls(statistics.median(ordered), p95, ordered[0], ordered[-1])


@dataclass
class Case:
    name: str
    target: float  # issue 21's goal for API / legal floor: printed, never asserted
    client: FlaskClient
    paths: list[str]  # cycled through, one per iteration
    floor_sql: str
    floor_params: list[tuple[Any, ...]]  # the same data as paths[i]
    api: Stats | None = None
    floor: Stats | None = None
    audited_floor: Stats | None = (
        None  # the legal floor: the floor plus its audit rows and a commit
    )
    statements: int | None = None  # SQL statements and commits of one request
    statement_target: int = STATEMENT_TARGET
    repeated: list[tuple[int, str]] = field(default_factory=list)
    skipped: str = ""
    differs: str = ""  # the API and the floor disagree on the data: the ratio means little

    @property
    def ratio(self) -> float | None:
        """API / legal floor (issue 21's measure: the floor with the audit row and commit the law asks)."""
        if self.api is None or self.audited_floor is None:
            return None
        return self.api.median_ms / self.audited_floor.median_ms

    @property
    def ratio_to_floor(self) -> float | None:
        """API / the bare floor (no audit row, no commit): issues 6 and 7's measure, for reference."""
        if self.api is None or self.floor is None:
            return None
        return self.api.median_ms / self.floor.median_ms

    def call_api(self, i: int) -> None:
        path = self.paths[i % len(self.paths)]
        response = self.client.get(path)
        if response.status_code != 200:
            raise RuntimeError(
                f"{self.name}: GET {path} answered {response.status_code}: {response.text[:300]}"
            )

    def call_floor(self, cursor: psycopg.Cursor[dict[str, Any]], i: int) -> str:
        cursor.execute(self.floor_sql, self.floor_params[i % len(self.floor_params)], prepare=True)
        return json.dumps(cursor.fetchall(), default=_json_default)

    def call_audited_floor(self, cursor: psycopg.Cursor[dict[str, Any]], i: int) -> str:
        """The floor, plus what the law asks of every read and the floor leaves out: an audit row per
        patient shown, committed with the read (raw SQL too). Not the issue's floor: a reference that
        shows how much of the distance to it is that obligation."""
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
                        (p, json.dumps({"plans": [r["id"] for r in rows if r["patient_id"] == p]}))
                        for p in patients
                    ],
                )
        return json.dumps(rows, default=_json_default)


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _elapsed_ms(call: Callable[[], object]) -> float:
    started = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - started) / 1e6


def measure(
    case: Case,
    cursor: psycopg.Cursor[dict[str, Any]],
    audited: psycopg.Cursor[dict[str, Any]],
    iterations: int,
    warmup: int,
) -> None:
    """Warm all up, then alternate API, floor and audited-floor calls on the same inputs."""
    for i in range(warmup):
        if not case.skipped:
            case.call_api(i)
        case.call_floor(cursor, i)
        case.call_audited_floor(audited, i)
    api: list[float] = []
    floor: list[float] = []
    audited_floor: list[float] = []
    for i in range(iterations):
        if not case.skipped:
            api.append(_elapsed_ms(partial(case.call_api, i)))
        floor.append(_elapsed_ms(partial(case.call_floor, cursor, i)))
        audited_floor.append(_elapsed_ms(partial(case.call_audited_floor, audited, i)))
    case.api = Stats.of(api) if api else None
    case.floor = Stats.of(floor)
    case.audited_floor = Stats.of(audited_floor)


class StatementCounter:
    """Counts the SQL statements the app's engine runs (``before_cursor_execute``) and its commits while
    attached: a commit is a round trip too (issue 21 counts it: who, access and data, audit row, commit)."""

    def __init__(self, app: Flask) -> None:
        self.engine = get_database(app).engine
        self.statements: list[str] = []

    def _seen(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        self.statements.append(statement)

    def _committed(self, _conn: object) -> None:
        self.statements.append("COMMIT")

    def __enter__(self) -> StatementCounter:
        self.statements = []
        event.listen(self.engine, "before_cursor_execute", self._seen)
        event.listen(self.engine, "commit", self._committed)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)
        event.remove(self.engine, "commit", self._committed)


def _shape(statement: str) -> str:
    """A statement with its parameters and extra whitespace gone, shortened for a table cell."""
    text = re.sub(r"\s+", " ", statement).strip()
    text = re.sub(r"%\(\w+\)s|\$\d+|%s", "?", text)
    return text if len(text) <= 110 else text[:107] + "..."


def same_data(case: Case, cursor: psycopg.Cursor[dict[str, Any]]) -> str:
    """An empty string when the API and the floor answer the first input with the same plans, in the
    same order; otherwise what differs. A floor that fetches something else would measure nothing."""
    body = case.client.get(case.paths[0]).get_json(force=True)
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":  # a FHIR search
        body = [
            e["resource"]
            for e in body.get("entry", [])
            if e.get("search", {}).get("mode", "match") == "match"
        ]
    api_ids = [int(plan["id"]) for plan in (body if isinstance(body, list) else [body])]
    cursor.execute(case.floor_sql, case.floor_params[0])
    floor_ids = [row["id"] for row in cursor.fetchall()]
    if api_ids == floor_ids:
        return ""
    return f"the API answered plans {api_ids[:5]}..., the floor {floor_ids[:5]}..."


def count_statements(case: Case, app: Flask) -> None:
    """Statements of one request (the second: the first may still fill caches), and the repeated ones."""
    case.call_api(0)
    with StatementCounter(app) as counter:
        case.call_api(1)
    case.statements = len(counter.statements)
    shapes = Counter(_shape(s) for s in counter.statements)
    case.repeated = [(n, shape) for shape, n in shapes.most_common(3) if n > 1]


def profile(case: Case, requests: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(requests):
        case.call_api(i)
    profiler.disable()
    print(f"\n--- where the time of {requests} x {case.name} goes (cProfile, cumulative) ---")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(30)


# ---------------------------------------------------------------------------- set-up
def login(app: Flask, user_id: int) -> FlaskClient:
    """A test client with the session cookie a login makes (as tests/api/conftest.py does)."""
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(user_id)
        cookie["_fresh"] = True
        cookie[LAST_SEEN_KEY] = time.time()
    return client


@dataclass
class DataSet:
    users: dict[Sector, tuple[int, int]]  # sector -> (user id, organisation id)
    kommunekode: str
    counts: dict[str, int]
    server: str


def inspect(cursor: psycopg.Cursor[dict[str, Any]]) -> DataSet:
    cursor.execute("SELECT username, id, organisation_id FROM users WHERE username LIKE 'bench.%'")
    by_name = {row["username"]: (row["id"], row["organisation_id"]) for row in cursor.fetchall()}
    users = {s: by_name[f"bench.{s.value}"] for s in Sector if f"bench.{s.value}" in by_name}
    if len(users) != len(Sector):
        raise SystemExit(f"schema {SCHEMA} holds no benchmark data: run without --reuse first")
    counts = {}
    for table in loader.TABLES:
        cursor.execute(f"SELECT count(*) AS n FROM {table}")
        counts[table] = cursor.fetchone()["n"]  # type: ignore[index]
    cursor.execute(
        "SELECT kommunekode FROM organisations WHERE id = %s",
        [users[Sector.MUNICIPALITY][1]],
    )
    kommunekode = cursor.fetchone()["kommunekode"]  # type: ignore[index]
    cursor.execute("SHOW server_version")
    server = cursor.fetchone()["server_version"]  # type: ignore[index]
    return DataSet(users, kommunekode, counts, server)


def _sample(rng: random.Random, population: list[int], k: int) -> list[int]:
    return rng.sample(sorted(population), min(k, len(population)))


def build_cases(
    app: Flask,
    cursor: psycopg.Cursor[dict[str, Any]],
    data: DataSet,
    *,
    samples: int,
    statuses: Sequence[str],
    seed: int,
) -> list[Case]:
    rng = random.Random(seed)
    nurse, ward = data.users[Sector.REGION]
    case_worker, municipality = data.users[Sector.MUNICIPALITY]
    # Plans and patients of the nurse's ward: she has a care relation to every one of them.
    cursor.execute(
        "SELECT p.id FROM plans p JOIN pathways w ON w.id = p.pathway_id WHERE w.ward_id = %s",
        [ward],
    )
    plan_ids = _sample(rng, [row["id"] for row in cursor.fetchall()], samples)
    cursor.execute("SELECT patient_id FROM pathways WHERE ward_id = %s", [ward])
    patient_ids = _sample(rng, [row["patient_id"] for row in cursor.fetchall()], samples)
    nurse_client = login(app, nurse)
    label = "<open>" if sorted(statuses) == sorted(OPEN_STATUSES) else "+".join(statuses)
    query = "&".join(
        [*(f"status={s}" for s in statuses), f"kommunekode={data.kommunekode}", f"limit={PAGE}"]
    )
    cases = [
        Case(
            "GET /plans/{id}",
            3.0,
            nurse_client,
            [f"/api/v1/plans/{i}" for i in plan_ids],
            FLOOR_PLAN,
            [(i,) for i in plan_ids],
        ),
        Case(
            "GET /patients/{id}/plans",
            3.0,
            nurse_client,
            [f"/api/v1/patients/{i}/plans" for i in patient_ids],
            FLOOR_PATIENT_PLANS,
            [(i,) for i in patient_ids],
        ),
        Case(
            f"GET /plans?status={label}&kommunekode={data.kommunekode}&limit={PAGE}",
            2.0,
            login(app, case_worker),
            [f"/api/v1/plans?{query}"],
            FLOOR_MUNICIPALITY_PLANS,
            # The loader makes no municipal units: the case worker's municipality is all she acts for.
            [(data.kommunekode, statuses, [municipality])],
        ),
    ]
    # Issue 7: the FHIR facade on the same plans, against the same floors (a CarePlan is the same row
    # data as the REST representation, rendered as an R4 resource).
    cases += [
        Case(
            "FHIR GET /fhir/CarePlan/{id}",
            3.0,
            nurse_client,
            [f"/fhir/CarePlan/{i}" for i in plan_ids],
            FLOOR_PLAN,
            [(i,) for i in plan_ids],
        ),
        Case(
            "FHIR GET /fhir/CarePlan?patient={id}",
            3.0,
            nurse_client,
            [f"/fhir/CarePlan?patient=Patient/{i}" for i in patient_ids],
            FLOOR_PATIENT_PLANS,
            [(i,) for i in patient_ids],
        ),
    ]
    probe = cases[2].client.get(cases[2].paths[0])
    if probe.status_code in (404, 405):
        cases[2].skipped = (
            f"GET /api/v1/plans answered {probe.status_code}: the list endpoint is not there yet; "
            "this case measures itself once it lands"
        )
    elif probe.status_code != 200:
        answer = f"{probe.status_code}: {probe.text[:200]}"
        cases[2].skipped = f"GET /api/v1/plans?{query} answered {answer}"
    return cases


# ---------------------------------------------------------------------------- report
def _ms(stats: Stats | None) -> str:
    return f"{stats.median_ms:8.2f} {stats.p95_ms:8.2f}" if stats else f"{'skipped':>17}"


def _verdict(value: float | None, target: float) -> str:
    return "" if value is None else ("ok" if value <= target else "MISSED")


def print_table(cases: Sequence[Case], iterations: int) -> None:
    width = max(len(c.name) for c in cases)
    print(
        f"\n{'case':<{width}}  {'API ms':>8} {'p95':>8}  {'legal ms':>8} {'p95':>8}  "
        f"{'API/legal':>9}  {'target':>7}  {'':6}  {'SQL/req':>7}  {'target':>6}  {'':6}  "
        f"{'floor ms':>8}  {'API/floor':>9}"
    )
    print("-" * (width + 114))
    for case in cases:
        ratio, bare = case.ratio, case.ratio_to_floor
        floor = case.floor.median_ms if case.floor else None
        statements = case.statements
        print(
            f"{case.name:<{width}}  {_ms(case.api)}  {_ms(case.audited_floor)}  "
            f"{(f'{ratio:.1f}x' if ratio else '-'):>9}  {f'<= {case.target:g}x':>7}  "
            f"{_verdict(ratio, case.target):6}  "
            f"{statements if statements is not None else '-':>7}  "
            f"{f'<= {case.statement_target}':>6}  "
            f"{_verdict(None if statements is None else statements, case.statement_target):6}  "
            f"{(f'{floor:.2f}' if floor else '-'):>8}  {(f'{bare:.1f}x' if bare else '-'):>9}"
        )
    print(f"(median and p95 of {iterations} calls each; targets are printed, never enforced)")
    print(
        "(legal: the legal floor of issue 21, the raw-SQL read plus the audit row per patient shown and "
        "a commit, in one transaction; SQL/req: statements and commits of one request, target: who, "
        "access and data, audit row, commit; floor: the raw-SQL read alone, for reference)"
    )
    for case in cases:
        if case.skipped:
            print(f"\n{case.name}: skipped: {case.skipped}")
        if case.repeated:
            print(f"\n{case.name}: statements run more than once in one request:")
            for n, shape in case.repeated:
                print(f"  {n:3d} x {shape}")


def api_results(
    cases: Sequence[Case], data: DataSet, args: argparse.Namespace, load: dict[str, Any]
) -> dict[str, Any]:
    """The REST benchmark's part of the results document (its keys at the top level, as before)."""
    return {
        "postgresql": data.server,
        "iterations": args.iterations,
        "warmup": args.warmup,
        "rows": data.counts,
        "load": load,
        "cases": [
            {
                "name": case.name,
                "request": case.paths[0],
                "api": vars(case.api) if case.api else None,
                "floor": vars(case.floor) if case.floor else None,
                "floor_with_audit": vars(case.audited_floor) if case.audited_floor else None,
                "ratio": case.ratio,  # API / legal floor (floor_with_audit)
                "ratio_to_floor": case.ratio_to_floor,
                "target": case.target,
                "met": None if case.ratio is None else case.ratio <= case.target,
                "statements_per_request": case.statements,  # statements and commits
                "statements_target": case.statement_target,
                "repeated_statements": [{"times": n, "sql": s} for n, s in case.repeated],
                "skipped": case.skipped or None,
                "differs": case.differs or None,
            }
            for case in cases
        ],
    }


def write_results(document: dict[str, Any]) -> Path:
    """``bench/results/<UTC timestamp>.json``: when, where, and each benchmark's part."""
    RESULTS.mkdir(exist_ok=True)
    now = datetime.now(UTC)
    path = RESULTS / f"{now:%Y%m%dT%H%M%SZ}.json"
    head = {"at": now.isoformat(), "python": platform.python_version()}
    head["machine"] = platform.machine()
    path.write_text(json.dumps(head | document, indent=2) + "\n", encoding="utf-8")
    return path


def load_api_data(args: argparse.Namespace) -> dict[str, Any]:
    """Load the REST (and pages) data set unless --reuse; answers what the results say of the load."""
    load: dict[str, Any] = {"reused": args.reuse}
    url = loader.with_schema(args.url, SCHEMA)
    if args.reuse:
        migrate.upgrade(url)  # a data set loaded before a new migration gets it
    else:
        print(f"loading {args.patients} patients and {args.plans} plans into schema {SCHEMA}...")
        report = loader.load(url, patients=args.patients, plans=args.plans, seed=args.seed)
        phases = ", ".join(f"{phase} {s:.1f}" for phase, s in report.phases.items())
        print(f"loaded in {report.seconds:.1f} s ({phases})")
        load |= {"seconds": report.seconds, "phases": report.phases}
    return load


def bench_app(url: str) -> Flask:
    # As in production: the FHIR output is not validated again on every read (ADR 0007; TESTING alone
    # would switch it on).
    return create_app(
        {"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench", "FHIR_VALIDATE_OUTPUT": False}
    )


def run_api(
    args: argparse.Namespace, load: dict[str, Any]
) -> tuple[list[Case], DataSet, dict[str, Any]]:
    """Measure the REST cases on the loaded data set; answers them, the data set and the load."""
    url = loader.with_schema(args.url, SCHEMA)
    app = bench_app(url)
    with (
        psycopg.connect(loader.libpq_url(url), row_factory=dict_row) as conn,
        psycopg.connect(loader.libpq_url(url), row_factory=dict_row) as audited_conn,
    ):
        conn.autocommit = True  # the floor reads, like the API, from committed data
        audited_conn.autocommit = True  # each audited floor call is a transaction of its own
        with conn.cursor() as cursor, audited_conn.cursor() as audited:
            data = inspect(cursor)
            cases = build_cases(
                app,
                cursor,
                data,
                samples=min(args.iterations, 1000),
                statuses=args.status or OPEN_STATUSES,
                seed=args.seed,
            )
            for case in cases:
                if not case.skipped:
                    count_statements(case, app)
                    difference = same_data(case, cursor)
                    if difference:
                        print(f"WARNING: {case.name}: API and floor disagree: {difference}")
                        case.differs = difference
                print(f"measuring {case.name}...")
                measure(case, cursor, audited, args.iterations, args.warmup)
    if args.profile:
        for case in cases:
            if not case.skipped:
                profile(case, min(args.iterations, 100))
    get_database(app).dispose()
    return cases, data, load


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    loader.url_argument(parser)
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="run only this benchmark (repeat for several; default: all, in this order)",
    )
    parser.add_argument("--reuse", action="store_true", help="skip the loaders: reuse their data")
    parser.add_argument("--iterations", type=int, default=200, help="api, pages: calls per case")
    parser.add_argument("--warmup", type=int, default=20, help="api, pages: calls before measuring")
    parser.add_argument("--patients", type=int, default=loader.DEFAULT_PATIENTS)
    parser.add_argument("--plans", type=int, default=loader.DEFAULT_PLANS)
    parser.add_argument(
        "--status",
        action="append",
        choices=[s.value for s in PlanStatus],
        help="the statuses the municipality list asks for (repeat; default: every open status)",
    )
    parser.add_argument("--seed", type=int, default=loader.DEFAULT_SEED)
    parser.add_argument(
        "--pathways",
        type=int,
        default=load_pathways.DEFAULT_PATHWAYS,
        help="scan: pathways to load",
    )
    parser.add_argument("--batch-size", type=int, default=2000, help="scan: scan_all's batch size")
    parser.add_argument(
        "--stays", type=int, default=ingest.DEFAULT_STAYS, help="ingest: stays of 4 messages each"
    )
    parser.add_argument(
        "--http-clients",
        type=int,
        default=throughput.DEFAULT_CLIENTS,
        help="http: concurrent keep-alive clients",
    )
    parser.add_argument(
        "--http-threads",
        type=int,
        default=throughput.DEFAULT_THREADS,
        help="http: threads per gunicorn worker",
    )
    parser.add_argument(
        "--http-seconds",
        type=float,
        default=throughput.DEFAULT_SECONDS,
        help="http: measured seconds per run (after a 2 s warm-up)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="print where the time goes (cProfile)"
    )
    return parser


def _report(
    document: dict[str, Any],
    api: tuple[list[Case], DataSet] | None,
    web: tuple[list[pages.PageCase], DataSet] | None,
    args: argparse.Namespace,
) -> None:
    """Print each benchmark's table (and drop what the results file does not keep)."""
    if api is not None:
        cases, data = api
        rows = ", ".join(f"{n} {table}" for table, n in data.counts.items())
        print(f"\nPostgreSQL {data.server}, Python {platform.python_version()}; {rows}")
        print_table(cases, args.iterations)
    if web is not None:
        if api is None:
            rows = ", ".join(f"{n} {table}" for table, n in web[1].counts.items())
            print(f"\nPostgreSQL {web[1].server}, Python {platform.python_version()}; {rows}")
        print("\nweb pages (issue 20):")
        pages.print_table(web[0], args.iterations)
    if "http" in document:
        throughput.report(document["http"])
    if "gap_scan" in document:
        gap_scan.report(document["gap_scan"])
        document["gap_scan"].get("scan", {}).pop("profile", None)
    if "ingest" in document:
        ingest.report(document["ingest"])
        document["ingest"].pop("profile", None)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    parts = [part for part in PARTS if part in (args.only or PARTS)]

    document: dict[str, Any] = {"benchmarks": parts}
    api: tuple[list[Case], DataSet] | None = None
    web: tuple[list[pages.PageCase], DataSet] | None = None
    load: dict[str, Any] = {}
    if "api" in parts or "pages" in parts:
        load = load_api_data(args)  # the pages reuse the REST data set: loaded once for both
    if "api" in parts:
        cases, data, load = run_api(args, load)
        api = (cases, data)
        document |= api_results(cases, data, args, load)
    if "pages" in parts:
        web = pages.measure_pages(
            loader.with_schema(args.url, SCHEMA),
            iterations=args.iterations,
            warmup=args.warmup,
            seed=args.seed,
            profile=args.profile,
        )
        document["pages"] = pages.results(web[0], args.iterations, args.warmup)
        if api is None:
            document["pages"] |= {"postgresql": web[1].server, "rows": web[1].counts, "load": load}
    if "http" in parts:
        if "api" not in parts and "pages" not in parts and not args.reuse:
            load = load_api_data(args)  # the throughput case reads the REST data set too
        document["http"] = throughput.run(
            args.url,
            clients=args.http_clients,
            threads=args.http_threads,
            seconds=args.http_seconds,
            seed=args.seed,
        )
    if "scan" in parts:
        document["gap_scan"] = gap_scan.run(
            args.url,
            reuse=args.reuse,
            pathways=args.pathways,
            batch_size=args.batch_size,
            profile=args.profile,
        )
    if "ingest" in parts:
        document["ingest"] = ingest.run(
            args.url, reuse=args.reuse, stays=args.stays, profile=args.profile
        )

    _report(document, api, web, args)
    path = write_results(document)
    print(f"\nresults: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0  # benchmarks never gate


if __name__ == "__main__":
    sys.exit(main())
