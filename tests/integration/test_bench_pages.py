"""The web pages' benchmark (issue 20) on a tiny data set: it reports every page case, measured or skipped
with its reason, and never crashes on a page that is not there yet.

The pages land in other changes, so the harness is checked twice: on the app as it is (each case measured
or skipped, whichever pages exist), and on stand-in addresses that behave in known ways whatever has been
merged (a patient page that runs one statement per plan party, an N+1 the report must show, and refuses
some patients; an address no route serves). PostgreSQL only (the loader uses COPY): on SQLite it skips.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

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


STAND_IN = "/bench-stand-in/patients/"


def _stand_in_patient_page() -> Blueprint:
    bp = Blueprint("bench_stand_in", __name__)

    @bp.get(f"{STAND_IN}<int:patient_id>")
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


@pytest.fixture
def cursor(bench_url: str) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
    with psycopg.connect(loader.libpq_url(bench_url), row_factory=dict_row) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            yield cursor


def test_every_page_case_is_measured_or_skipped_with_its_reason(
    app: Flask, cursor: psycopg.Cursor[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    data = run.inspect(cursor)

    cases = pages.measure_cases(app, cursor, data, iterations=3, warmup=1, seed=1)

    assert [case.name for case in cases] == NAMES
    for case in cases:
        assert len(case.paths) >= 1
        if case.skipped:
            assert case.page is None
        else:
            assert case.page is not None
            assert case.floor is not None
            assert case.statements
            assert case.served_by
    # / is the start page today and the worklists later: either way a page that answers
    worklist = cases[0]
    assert worklist.page is not None, worklist.skipped
    assert worklist.served_by.startswith("web.index (")
    pages.print_table(cases, 3)
    printed = capsys.readouterr().out
    assert all(name in printed for name in NAMES)
    assert "<= 50" in printed
    document = json.loads(json.dumps(pages.results(cases, 3, 1)))
    assert [c["name"] for c in document["cases"]] == NAMES
    assert document["target_median_ms"] == 50
    assert [c["skipped"] is None for c in document["cases"]] == [c.page is not None for c in cases]


def test_a_measured_page_reports_its_repeated_statements_and_a_missing_one_its_reason(
    app: Flask, cursor: psycopg.Cursor[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    cases = pages.build_cases(app, cursor, run.inspect(cursor), seed=1)
    patient, editor = cases[3], cases[4]
    ids = [path.rsplit("/", 1)[1] for path in patient.paths]
    assert len(ids) >= 5  # patients with a current stay on the nurse's ward
    patient.paths = [f"{STAND_IN}{i}" for i in ids]
    editor.paths = [f"/bench-nowhere/{path.rsplit('/', 1)[1]}" for path in editor.paths]

    for case in (patient, editor):
        pages.measure_case(case, app, cursor, iterations=3, warmup=1)

    assert patient.page is not None, patient.skipped
    assert patient.served_by == f"bench_stand_in.show ({__name__})"
    assert patient.dropped == sum(1 for i in ids if int(i) % 3 == 0)
    assert all(int(path.rsplit("/", 1)[1]) % 3 for path in patient.paths)
    assert patient.statements_max is not None
    assert patient.statements_max >= 4
    assert any(
        n >= 3 and "FROM plan_participants WHERE id = ?" in sql for n, sql in patient.repeated
    ), patient.repeated
    assert editor.page is None
    assert editor.skipped.startswith("no route for GET /bench-nowhere/")
    pages.print_table([patient, editor], 3)
    printed = capsys.readouterr().out
    assert "plan editor GET /plans/{id}: skipped: no route" in printed
    assert "statements run more than once in one request" in printed
