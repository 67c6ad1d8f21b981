"""`make bench`, HospitalNotification ingest (issue 7): MedCom messages per second through ``process_message``.

One process, one transaction per message, as ``POST /fhir/$process-message`` does: a session, the service,
the commit (which queues the pathway's gap evaluation for the scheduler), and close. The queued evaluations
are then drained as the scheduler's ``evaluate_queued`` job does, and timed on their own. Measured on
PostgreSQL in a data set of its own (``bench.load_pathways`` with 200,000 pathways, schema
``carepath_bench_ingest``, scanned once so that reminders exist, as in steady state):

- new: N distinct stays, each the fixture sequence admit-inpatient, start-leave-inpatient,
  end-leave-inpatient, discharge-inpatient-home (tests/fixtures/medcom), so 4N messages. Per stay every
  UUID of the fixtures (message, bundle, resource, episode ids) is replaced consistently (so each message's
  Provenance still names its predecessors), the CPR number by a fresh synthetic one (valid birth date,
  fails modulus 11, never one of the loaded patients), the ward's SOR code by one of the loaded wards', the
  municipality by a random one, and all times are moved so that the stay ended in the last 20 days;
- resend: the same 4N messages again, each answered from the inbound message log (a replay, no change).

Printed: messages per second for both, milliseconds per message by activity, SQL statements per message,
and the ratio to the target of 500 messages per second (printed, never enforced). The actor is a system
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
import sys
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
TARGET_PER_SECOND = 500.0
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
    found = [c for c in loader.synthetic_cprs(taken + count * 2)[taken:] if c not in existing]
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
) -> dict[str, Any]:
    """Each message in a session and transaction of its own, committed (as the HTTP endpoint does)."""
    from coordinator.messaging.services import process_message  # noqa: PLC0415
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
            receipt = process_message(session, actor, clock, bundle, config)
            session.commit()
        by_activity[name].append(time.perf_counter() - began)
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
    result: dict[str, Any] = {"schema": schema, "target_per_second": TARGET_PER_SECOND}
    if reuse and load_pathways.loaded_now(url) is not None:
        result["load"] = {"reused": True}
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
            cprs = fresh_cprs(cur, stays + 1)
            cur.execute(
                "SELECT (SELECT count(*) FROM pathways), (SELECT count(*) FROM patients), "
                "(SELECT count(*) FROM pathway_events), (SELECT count(*) FROM reminders), "
                "(SELECT count(*) FROM inbound_messages)"
            )
            names = ("pathways", "patients", "pathway_events", "reminders", "inbound_messages")
            result["rows_before"] = dict(zip(names, cur.fetchone() or (), strict=True))
        maker = Messages(wards=wards, seed=seed + stays, now=now)
        print(f"making {stays:,} stays of {len(SEQUENCE)} messages...", flush=True)
        messages = [m for n in range(stays) for m in maker.stay(n, cprs[n])]
        # one more stay, not timed: how many statements each of its messages runs
        extra = maker.stay(stays, cprs[stays])
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
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
            result["profile"] = out.getvalue()
    database.dispose()
    for case in ("new", "resend"):
        result[case]["ratio_to_target"] = result[case]["per_second"] / TARGET_PER_SECOND
        result[case]["met"] = result[case]["per_second"] >= TARGET_PER_SECOND
    return result


def report(result: dict[str, Any]) -> None:
    print(
        f"\nHospitalNotification ingest: one process, one transaction per message, schema "
        f"{result['schema']} ({result['rows_before']['pathways']:,} pathways, "
        f"{result['rows_before']['reminders']:,} reminders before)"
    )
    width = 34
    print(
        f"{'':{width}}  {'messages':>8}  {'seconds':>7}  {'msgs/s':>7}  {'of target':>9}  {'target':>8}"
    )
    print("-" * (width + 58))
    for case, label in (
        ("new", "new (admit, leave, back, discharge)"),
        ("resend", "resend (all replays)"),
    ):
        r = result[case]
        print(
            f"{label:{width}}  {r['messages']:8,}  {r['seconds']:7.1f}  {r['per_second']:7.0f}  "
            f"{r['ratio_to_target']:8.2f}x  {'>= 500/s':>8}  {'ok' if r['met'] else 'MISSED'}"
        )
    queued = result.get("queued_evaluation")
    if queued:
        print(
            f"gap evaluation the messages queued (the scheduler's evaluate_queued job): "
            f"{queued['pathways']:,} pathways in {queued['seconds']:.1f} s, "
            f"{queued['created']:,} reminders created, {queued['resolved']:,} resolved"
        )
    print("\nms per message by activity (new; resend):")
    for activity, ms in result["new"]["ms_by_activity"].items():
        again = result["resend"]["ms_by_activity"].get(activity, 0.0)
        statements = result["statements"].get(activity, "-")
        print(f"  {activity:26} {ms:6.2f}; {again:5.2f}   ({statements} SQL statements)")
    outcomes = ", ".join(f"{n:,} {o}" for o, n in {**result["new"]["outcomes"]}.items())
    replays = ", ".join(f"{n:,} {o}" for o, n in result["resend"]["outcomes"].items())
    print(f"outcomes: new {outcomes}; resend {replays}")
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
