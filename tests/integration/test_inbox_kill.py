"""kill -9 of an inbox worker in the middle of a batch (ADR 0013), on PostgreSQL: after a restart every
message is processed exactly once, no pathway event is lost or doubled, and each message gets one
Acknowledgement. The workers are real processes on a database of their own (committed data)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench import load as loader
from bench.ingest import Messages
from coordinator import commit_hooks, migrate
from coordinator.care_pathways.models import Pathway, PathwayEvent
from coordinator.db import Database
from coordinator.messaging.models import InboundMessage, InboxStatus
from coordinator.messaging.services import receive
from coordinator.organisations.services import create_organisation
from coordinator.outbox.models import OutboxChannel, OutboxMessage
from fhir_adapters.medcom import AckCode, parse_acknowledgement
from pathways.clock import SystemClock
from pathways.people import Actor
from pathways.stays import PathwayEventType, PathwayStatus
from tests.conftest import fresh_database_url

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
SYSTEM = Actor.system("medcom-gateway")
WARD_SOR = "990111000016009"
STAYS = 12  # 4 messages each: 48 messages, batches of 10
CONFIG = {
    "MESSAGING_SOR": "990000000000001",
    "MESSAGING_GLN": "5790000000012",
    "SECRET_KEY": "kill-test",
}
WORKER = """
import sys, time
from datetime import timedelta
from pathlib import Path
from coordinator import create_app
from coordinator.db import get_database
from coordinator.messaging import inbox
from coordinator.security import get_clock

url, marker, die_at = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
app = create_app({"DATABASE_URL": url, "SECRET_KEY": "kill-test", "TESTING": True,
                  "MESSAGING_SOR": "990000000000001", "MESSAGING_GLN": "5790000000012"})
real, calls = inbox.process_entry, [0]

def process_entry(*args, **kwargs):
    receipt = real(*args, **kwargs)
    calls[0] += 1
    if calls[0] == die_at:  # in the middle of a batch: its work is done but not committed
        marker.write_text("mid-batch")
        time.sleep(3600)
    return receipt

inbox.process_entry = process_entry
with app.app_context():
    summary = inbox.process_inbox(get_database(app), get_clock(), app.config,
                                  run_for=timedelta(seconds=60), policy=inbox.InboxPolicy(batch=10))
print(summary.as_log())
"""


def _worker(url: str, marker: Path, die_at: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url, str(marker), str(die_at)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def database(tmp_path: Path) -> Database:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        pytest.skip("kill -9 of a worker: PostgreSQL (on SQLite one worker runs, documented)")
    url = fresh_database_url(base, tmp_path, "inbox_kill")
    migrate.upgrade(url)
    db = Database(url, hooks=commit_hooks())
    yield db
    db.dispose()


def _count(session: sa.orm.Session, *where: sa.ColumnElement[bool]) -> int:
    return int(session.scalar(sa.select(sa.func.count(InboundMessage.id)).where(*where)) or 0)


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(
    database: Database, tmp_path: Path
) -> None:
    clock = SystemClock()
    with database.transaction() as session:
        region = create_organisation(
            session, SYSTEM, clock, name="Region", kind="region", region_code="DK-84"
        )
        centre = create_organisation(
            session,
            SYSTEM,
            clock,
            name="PC",
            kind="psychiatric_centre",
            parent_id=region.id,
            sor_code="990101000016007",
        )
        create_organisation(
            session, SYSTEM, clock, name="A", kind="ward", parent_id=centre.id, sor_code=WARD_SOR
        )
    maker = Messages(wards=[WARD_SOR], seed=7, now=datetime.now(UTC))
    cprs = loader.synthetic_cprs(STAYS)
    messages = [bundle for n in range(STAYS) for _name, bundle in maker.stay(n, cprs[n])]
    for bundle in messages:
        with database.transaction() as session:
            receive(session, SYSTEM, clock, bundle, CONFIG, asynchronous=True)
    url = str(database.engine.url.render_as_string(hide_password=False))

    marker = tmp_path / "mid-batch"
    doomed = _worker(url, marker, die_at=15)  # batch 1 (10) commits; dies 5 into batch 2
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert doomed.poll() is None, doomed.communicate()[0]
        assert time.monotonic() < deadline, "the worker never reached the middle of a batch"
        time.sleep(0.05)
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.communicate(timeout=30)  # reaped, its pipe closed
    assert doomed.returncode == -signal.SIGKILL
    with database.transaction() as session:
        assert _count(session, InboundMessage.status == InboxStatus.DONE) == 10
        assert _count(session, InboundMessage.status == InboxStatus.PENDING) == len(messages) - 10
        # the killed batch left nothing: its rows were never marked, their bodies are still there
        assert _count(session, InboundMessage.body.is_not(None)) == len(messages) - 10

    # Restart: two workers at once, until nothing is pending.
    for _round in range(5):
        workers = [_worker(url, tmp_path / f"never-{i}", die_at=0) for i in range(2)]
        for worker in workers:
            output = worker.communicate(timeout=120)[0]
            assert worker.returncode == 0, output
        with database.transaction() as session:
            if _count(session, InboundMessage.status != InboxStatus.DONE) == 0:
                break

    with database.transaction() as session:
        assert _count(session, InboundMessage.status == InboxStatus.DONE) == len(messages)
        assert _count(session, InboundMessage.body.is_not(None)) == 0
        acks = list(
            session.scalars(
                sa.select(OutboxMessage.payload).where(
                    OutboxMessage.channel == OutboxChannel.FHIR_MESSAGE
                )
            )
        )
        answered = [parse_acknowledgement(a) for a in acks]
        assert sorted(a.acknowledged_message_id for a in answered) == sorted(
            b["entry"][0]["resource"]["id"] for b in messages
        )  # one each, none twice
        assert {a.code for a in answered} == {AckCode.OK}
        pathways = list(session.scalars(sa.select(Pathway)))
        assert len(pathways) == STAYS
        assert {p.status for p in pathways} == {PathwayStatus.DISCHARGED}
        for pathway in pathways:
            events = list(
                session.scalars(
                    sa.select(PathwayEvent.type)
                    .where(PathwayEvent.pathway_id == pathway.id)
                    .order_by(PathwayEvent.occurred_at, PathwayEvent.id)
                )
            )
            assert events == [
                PathwayEventType.ADMITTED,
                PathwayEventType.LEAVE_STARTED,
                PathwayEventType.LEAVE_ENDED,
                PathwayEventType.DISCHARGED,
            ]
