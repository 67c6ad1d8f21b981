"""The ingest benchmark at a small scale: the messages it makes from the fixtures are distinct, valid
sequences of the same stay, and every one of them is processed once (and replayed when resent).

The message tests need no database; the run itself is PostgreSQL-only (the loader uses COPY) and skips on
SQLite.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import ingest
from bench import load as loader
from fhir_adapters import medcom
from pathways.identifiers import validate_cpr
from tests.conftest import fresh_database_url

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
WARDS = ("900000000000101", "900000000000102")


def test_each_stay_is_the_fixture_sequence_with_its_own_ids_patient_ward_and_times() -> None:
    maker = ingest.Messages(wards=WARDS, seed=3, now=NOW)
    cprs = loader.synthetic_cprs(2)
    stays = [maker.stay(n, cprs[n]) for n in range(2)]

    notices = [[medcom.parse_hospital_notification(body) for _, body in stay] for stay in stays]
    for n, (stay, parsed) in enumerate(zip(stays, notices, strict=True)):
        assert [name for name, _ in stay] == list(ingest.SEQUENCE)
        assert [notice.activity.value for notice in parsed] == list(ingest.SEQUENCE)
        assert {notice.cpr for notice in parsed} == {validate_cpr(cprs[n])}
        assert {notice.ward_sor for notice in parsed} == {WARDS[n % len(WARDS)]}
        assert len({notice.episode_of_care for notice in parsed}) == 1  # the same stay throughout
        times = [notice.occurred_at for notice in parsed]
        assert times == sorted(times)
        assert all(t < NOW for t in times)
    ids = [notice.message_id for parsed in notices for notice in parsed]
    fixture_ids = {
        medcom.parse_hospital_notification(body).message_id
        for body in (json.loads(t) for t in maker.texts)
    }
    assert len(set(ids)) == 8
    assert not set(ids) & fixture_ids
    assert notices[0][0].episode_of_care != notices[1][0].episode_of_care


@pytest.fixture
def ingest_url(tmp_path: Path) -> str:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        pytest.skip(
            "the ingest benchmark's loader is PostgreSQL-only: it runs in make test's PostgreSQL pass"
        )
    return fresh_database_url(base, tmp_path, "bench_ingest")


def test_every_message_is_processed_once_and_replayed_when_resent(
    ingest_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = os.environ["TEST_DATABASE_URL"]
    result = ingest.run(base, stays=3, pathways=300, schema=loader.schema_of(ingest_url))

    assert result["new"]["outcomes"] == {"ok": 12}
    assert result["resend"]["outcomes"] == {"ok (replay)": 12}
    assert set(result["new"]["ms_by_activity"]) == set(ingest.SEQUENCE)
    assert set(result["statements"]) == set(ingest.SEQUENCE)
    assert all(n > 0 for n in result["statements"].values())
    assert result["rows_before"]["pathways"] == 300
    assert result["new"]["per_second"] > 0
    # async=true: accepted into the inbox, then processed by one worker, and (other stays) by two
    assert result["accept"]["outcomes"] == {"accepted": 12}
    assert result["worker_1"]["processed"] == 12
    assert result["worker_2"]["processed"] == 12
    assert result["worker_2"]["workers"] == 2
    assert result["worker_2"]["ratio_to_one_worker"] > 0
    ingest.report(result)
    out = capsys.readouterr().out
    assert "resend (all replays)" in out
    assert "processed by two workers" in out
