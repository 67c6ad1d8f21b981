"""`make bench`, HospitalNotification ingest (issues 7 and 21): MedCom messages per second through the inbox.

Synchronous mode as ``POST /fhir/$process-message`` runs it (ADR 0013): the message stored in the inbox
(``receive``, one transaction), then processed (``process_received``, a second transaction: the commit
queues the pathway's gap evaluation for the scheduler). Asynchronous mode (``async=true``): the accept rate
into the inbox (``receive``, one transaction per message), then the inbox worker (``process_inbox``,
batches of ``INBOX_BATCH`` messages per transaction, Acknowledgements through the outbox) in one worker
process and in two at once, each a real process started before the clock runs. The queued evaluations
are then drained as the scheduler's ``evaluate_queued`` job does, and timed on their own. Measured on
PostgreSQL in a data set of its own (``bench.load_pathways`` with 200,000 pathways, schema
``carepath_bench_ingest``, scanned once so that reminders exist, as in steady state):

- new: N distinct stays, each the fixture sequence admit-inpatient, start-leave-inpatient,
  end-leave-inpatient, discharge-inpatient-home (tests/fixtures/medcom), so 4N messages. Per stay every
  UUID of the fixtures (message, bundle, resource, episode ids) is replaced consistently (so each message's
  Provenance still names its predecessors), the CPR number by a fresh synthetic one (valid birth date,
  fails modulus 11, never one of the loaded patients), the ward's SOR code by one of the loaded wards', the
  municipality by a random one, and all times are moved so that the stay ended in the last 20 days;
- resend: the same 4N messages again, each answered from the inbound message log (a replay, no change);
- accept: 4N other messages (other stays) stored with async=true; worker x1: those processed by one
  worker; then 4N more, accepted and processed by two workers at once (worker x2).

Printed: messages per second for each case, milliseconds per message by activity, SQL statements per
message, and the ratio to each target (issue 21: synchronous >= 150/s, accept >= 2,000/s, one worker
>= 500/s, two workers >= 1.5x one; printed, never enforced). The actor is a system
actor (as in tests/integration/test_medcom_inbound.py); the HTTP layer (JSON parsing, the bearer token) is
not measured.

    python -m bench.ingest                    # load the data set (about 10 s), then 2,000 stays (8,000 messages)
    python -m bench.ingest --reuse --stays 5000
    python -m bench.ingest --profile          # and where the time of new messages goes (cProfile)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event

from bench import load as loader
from bench import load_pathways

SCHEMA = "carepath_bench_ingest"
PATHWAYS = 200_000
DEFAULT_STAYS = 2_000
TARGET_PER_SECOND = 500.0  # issue 7's target for one process; issue 21 sets one per case:
TARGETS = {"new": 150.0, "accept": 2000.0, "worker_1": 500.0}
TARGET_TWO_WORKERS = 1.5  # x the one worker's rate
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "medcom"
SEQUENCE = (
    "admit-inpatient",
    "start-leave-inpatient",
    "end-leave-inpatient",
    "discharge-inpatient-home",
)
FIXTURE_CPR = "0101701234"
FIXTURE_WARD_SOR = "990111000016009"  # the sending ward, also the Encounter's serviceProvider
FIXTURE_KOMMUNEKODE = '"code": "0101"'
CONFIG = {"MESSAGING_SOR": "990000000000001", "MESSAGING_GLN": "5790000000012"}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")


# ---------------------------------------------------------------------------- the messages
class Messages:
    """Distinct message sequences made from the fixtures (see the module docstring)."""

    def __init__(self, *, wards: Sequence[str], seed: int, now: datetime) -> None:
        if not wards:
            raise ValueError("no ward with a SOR code to send from")
        self.texts = [(FIXTURES / f"{name}.json").read_text(encoding="utf-8") for name in SEQUENCE]
        self.wards = list(wards)
        self.rng = random.Random(seed)
        self.namespace = uuid.UUID(int=self.rng.getrandbits(128))
        self.now = now
        instants = [datetime.fromisoformat(i) for t in self.texts for i in _INSTANT.findall(t)]
        self.last = max(instants)  # the discharge message was sent then

    def stay(self, n: int, cpr: str) -> list[tuple[str, dict[str, Any]]]:
        """The 4 messages of stay ``n`` for the patient ``cpr``, each with the name of its fixture."""
        rng = self.rng
        ids: dict[str, str] = {}

        def new_id(match: re.Match[str]) -> str:
            old = match.group(0)
            if old not in ids:
                ids[old] = str(uuid.uuid5(self.namespace, f"{n}:{old}"))
            return ids[old]

        shift = (self.now - timedelta(days=1 + rng.random() * 19)) - self.last

        def moved(match: re.Match[str]) -> str:
            return (datetime.fromisoformat(match.group(0)) + shift).isoformat()

        ward = self.wards[n % len(self.wards)]
        municipality = f'"code": "{rng.choice(list(_KOMMUNEKODER)):0>4}"'
        out = []
        for name, fixture in zip(SEQUENCE, self.texts, strict=True):
            text = _INSTANT.sub(moved, _UUID.sub(new_id, fixture))
            text = text.replace(FIXTURE_CPR, cpr).replace(FIXTURE_WARD_SOR, ward)
            out.append((name, json.loads(text.replace(FIXTURE_KOMMUNEKODE, municipality))))
        return out


def _kommunekoder() -> tuple[str, ...]:
    from pathways.geography import MUNICIPALITIES  # noqa: PLC0415

    return tuple(MUNICIPALITIES)


_KOMMUNEKODER = _kommunekoder()


def fresh_cprs(cursor: psycopg.Cursor[Any], count: int) -> list[str]:
    """``count`` synthetic CPR numbers no patient of the schema has (the loader took the first ones)."""
    cursor.execute("SELECT count(*) FROM patients")
    taken = int(cursor.fetchone()[0])  # type: ignore[index]
    cursor.execute("SELECT cpr FROM patients WHERE cpr IS NOT NULL")
    existing = {row[0] for row in cursor.fetchall()}
    # Not only after the loaded ones: earlier runs on the same data registered some of those after them.
    found = [c for c in loader.synthetic_cprs(2 * (taken + count))[taken:] if c not in existing]
    if len(found) < count:
        raise SystemExit("ran out of synthetic CPR numbers: reload the ingest data set")
    return found[:count]


# ---------------------------------------------------------------------------- measuring
class StatementCounter:
    """SQL statements the engine runs while attached, per message."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.count = 0

    def _seen(self, *_args: object) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def ingest(
    database: Any,
    config: Any,
    messages: Sequence[tuple[str, dict[str, Any]]],
    *,
    profiler: cProfile.Profile | None = None,
    asynchronous: bool = False,
) -> dict[str, Any]:
    """Each message as the HTTP endpoint handles it: stored in a transaction of its own, then (unless
    ``asynchronous``) processed in a second one."""
    from coordinator.messaging.services import process_received, receive  # noqa: PLC0415
    from pathways.clock import SystemClock  # noqa: PLC0415
    from pathways.people import Actor  # noqa: PLC0415

    actor = Actor.system("medcom-gateway")
    clock = SystemClock()
    outcomes: Counter[str] = Counter()
    by_activity: dict[str, list[float]] = defaultdict(list)
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for name, bundle in messages:
        began = time.perf_counter()
        with database.sessionmaker() as session:
            received = receive(session, actor, clock, bundle, config, asynchronous=asynchronous)
            session.commit()
            receipt = received.receipt
            if receipt is None and not asynchronous:
                assert received.entry_id is not None
                receipt = process_received(session, actor, clock, received.entry_id, config)
                session.commit()
        by_activity[name].append(time.perf_counter() - began)
        if receipt is None:
            outcomes["accepted"] += 1
        else:
            outcomes[f"{receipt.code.value}{' (replay)' if receipt.replayed else ''}"] += 1
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    return {
        "messages": len(messages),
        "seconds": seconds,
        "per_second": len(messages) / seconds,
        "outcomes": dict(outcomes),
        "ms_by_activity": {a: 1000 * sum(t) / len(t) for a, t in by_activity.items()},
    }


WORKER = """
import json, sys, time
from datetime import timedelta
from pathlib import Path
from coordinator import create_app
from coordinator.db import get_database
from coordinator.messaging.inbox import process_inbox
from pathways.clock import SystemClock

url, go = sys.argv[1], Path(sys.argv[2])
config = json.loads(sys.argv[3])
app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench", **config})
database = get_database(app)
with database.transaction() as session:  # connect and warm up before the clock runs
    session.execute(__import__("sqlalchemy").text("SELECT 1"))
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
with app.app_context():
    started = time.time()
    summary = process_inbox(database, SystemClock(), app.config, run_for=timedelta(minutes=30))
    ended = time.time()
print(json.dumps({"started": started, "ended": ended, **summary.as_log()}), flush=True)
"""


def run_workers(url: str, count: int, messages: int) -> dict[str, Any]:
    """``count`` inbox worker processes, started and connected first, then let go at once; the rate is
    the messages over the wall time from the first start to the last end."""
    with tempfile.TemporaryDirectory() as tmp:
        go = Path(tmp) / "go"
        root = Path(__file__).resolve().parent.parent
        workers = [
            subprocess.Popen(  # noqa: S603 - our own interpreter and script
                [sys.executable, "-c", WORKER, url, str(go), json.dumps(CONFIG)],
                cwd=root,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        for worker in workers:
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise SystemExit("an inbox worker did not start")
        go.touch()
        reports = []
        for worker in workers:
            output = worker.communicate()[0]
            reports.append(json.loads(output.strip().splitlines()[-1]))
    seconds = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    processed = sum(r["processed"] for r in reports)
    return {
        "workers": count,
        "messages": messages,
        "processed": processed,
        "per_worker": [r["processed"] for r in reports],
        "batches": sum(r["batches"] for r in reports),
        "seconds": seconds,
        "per_second": processed / seconds,
    }


def statements_per_message(
    database: Any, config: Any, stay: Sequence[tuple[str, dict[str, Any]]]
) -> dict[str, int]:
    counts = {}
    for message in stay:
        with StatementCounter(database.engine) as counter:
            ingest(database, config, [message])
        counts[message[0]] = counter.count
    return counts


# ---------------------------------------------------------------------------- the benchmark
def asynchronous_cases(
    database: Any,
    config: Any,
    url: str,
    later: Sequence[tuple[str, dict[str, Any]]],
    latest: Sequence[tuple[str, dict[str, Any]]],
) -> dict[str, Any]:
    """async=true: ``later`` accepted into the inbox (timed), then processed by one worker; ``latest``
    accepted (not timed) and processed by two workers at once."""
    result: dict[str, Any] = {}
    print(f"accepting {len(later):,} other messages with async=true...", flush=True)
    result["accept"] = ingest(database, config, later, asynchronous=True)
    print("processing them with one inbox worker...", flush=True)
    result["worker_1"] = run_workers(url, 1, len(later))
    ingest(database, config, latest, asynchronous=True)
    print(f"accepting {len(latest):,} more, processing them with two workers...", flush=True)
    result["worker_2"] = run_workers(url, 2, len(latest))
    return result


def run(
    base_url: str,
    *,
    reuse: bool = False,
    stays: int = DEFAULT_STAYS,
    pathways: int = PATHWAYS,
    seed: int = 20261128,
    profile: bool = False,
    schema: str = SCHEMA,
) -> dict[str, Any]:
    from coordinator import create_app  # noqa: PLC0415
    from coordinator.db import get_database  # noqa: PLC0415
    from coordinator.reminders.scan import evaluate_queued, scan_all  # noqa: PLC0415
    from pathways.clock import FixedClock, SystemClock  # noqa: PLC0415

    url = loader.with_schema(base_url, schema)
    result: dict[str, Any] = {"schema": schema}
    if reuse and load_pathways.loaded_now(url) is not None:
        result["load"] = {"reused": True}
        from coordinator import migrate  # noqa: PLC0415

        migrate.upgrade(url)  # a data set loaded before a new migration gets it
    else:
        print(f"loading {pathways:,} pathways into schema {schema}...", flush=True)
        report = load_pathways.load(url, pathways=pathways, seed=seed)
        result["load"] = {"seconds": report.seconds, "rows": report.counts}
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench", **CONFIG})
    database = get_database(app)
    now = datetime.now(UTC)
    with app.app_context():
        if not result["load"].get("reused"):
            started = time.perf_counter()
            summary = scan_all(
                database, FixedClock(now), app.config
            )  # reminders as in steady state
            result["scan_before"] = {"seconds": time.perf_counter() - started, **summary.as_log()}
        with psycopg.connect(loader.libpq_url(url), autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT sor_code FROM organisations WHERE kind = 'ward' AND sor_code IS NOT NULL "
                "ORDER BY id"
            )
            wards = [row[0] for row in cur.fetchall()]
            cprs = fresh_cprs(cur, 3 * stays + 1)
            cur.execute(
                "SELECT (SELECT count(*) FROM pathways), (SELECT count(*) FROM patients), "
                "(SELECT count(*) FROM pathway_events), (SELECT count(*) FROM reminders), "
                "(SELECT count(*) FROM inbound_messages)"
            )
            names = ("pathways", "patients", "pathway_events", "reminders", "inbound_messages")
            result["rows_before"] = dict(zip(names, cur.fetchone() or (), strict=True))
        # Seeded by what the schema holds: a run on reused data sends messages of its own (the same
        # MessageHeader ids with other patients would be refused as reused ids).
        maker = Messages(
            wards=wards, seed=seed + stays + result["rows_before"]["inbound_messages"], now=now
        )
        print(f"making {stays:,} stays of {len(SEQUENCE)} messages...", flush=True)
        messages = [m for n in range(stays) for m in maker.stay(n, cprs[n])]
        later = [m for n in range(stays, 2 * stays) for m in maker.stay(n, cprs[n + 1])]
        latest = [m for n in range(2 * stays, 3 * stays) for m in maker.stay(n, cprs[n + 1])]
        # one more stay, not timed: how many statements each of its messages runs
        extra = maker.stay(3 * stays, cprs[stays])
        result["statements"] = statements_per_message(database, app.config, extra)
        print(f"ingesting {len(messages):,} messages, one transaction each...", flush=True)
        profiler = cProfile.Profile() if profile else None
        result["new"] = ingest(database, app.config, messages, profiler=profiler)
        # The messages queued their pathways' gap evaluations: the scheduler's job does that work,
        # timed here so that the whole cost is visible.
        started = time.perf_counter()
        drained = evaluate_queued(database, SystemClock(), app.config)
        result["queued_evaluation"] = {
            "seconds": time.perf_counter() - started,
            **drained.as_log(),
        }
        print(f"resending the same {len(messages):,} messages...", flush=True)
        result["resend"] = ingest(database, app.config, messages)
        result |= asynchronous_cases(database, app.config, url, later, latest)
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
            result["profile"] = out.getvalue()
    database.dispose()
    return judged(result)


def judged(result: dict[str, Any]) -> dict[str, Any]:
    """Each case's ratio to its target (printed and written, never enforced)."""
    result["targets"] = {**TARGETS, "worker_2_vs_worker_1": TARGET_TWO_WORKERS}
    for case, target in TARGETS.items():
        result[case]["target_per_second"] = target
        result[case]["ratio_to_target"] = result[case]["per_second"] / target
        result[case]["met"] = result[case]["per_second"] >= target
    two = result["worker_2"]
    two["ratio_to_one_worker"] = two["per_second"] / result["worker_1"]["per_second"]
    two["met"] = two["ratio_to_one_worker"] >= TARGET_TWO_WORKERS
    return result


def report(result: dict[str, Any]) -> None:
    print(
        f"\nHospitalNotification ingest: one process per worker, schema "
        f"{result['schema']} ({result['rows_before']['pathways']:,} pathways, "
        f"{result['rows_before']['reminders']:,} reminders before)"
    )
    width = 40
    print(
        f"{'':{width}}  {'messages':>8}  {'seconds':>7}  {'msgs/s':>7}  {'of target':>9}  {'target':>11}"
    )
    print("-" * (width + 64))
    for case, label in (
        ("new", "synchronous (store, then process)"),
        ("resend", "synchronous resend (all replays)"),
        ("accept", "async=true: accepted into the inbox"),
        ("worker_1", "async: processed by one worker"),
        ("worker_2", "async: processed by two workers"),
    ):
        r = result.get(case)
        if r is None:
            continue
        if case == "worker_2":
            ratio, target = r["ratio_to_one_worker"], f">= {TARGET_TWO_WORKERS}x one"
        elif case in TARGETS:
            ratio, target = r["ratio_to_target"], f">= {TARGETS[case]:,.0f}/s"
        else:
            ratio, target = None, "-"
        verdict = "" if ratio is None else ("ok" if r["met"] else "MISSED")
        shown = f"{ratio:8.2f}x" if ratio is not None else f"{'-':>9}"
        print(
            f"{label:{width}}  {r['messages']:8,}  {r['seconds']:7.1f}  {r['per_second']:7.0f}  "
            f"{shown}  {target:>11}  {verdict}"
        )
    queued = result.get("queued_evaluation")
    if queued:
        print(
            f"gap evaluation the messages queued (the scheduler's evaluate_queued job): "
            f"{queued['pathways']:,} pathways in {queued['seconds']:.1f} s, "
            f"{queued['created']:,} reminders created, {queued['resolved']:,} resolved"
        )
    print("\nms per message by activity (synchronous new; resend; accept):")
    for activity, ms in result["new"]["ms_by_activity"].items():
        again = result["resend"]["ms_by_activity"].get(activity, 0.0)
        accepted = result.get("accept", {}).get("ms_by_activity", {}).get(activity, 0.0)
        statements = result["statements"].get(activity, "-")
        print(
            f"  {activity:26} {ms:6.2f}; {again:5.2f}; {accepted:5.2f}   "
            f"({statements} SQL statements, synchronous)"
        )
    outcomes = ", ".join(f"{n:,} {o}" for o, n in {**result["new"]["outcomes"]}.items())
    replays = ", ".join(f"{n:,} {o}" for o, n in result["resend"]["outcomes"].items())
    print(f"outcomes: new {outcomes}; resend {replays}")
    for case in ("worker_1", "worker_2"):
        r = result.get(case)
        if r:
            print(
                f"{case}: {r['processed']:,} of {r['messages']:,} processed in {r['batches']:,} "
                f"batches (per worker {r['per_worker']})"
            )
    print("(targets are printed, never enforced)")
    if "profile" in result:
        print("\n--- where the time of new messages goes (cProfile, cumulative) ---")
        print(result["profile"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    loader.url_argument(parser)
    parser.add_argument("--reuse", action="store_true", help="skip the loader: reuse its data")
    parser.add_argument("--stays", type=int, default=DEFAULT_STAYS, help="4 messages each")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.url, reuse=args.reuse, stays=args.stays, profile=args.profile)
    report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
