"""The HTTP throughput case (bench.throughput, issue 21) on a tiny data set: gunicorn starts on a free
port, the benchmark nurse's cookie is accepted, every request answers 200, and gunicorn is gone after.

PostgreSQL only (the loader uses COPY): on SQLite it skips; `make test` runs it in its PostgreSQL pass.
"""

from __future__ import annotations

import os
import socket

import pytest

from bench import load as loader
from bench import throughput
from tests.conftest import fresh_database_url


@pytest.fixture(scope="module")
def bench_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = fresh_database_url(
        os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("http"), "bench_http"
    )
    if not url.startswith("postgresql"):
        pytest.skip("the benchmark loader is PostgreSQL-only (COPY)")
    loader.load(url, patients=30, plans=40, seed=7)
    return url


def _serving(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_get_plan_over_http_with_one_and_two_workers(bench_url: str) -> None:
    result = throughput.run_on(bench_url, clients=2, threads=2, seconds=1.0)
    one, two = result["runs"]
    assert (one["workers"], two["workers"]) == (1, 2)
    for run in (one, two):
        assert run["skipped"] is None, run
        assert run["requests"] > 0
        assert run["errors"] == 0
        assert run["p50_ms"] <= run["p95_ms"] <= run["p99_ms"]
        assert run["requests_per_second"] == pytest.approx(run["requests"] / run["seconds"], 0.01)
    assert result["scaling_two_workers"] == pytest.approx(
        two["requests_per_second"] / one["requests_per_second"]
    )


def test_a_gunicorn_that_cannot_start_is_reported_and_stopped(bench_url: str) -> None:
    port = throughput.free_port()
    with socket.socket() as taken:  # the port is in use: gunicorn exits at once
        taken.bind(("127.0.0.1", port))
        taken.listen()
        process = throughput.start_gunicorn(bench_url, port, workers=1, threads=1)
        with pytest.raises(RuntimeError, match="gunicorn"):
            throughput.wait_until_serving(process, port, 1)
        throughput.stop(process)
    assert process.poll() is not None
    assert not _serving(port)
