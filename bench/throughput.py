"""Throughput over real HTTP (issue 21, ``--only http``): GET plan against the app under gunicorn.

The app runs under gunicorn (``coordinator:create_app()``, gthread workers) as a subprocess on 127.0.0.1
and a free port, on PostgreSQL with the REST benchmark's data set (schema carepath_bench), once with one
worker and once with two, ``--http-threads`` threads each. ``--http-clients`` client threads, each with its
own keep-alive connection (``http.client``: HTTP/1.1, one TCP connection per client for the whole run)
and the session cookie of the logged-in benchmark nurse, ask for the plans of her ward in turn for
``--http-seconds`` after a short warm-up. Reported per run: requests per second, p50/p95/p99 latency as
the client sees it, errors; and the scaling from one worker to two. Gunicorn is stopped after each run.

Nothing here gates: a run that cannot start gunicorn is reported as skipped with the reason.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from flask import Flask
from psycopg.rows import dict_row

from bench import load as loader
from coordinator import create_app
from coordinator.db import get_database
from coordinator.security import LAST_SEEN_KEY

SCHEMA = "carepath_bench"
SECRET = "bench-http"  # noqa: S105 - the gunicorn app and the cookie signer share it (a benchmark)
DEFAULT_CLIENTS = 8
DEFAULT_THREADS = 4
DEFAULT_SECONDS = 10.0
WARMUP_SECONDS = 2.0
START_TIMEOUT = 60.0


@dataclass
class HttpRun:
    workers: int
    threads: int
    clients: int
    seconds: float = 0.0
    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    skipped: str = ""

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    def summary(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "threads": self.threads,
            "clients": self.clients,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_second": round(self.per_second, 1),
            "p50_ms": self.percentile(0.50),
            "p95_ms": self.percentile(0.95),
            "p99_ms": self.percentile(0.99),
            "mean_ms": statistics.fmean(self.latencies_ms) if self.latencies_ms else None,
            "skipped": self.skipped or None,
        }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def session_cookie(app: Flask, user_id: int) -> str:
    """The signed session cookie a login of ``user_id`` makes (as bench.run.login does for the test
    client), for an app with the same SECRET_KEY."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    value = serializer.dumps({"_user_id": str(user_id), "_fresh": True, LAST_SEEN_KEY: time.time()})
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


def _environment(url: str) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "FHIR_VALIDATE_OUTPUT": "0",
        "API_RATE_LIMIT": "",  # a benchmark asks far more often than any client may
        "LOG_LEVEL": "WARNING",
    }


def start_gunicorn(url: str, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "coordinator:create_app()",
    ]
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        command,
        env=_environment(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # stopped as a group: the arbiter and its workers
    )


def wait_until_serving(process: subprocess.Popen[bytes], port: int, workers: int) -> None:
    """Until every worker answers (a worker's first request builds its app's caches: asked for each)."""
    deadline = time.monotonic() + START_TIMEOUT
    answered = 0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"gunicorn exited with {process.returncode}: {error[-500:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
        except OSError:
            time.sleep(0.2)
            continue
        finally:
            connection.close()
        answered += 1
        if answered >= workers * 2:
            return
    raise RuntimeError(f"gunicorn did not answer on port {port} within {START_TIMEOUT:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process.stderr:
        process.stderr.close()


class Client(threading.Thread):
    """One keep-alive connection asking GET plan in turn until ``stop_at``; records after ``record_from``."""

    def __init__(
        self,
        port: int,
        cookie: str,
        paths: list[str],
        *,
        offset: int,
        record_from: float,
        stop_at: float,
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.cookie, self.paths, self.offset = port, cookie, paths, offset
        self.record_from, self.stop_at = record_from, stop_at
        self.latencies_ms: list[float] = []
        self.errors = 0
        self.error_sample = ""

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        i = self.offset
        while (now := time.monotonic()) < self.stop_at:
            path = self.paths[i % len(self.paths)]
            i += 1
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Cookie": self.cookie})
                response = connection.getresponse()
                response.read()
                status = response.status
                renewed = response.getheader("Set-Cookie")
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                status, renewed = 0, None
                self.error_sample = self.error_sample or repr(error)
            elapsed = (time.perf_counter() - started) * 1000
            if (
                renewed
            ):  # the idle timeout's last-seen stamp: keep the newest cookie, as a browser does
                self.cookie = renewed.split(";", 1)[0]
            if now < self.record_from:
                continue
            if status == 200:
                self.latencies_ms.append(elapsed)
            else:
                self.errors += 1
                self.error_sample = self.error_sample or f"status {status}"
        connection.close()


def measure(
    url: str,
    cookie: str,
    paths: list[str],
    *,
    workers: int,
    threads: int,
    clients: int,
    seconds: float,
) -> HttpRun:
    run = HttpRun(workers, threads, clients)
    port = free_port()
    process = start_gunicorn(url, port, workers, threads)
    try:
        wait_until_serving(process, port, workers)
        start = time.monotonic()
        record_from = start + WARMUP_SECONDS
        stop_at = record_from + seconds
        pool = [
            Client(port, cookie, paths, offset=n * 7, record_from=record_from, stop_at=stop_at)
            for n in range(clients)
        ]
        for client in pool:
            client.start()
        for client in pool:
            client.join(timeout=seconds + WARMUP_SECONDS + 60)
        run.seconds = seconds
        for client in pool:
            run.latencies_ms += client.latencies_ms
            run.errors += client.errors
        run.requests = len(run.latencies_ms)
        samples = [c.error_sample for c in pool if c.error_sample]
        if samples and not run.requests:
            run.skipped = f"every request failed: {samples[0]}"
    except RuntimeError as error:
        run.skipped = str(error)
    finally:
        stop(process)
    return run


def _plan_paths(url: str, seed: int, samples: int) -> tuple[int, list[str]]:
    import random  # noqa: PLC0415

    with psycopg.connect(loader.libpq_url(url), row_factory=dict_row) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, organisation_id FROM users WHERE username = %s", ["bench.region"])
        nurse = cur.fetchone()
        if nurse is None:
            raise SystemExit(f"schema {SCHEMA} holds no benchmark data: run --only api first")
        cur.execute(
            "SELECT p.id FROM plans p JOIN pathways w ON w.id = p.pathway_id WHERE w.ward_id = %s",
            [nurse["organisation_id"]],
        )
        ids = sorted(row["id"] for row in cur.fetchall())
    chosen = random.Random(seed).sample(ids, min(samples, len(ids)))
    return nurse["id"], [f"/api/v1/plans/{i}" for i in chosen]


def run(
    base_url: str,
    *,
    clients: int = DEFAULT_CLIENTS,
    threads: int = DEFAULT_THREADS,
    seconds: float = DEFAULT_SECONDS,
    seed: int = loader.DEFAULT_SEED,
) -> dict[str, Any]:
    """One worker, then two, on the REST data set; the results document's ``http`` part."""
    return run_on(
        loader.with_schema(base_url, SCHEMA),
        clients=clients,
        threads=threads,
        seconds=seconds,
        seed=seed,
    )


def run_on(
    url: str,
    *,
    clients: int = DEFAULT_CLIENTS,
    threads: int = DEFAULT_THREADS,
    seconds: float = DEFAULT_SECONDS,
    seed: int = loader.DEFAULT_SEED,
) -> dict[str, Any]:
    """``run`` on the data set ``bench.load`` loaded at ``url`` (a schema's URL)."""
    nurse, paths = _plan_paths(url, seed, 1000)
    signer = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "TESTING": True})
    cookie = session_cookie(signer, nurse)
    get_database(signer).dispose()
    runs = []
    for workers in (1, 2):
        print(f"measuring GET /plans/{{id}} over HTTP: gunicorn with {workers} worker(s)...")
        runs.append(
            measure(
                url,
                cookie,
                paths,
                workers=workers,
                threads=threads,
                clients=clients,
                seconds=seconds,
            )
        )
    one, two = runs
    scaling = two.per_second / one.per_second if one.per_second and two.per_second else None
    return {
        "request": "GET /api/v1/plans/{id}",
        "server": "gunicorn gthread, 127.0.0.1",
        "warmup_seconds": WARMUP_SECONDS,
        "runs": [r.summary() for r in runs],
        "scaling_two_workers": scaling,
        "cpus": os.cpu_count(),
    }


def _ms(value: float | None) -> str:
    return f"{value:8.2f}" if value is not None else f"{'-':>8}"


def report(result: dict[str, Any]) -> None:
    print(f"\nHTTP throughput (issue 21): {result['request']} under {result['server']}")
    print(
        f"{'workers':>7} {'threads':>7} {'clients':>7}  {'req/s':>8}  {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8}  {'requests':>8} {'errors':>6}"
    )
    for r in result["runs"]:
        if r["skipped"]:
            print(f"{r['workers']:>7} {r['threads']:>7} {r['clients']:>7}  skipped: {r['skipped']}")
            continue
        print(
            f"{r['workers']:>7} {r['threads']:>7} {r['clients']:>7}  {r['requests_per_second']:8.1f}  "
            f"{_ms(r['p50_ms'])} {_ms(r['p95_ms'])} {_ms(r['p99_ms'])}  {r['requests']:>8} "
            f"{r['errors']:>6}"
        )
    scaling = result.get("scaling_two_workers")
    if scaling:
        print(
            f"(two workers: {scaling:.2f}x the requests per second of one, on {result['cpus']} CPUs "
            "shared with PostgreSQL and the clients)"
        )
