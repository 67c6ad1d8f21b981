"""The web pages' benchmark (issue 20) on a tiny data set: it reports every page case, measured or skipped
with its reason, and never crashes on a page that is not there yet.

The pages land in other changes: here stand-ins take their addresses (a patient page that runs one
statement per plan, an N+1 the report must show, and refuses some patients), and the plan editor has no
route at all. PostgreSQL only (the loader uses COPY): on SQLite the run skips.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from flask import Blueprint, Flask, abort
from psycopg.rows import dict_row

from bench import load as loader
from bench import pages, run
from coordinator.db import get_database, get_session
from pathways.plans import PlanStatus
from tests.conftest import fresh_database_url

PATIENTS, PLANS = (
    400,
    400,
)  # about 12 current stays per ward, a few draft or proposed plans among them
NAMES = [
    "ward worklist GET /",
    "ward worklist GET /?page=2",
    "municipality worklist GET /?per_page=50",
    "patient page GET /patients/{id}",
    "plan editor GET /plans/{id}",
]


def test_a_large_data_set_has_about_150_current_stays_per_ward() -> None:
    wards = len(loader.CENTRES) * loader.WARDS_PER_CENTRE
    shares = loader.open_status_shares(loader.DEFAULT_PATIENTS, wards)
    current = shares["draft"] + shares["proposed"] + shares["agreed"] / 2

    assert sum(shares.values()) == pytest.approx(100)
    assert current / 100 * loader.DEFAULT_PATIENTS / wards == pytest.approx(150)
    assert shares["active"] / shares["under_revision"] == pytest.approx(4.5)  # as OPEN_STATUSES
    small = loader.open_status_shares(50, wards)
    assert small == {s.value: float(share) for s, share in loader.OPEN_STATUSES}
    assert set(shares) == {
        s.value for s in PlanStatus if s.is_open and s in dict(loader.OPEN_STATUSES)
    }


@pytest.fixture(scope="module")
def bench_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = fresh_database_url(
        os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("bench"), "bench_pages"
    )
    if not url.startswith("postgresql"):
        pytest.skip(
            "the benchmark loader is PostgreSQL-only (COPY): it runs in make test's PostgreSQL pass"
        )
    loader.load(url, patients=PATIENTS, plans=PLANS, seed=7)
    return url


def _stand_in_patient_page() -> Blueprint:
    bp = Blueprint("bench_stand_in", __name__)

    @bp.get("/patients/<int:patient_id>")
    def show(patient_id: int) -> str:
        if patient_id % 3 == 0:
            abort(404)
        session = get_session()
        parties = session.scalars(
            sa.text(
                "SELECT pp.id FROM plan_participants pp JOIN plans p ON p.id = pp.plan_id "
                "WHERE p.patient_id = :p"
            ),
            {"p": patient_id},
        ).all()
        for party in parties:  # one statement per party (at least 3 per plan): an N+1
            session.execute(
                sa.text("SELECT role FROM plan_participants WHERE id = :id"), {"id": party}
            )
        return f"<h1>{patient_id}</h1>"

    return bp


@pytest.fixture(scope="module")
def app(bench_url: str) -> Iterator[Flask]:
    app = run.bench_app(bench_url)
    app.register_blueprint(_stand_in_patient_page())
    yield app
    get_database(app).dispose()


def test_the_pages_benchmark_reports_every_case_measured_or_skipped(
    bench_url: str, app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(loader.libpq_url(bench_url), row_factory=dict_row) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            data = run.inspect(cursor)
            cases = pages.measure_cases(app, cursor, data, iterations=3, warmup=1, seed=1)
    by_name = {case.name: case for case in cases}

    assert [case.name for case in cases] == NAMES
    # Today / is the start page; the worklists take it over: either way it is measured, with its view.
    for name in NAMES[:3]:
        case = by_name[name]
        assert case.page is not None, case.skipped
        assert case.floor is not None
        assert case.statements
        assert case.statements_max is not None
        assert case.statements_max >= case.statements
        assert case.served_by.startswith("web.index")
    patient = by_name["patient page GET /patients/{id}"]
    assert patient.page is not None, patient.skipped
    assert patient.served_by == f"bench_stand_in.show ({__name__})"
    assert patient.dropped > 0  # the refused ones are left out
    assert all(int(path.rsplit("/", 1)[1]) % 3 for path in patient.paths)
    assert patient.statements_max >= 4
    assert any(
        n >= 3 and "FROM plan_participants WHERE id = ?" in sql for n, sql in patient.repeated
    ), patient.repeated
    editor = by_name["plan editor GET /plans/{id}"]
    assert editor.page is None
    assert editor.skipped.startswith("no route for GET /plans/")

    pages.print_table(cases, 3)
    printed = capsys.readouterr().out
    assert "plan editor GET /plans/{id}: skipped: no route" in printed
    assert "<= 50" in printed
    assert "statements run more than once in one request" in printed
    document = json.loads(json.dumps(pages.results(cases, 3, 1)))
    assert [c["name"] for c in document["cases"]] == NAMES
    assert document["cases"][4]["skipped"]
    assert document["cases"][4]["page"] is None
    assert document["target_median_ms"] == 50
