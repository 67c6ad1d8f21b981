"""The benchmark's bulk loader and floor queries on a tiny data set, so that `make bench` cannot rot unnoticed.

PostgreSQL only (the loader uses COPY): on SQLite these tests skip; `make test` runs them in its PostgreSQL
pass (`pytest -m db`, which every test under tests/integration is marked with).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask
from psycopg.rows import dict_row

from bench import load as loader
from bench import run
from coordinator import create_app
from coordinator.db import get_database, make_engine
from pathways.identifiers import validate_cpr
from pathways.organisations import Sector
from pathways.plans import PlanStatus
from tests.conftest import fresh_database_url

PATIENTS, PLANS = 50, 80  # 30 patients have an ended plan as well as their open one
ORGANISATIONS = 1 + len(loader.CENTRES) * (1 + loader.WARDS_PER_CENTRE) + 98 + loader.GP_CLINICS


@pytest.fixture(scope="module")
def bench_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = fresh_database_url(
        os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("bench"), "bench"
    )
    if not url.startswith("postgresql"):
        pytest.skip(
            "the benchmark loader is PostgreSQL-only (COPY): it runs in make test's PostgreSQL pass"
        )
    return url


@pytest.fixture(scope="module")
def loaded(bench_url: str) -> loader.LoadReport:
    return loader.load(bench_url, patients=PATIENTS, plans=PLANS, seed=7)


@pytest.fixture(scope="module")
def engine(bench_url: str, loaded: loader.LoadReport) -> Iterator[sa.Engine]:
    engine = make_engine(bench_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: sa.Engine) -> Iterator[sa.Connection]:
    # One per test, closed after it: an open transaction would block the reload's DROP SCHEMA.
    with engine.connect() as conn:
        yield conn


@pytest.fixture(scope="module")
def bench_app(bench_url: str, loaded: loader.LoadReport) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DATABASE_URL": bench_url, "SECRET_KEY": "test"})
    yield app
    get_database(app).dispose()


def _count(db: sa.Connection, sql: str) -> int:
    return int(db.execute(sa.text(sql)).scalar_one())


def test_loader_fills_every_table_as_asked(loaded: loader.LoadReport, db: sa.Connection) -> None:
    expected = {
        "organisations": ORGANISATIONS,
        "users": 3,
        "patients": PATIENTS,
        "pathways": PATIENTS,
        "plans": PLANS,
        "plan_versions": PLANS,
    }
    actual = {table: _count(db, f"SELECT count(*) FROM {table}") for table in loader.TABLES}
    assert {t: actual[t] for t in expected} == expected
    agreements = _count(db, "SELECT count(*) FROM plans WHERE kind = 'discharge_agreement'")
    # ward, municipality and GP on every plan, and the patient on discharge agreements (§13a)
    assert actual["plan_participants"] == 3 * PLANS + agreements
    assert loaded.counts == actual
    assert _count(db, "SELECT count(*) FROM organisations WHERE kind = 'municipality'") == 98


def test_every_patient_has_one_open_plan_and_some_an_ended_one(db: sa.Connection) -> None:
    rows = db.execute(
        sa.text(
            "SELECT patient_id, count(*) FILTER (WHERE status NOT IN ('ended', 'withdrawn')), "
            "count(*) FILTER (WHERE status = 'ended') FROM plans GROUP BY patient_id"
        )
    ).all()
    assert len(rows) == PATIENTS
    assert {open_plans for _, open_plans, _ in rows} == {1}
    assert sum(ended for _, _, ended in rows) == PLANS - PATIENTS
    statuses = set(db.execute(sa.text("SELECT DISTINCT status FROM plans")).scalars())
    assert statuses <= {s.value for s in PlanStatus}
    assert PlanStatus.ENDED.value in statuses


def test_plans_have_their_current_version_and_times_are_in_the_past(db: sa.Connection) -> None:
    assert (
        _count(
            db,
            "SELECT count(*) FROM plans p JOIN plan_versions v "
            "ON v.plan_id = p.id AND v.number = p.current_version_number",
        )
        == PLANS
    )
    latest = db.execute(
        sa.text("SELECT max(greatest(created_at, updated_at, agreed_at, activated_at)) FROM plans")
    ).scalar_one()
    assert latest.tzinfo is not None
    assert latest <= db.execute(sa.text("SELECT now()")).scalar_one()


def test_cpr_numbers_are_unique_date_valid_and_fail_modulus_11(db: sa.Connection) -> None:
    cprs = list(db.execute(sa.text("SELECT cpr FROM patients")).scalars())
    assert len(set(cprs)) == PATIENTS
    weights = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
    for cpr in cprs:
        assert validate_cpr(cpr) == cpr
        assert sum(int(d) * w for d, w in zip(cpr, weights, strict=True)) % 11 != 0


def test_constraints_are_back_and_sequences_moved_on(db: sa.Connection) -> None:
    names = set(
        db.execute(
            sa.text(
                "SELECT conname FROM pg_constraint WHERE connamespace = current_schema()::regnamespace"
            )
        ).scalars()
    )
    assert {
        "fk_plan_participants_plan_id_plans",
        "fk_plans_patient_id_patients",
        "uq_patients_cpr",
        "uq_plan_versions_plan_id_number",
    } <= names
    indexes = set(
        db.execute(
            sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        ).scalars()
    )
    assert {"ix_plans_patient_status", "ix_plan_participants_plan_id"} <= indexes
    next_id = db.execute(sa.text("SELECT nextval(pg_get_serial_sequence('plans', 'id'))"))
    assert next_id.scalar_one() > PLANS


def test_the_app_reads_a_loaded_plan_through_the_api(
    loaded: loader.LoadReport, db: sa.Connection, bench_app: Flask
) -> None:
    nurse = loaded.users[Sector.REGION]
    plan_id, patient_id = db.execute(
        sa.text(
            "SELECT p.id, p.patient_id FROM plans p JOIN pathways w ON w.id = p.pathway_id "
            "WHERE w.ward_id = :ward ORDER BY p.id LIMIT 1"
        ),
        {"ward": nurse.organisation_id},
    ).one()
    client = run.login(bench_app, nurse.id)

    response = client.get(f"/api/v1/plans/{plan_id}")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["id"], body["patient_id"]) == (plan_id, patient_id)
    assert body["sections"]["treatment"]["text"]
    assert {"ward", "municipality", "gp"} <= {p["role"] for p in body["participants"]}
    plans = client.get(f"/api/v1/patients/{patient_id}/plans")
    assert plans.status_code == 200
    assert plan_id in [p["id"] for p in plans.get_json()]


def test_the_floor_queries_fetch_what_the_api_answers(bench_url: str, bench_app: Flask) -> None:
    with psycopg.connect(loader.libpq_url(bench_url), row_factory=dict_row) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            data = run.inspect(cursor)
            cases = run.build_cases(
                bench_app, cursor, data, samples=3, statuses=run.OPEN_STATUSES, seed=1
            )
            differences = {
                case.name: run.same_data(case, cursor) for case in cases if not case.skipped
            }
    assert set(differences.values()) == {""}, differences


def test_loading_again_starts_from_scratch(bench_url: str, loaded: loader.LoadReport) -> None:
    again = loader.load(bench_url, patients=PATIENTS, plans=PLANS, seed=7)
    assert again.counts == loaded.counts


def test_the_loader_refuses_a_url_without_its_own_schema() -> None:
    with pytest.raises(ValueError, match="dedicated schema"):
        loader.schema_of("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with pytest.raises(ValueError, match="dedicated schema"):
        loader.schema_of(loader.with_schema("postgresql+psycopg://h/test", "public"))
