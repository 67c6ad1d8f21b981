"""The gap-scan benchmark at a small scale: the pathway loader's history is consistent, every gap rule fires
somewhere, and the one-query floor finds exactly the gaps ``scan_all`` finds (so `make bench` measures two
ways of doing the same thing, and cannot rot unnoticed).

PostgreSQL only (COPY, and the floor is PostgreSQL SQL): on SQLite these tests skip; `make test` runs them in
its PostgreSQL pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest
import sqlalchemy as sa

from bench import gap_scan, load_pathways
from bench import load as loader
from coordinator.db import Database, make_engine
from coordinator.reminders.facts import Directory
from pathways.calendar_dk import default_calendar
from pathways.clock import COPENHAGEN
from pathways.identifiers import validate_cpr
from pathways.reminders import GapRule
from tests.conftest import fresh_database_url

PATHWAYS = 3000
SEED = 7  # with NOW: every rule fires at least twice
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def base_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        pytest.skip(
            "the gap-scan benchmark is PostgreSQL-only: it runs in make test's PostgreSQL pass"
        )
    return url


@pytest.fixture(scope="module")
def pathways_url(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return fresh_database_url(base_url, tmp_path_factory.mktemp("pathways"), "bench_pathways")


@pytest.fixture(scope="module")
def loaded(pathways_url: str) -> load_pathways.PathwayLoadReport:
    return load_pathways.load(pathways_url, pathways=PATHWAYS, seed=SEED, now=NOW)


@pytest.fixture
def db(pathways_url: str, loaded: load_pathways.PathwayLoadReport) -> Iterator[sa.Connection]:
    engine = make_engine(pathways_url)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def _count(db: sa.Connection, sql: str) -> int:
    return int(db.execute(sa.text(sql)).scalar_one())


def test_the_loader_makes_the_asked_number_of_pathways_mostly_history(
    loaded: load_pathways.PathwayLoadReport, db: sa.Connection, pathways_url: str
) -> None:
    assert loaded.counts["pathways"] == PATHWAYS == _count(db, "SELECT count(*) FROM pathways")
    assert loaded.counts == {
        table: _count(db, f"SELECT count(*) FROM {table}") for table in load_pathways.TABLES
    }
    statuses = loaded.statuses
    assert {"admitted", "on_leave", "discharged", "closed"} <= set(statuses)
    open_ = statuses["admitted"] + statuses["on_leave"] + statuses["discharged"]
    assert 0.02 * PATHWAYS < open_ < 0.06 * PATHWAYS
    assert statuses["closed"] > 0.9 * PATHWAYS
    assert load_pathways.loaded_now(pathways_url) == NOW
    assert _count(db, "SELECT count(*) FROM pathways WHERE admitted_at > now()") == 0


def test_stays_follow_each_other_per_patient_and_ids_follow_admission(db: sa.Connection) -> None:
    # ids in admission order, as in production
    assert not _count(
        db,
        "SELECT count(*) FROM pathways a JOIN pathways b ON b.id = a.id + 1 "
        "WHERE b.admitted_at < a.admitted_at",
    )
    # a patient's next stay starts after the previous one ended; at most one open stay, the latest
    assert not _count(
        db,
        """SELECT count(*) FROM (
             SELECT status, admitted_at, discharged_at,
                    lead(admitted_at) OVER w AS next_admitted, lead(id) OVER w AS next_id
             FROM pathways WINDOW w AS (PARTITION BY patient_id ORDER BY admitted_at)) s
           WHERE next_id IS NOT NULL AND (status NOT IN ('closed', 'cancelled')
                 OR next_admitted < coalesce(discharged_at, admitted_at))""",
    )
    # a readmission points at the patient's stay before, closed by it
    assert _count(db, "SELECT count(*) FROM pathways WHERE readmission_of_id IS NOT NULL") > 0
    assert not _count(
        db,
        """SELECT count(*) FROM pathways r JOIN pathways p ON p.id = r.readmission_of_id
           WHERE p.patient_id <> r.patient_id OR p.status <> 'closed' OR p.closed_at <> r.admitted_at
              OR p.discharged_at > r.admitted_at OR p.admitted_at >= r.admitted_at""",
    )
    # the status and the times agree
    assert not _count(
        db,
        """SELECT count(*) FROM pathways WHERE
             (status IN ('admitted', 'on_leave', 'cancelled') AND discharged_at IS NOT NULL)
             OR (status IN ('discharged', 'closed') AND discharged_at < admitted_at)
             OR (status = 'closed' AND (closed_at IS NULL OR closed_at < discharged_at))
             OR (status <> 'closed' AND closed_at IS NOT NULL)
             OR greatest(admitted_at, discharged_at, closed_at) > now()""",
    )


def test_events_leave_plans_and_contacts_belong_to_their_stay(db: sa.Connection) -> None:
    assert not _count(
        db,
        """SELECT count(*) FROM pathways w WHERE
             (SELECT count(*) FROM pathway_events e
              WHERE e.pathway_id = w.id AND e.type = 'admitted') <> 1
             OR (SELECT count(*) FROM pathway_events e WHERE e.pathway_id = w.id
                 AND e.type = 'discharged') <> (w.discharged_at IS NOT NULL)::int""",
    )
    # on leave exactly when an open leave period exists; every leave inside its stay
    assert not _count(
        db,
        """SELECT count(*) FROM pathways w WHERE (w.status = 'on_leave') <> EXISTS (
             SELECT 1 FROM leave_periods l WHERE l.pathway_id = w.id AND l.ended_at IS NULL)""",
    )
    assert not _count(
        db,
        """SELECT count(*) FROM leave_periods l JOIN pathways w ON w.id = l.pathway_id
           WHERE l.started_at < w.admitted_at OR l.ended_at < l.started_at
              OR l.ended_at > coalesce(w.discharged_at, now())""",
    )
    # plans: the stay's patient's, one version, at most one open plan per stay, parties as their status
    assert not _count(
        db,
        "SELECT count(*) FROM plans p JOIN pathways w ON w.id = p.pathway_id "
        "WHERE w.patient_id <> p.patient_id OR p.created_at < w.admitted_at",
    )
    assert _count(db, "SELECT count(*) FROM plans") == _count(
        db, "SELECT count(*) FROM plans p JOIN plan_versions v ON v.plan_id = p.id AND v.number = 1"
    )
    assert not _count(
        db,
        "SELECT count(*) FROM (SELECT pathway_id FROM plans WHERE status NOT IN "
        "('ended', 'withdrawn') GROUP BY pathway_id HAVING count(*) > 1) x",
    )
    statuses = set(db.execute(sa.text("SELECT DISTINCT status FROM plans")).scalars())
    assert {"draft", "proposed", "agreed", "active", "ended"} <= statuses
    assert not _count(
        db,
        """SELECT count(*) FROM plans p WHERE p.status IN ('agreed', 'active', 'ended') AND EXISTS (
             SELECT 1 FROM plan_participants q WHERE q.plan_id = p.id AND q.is_required
             AND q.response <> 'accepted')""",
    )
    assert _count(
        db,
        "SELECT count(*) FROM plans p JOIN plan_participants q ON q.plan_id = p.id "
        "WHERE p.status = 'proposed' AND q.is_required AND q.response = 'pending'",
    )
    # contact persons: some current, some without a person, some ended
    assert _count(db, "SELECT count(*) FROM contact_assignments WHERE valid_to IS NULL") > 0
    assert _count(db, "SELECT count(*) FROM contact_assignments WHERE person_id IS NULL") > 0
    assert _count(db, "SELECT count(*) FROM contact_assignments WHERE valid_to < now()") > 0


def test_cpr_numbers_are_unique_date_valid_and_fail_modulus_11(db: sa.Connection) -> None:
    cprs = list(db.execute(sa.text("SELECT cpr FROM patients")).scalars())
    assert len(set(cprs)) == len(cprs) > PATHWAYS / 4
    weights = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
    for cpr in cprs:
        assert validate_cpr(cpr) == cpr
        assert sum(int(d) * w for d, w in zip(cpr, weights, strict=True)) % 11 != 0


def test_the_floor_counts_working_days_as_the_danish_calendar_does(
    pathways_url: str, loaded: load_pathways.PathwayLoadReport
) -> None:
    """Deadlines across Easter, Whitsun, Christmas and a DST change, in SQL and in Python."""
    calendar = default_calendar()
    first, last = date(2026, 3, 20), date(2027, 1, 15)
    days = [first + timedelta(days=i) for i in range((last - first).days - 20)]
    with psycopg.connect(loader.libpq_url(pathways_url), autocommit=True) as conn:
        cursor = conn.cursor()
        gap_scan.create_calendar(cursor, first - timedelta(days=30), last)
        for n in (0, 1, 2, 5):
            cursor.execute(
                f"WITH {gap_scan.CALENDAR_CTE} SELECT d, "
                f"{gap_scan._deadline('t.at', n)}, "
                f"{gap_scan._at16(gap_scan._working_days_before('d', n))} "
                "FROM cal, unnest(%s::date[]) d "
                "CROSS JOIN LATERAL (SELECT (d + time '11:00') AT TIME ZONE 'Europe/Copenhagen' AS at) t",
                [days],
            )
            for day, deadline, before in cursor.fetchall():
                at = datetime.combine(day, time(11), tzinfo=COPENHAGEN)
                assert deadline == calendar.deadline(at, n), (day, n)
                # reminders._working_days_before
                expected = day
                if n == 0:
                    while not calendar.is_working_day(expected):
                        expected -= timedelta(days=1)
                for _ in range(n):
                    expected -= timedelta(days=1)
                    while not calendar.is_working_day(expected):
                        expected -= timedelta(days=1)
                assert before == datetime.combine(expected, time(16), tzinfo=COPENHAGEN), (day, n)


def test_a_few_wards_read_their_part_of_the_directory_with_the_same_answers(
    pathways_url: str, loaded: load_pathways.PathwayLoadReport
) -> None:
    """The commit trigger reads only the directory of the wards it evaluates (Directory._narrow); a scan
    batch reads the whole of it. Both must name the same region, chief physician and municipality."""
    database = Database(pathways_url)
    try:
        with database.sessionmaker() as session:
            whole = Directory.load(session)
        assert whole.wards
        for ward in sorted(whole.wards):
            with database.sessionmaker() as session:
                codes = {"101", "147", "999"}  # 999: no such municipality
                part = Directory.load(session, wards={ward}, kommunekoder=codes)
            assert part.region_of(ward) == whole.region_of(ward) == "DK-84"
            assert part.chief_of(ward) == whole.chief_of(ward) is not None
            assert part.municipality_by_code == {
                code: whole.municipality_by_code[code]
                for code in codes & set(whole.municipality_by_code)
            }
        centre = whole.parent[min(whole.wards)]
        with database.sessionmaker() as session:
            part = Directory.load(session, wards={centre}, kommunekoder=set())
        assert part.chief_of(centre) is None  # a centre is no ward
        assert part.region_of(centre) == "DK-84"
    finally:
        database.dispose()


def test_every_rule_fires_and_the_floor_finds_exactly_the_gaps_of_the_scan(
    base_url: str,
    pathways_url: str,
    loaded: load_pathways.PathwayLoadReport,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = gap_scan.run(
        base_url, reuse=True, schema=loader.schema_of(pathways_url), floor_runs=1, batch_size=40
    )

    agreement = result["agreement"]
    assert agreement["agrees"], agreement
    assert set(agreement["by_rule"]) == {rule.value for rule in GapRule}
    assert {rule: counts["floor"] >= 2 for rule, counts in agreement["by_rule"].items()} == {
        rule.value: True for rule in GapRule
    }
    cold, warm = result["scan"]["cold"]["summary"], result["scan"]["warm"]["summary"]
    assert cold["pathways"] == result["open_pathways"] == warm["pathways"]
    assert cold["created"] == cold["gaps"] == agreement["floor_gaps"] == result["floor"]["gaps"]
    assert cold["notified"] > 0
    assert (warm["created"], warm["updated"], warm["reopened"], warm["resolved"]) == (0, 0, 0, 0)
    # a day later deadlines have passed: reminders made and changed, and still exactly the floor's gaps
    later = result["scan"]["next_day"]["summary"]
    assert later["created"] > 0
    assert later["updated"] > 0
    assert result["agreement_next_day"]["agrees"], result["agreement_next_day"]
    assert result["agreement_next_day"]["scan_gaps"] == later["gaps"]
    assert result["scan"]["max_rss_mb"] > 0
    assert result["floor_thresholds_differ_for"] == []
    # issue 21: the ticks, the shared scan and the safety net
    ticks = result["ticks"]
    assert ticks["with_due_time"] > 0
    for share in gap_scan.TICK_SHARES:
        sample = ticks["ticks"][f"{share:.1%} sample"]
        assert (
            sample["due"] == sample["summary"]["pathways"] == round(share * ticks["open_pathways"])
        )
    assert ticks["ticks"][f"{0.1:.1%}"]["summary"]["created"] > 0, "real deadlines passed"
    shared = ticks["shared_scan"]
    assert sum(shared["two"]["pathways_per_process"]) == result["open_pathways"]
    assert shared["one"]["pathways_per_process"] == [result["open_pathways"]]
    assert shared["one"]["changes"] == shared["two"]["changes"] == 0
    assert ticks["safety_net"]["ticked"]["pathways"] > 0
    assert ticks["safety_net"]["missed"] == 0, "the nightly scan finds nothing the ticks missed"
    gap_scan.report(result)
    printed = capsys.readouterr().out
    assert "the same gaps" in printed
    assert "scan_all, warm" in printed
    assert "safety net:" in printed
    assert "nothing missed" in printed
