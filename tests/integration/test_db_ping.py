"""Pooled PostgreSQL connections are pinged only after sitting idle (coordinator.db, ADR 0014): a
connection in steady use costs no extra round trip, and one the server dropped is replaced unseen."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from coordinator import db


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("pool pings are for PostgreSQL: they run in make test's PostgreSQL pass")
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


def _pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_in_steady_use_is_not_pinged(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or real(c))
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 60.0)
    first = _pid(engine)
    assert [_pid(engine) for _ in range(3)] == [first] * 3
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # now every checkout finds it idle
    _pid(engine)
    assert len(pings) == 1


def test_an_idle_connection_the_server_dropped_is_replaced(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped = _pid(engine)
    admin = db.make_engine(engine.url.render_as_string(hide_password=False))
    with admin.connect() as other:
        other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    admin.dispose()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert _pid(engine) != dropped  # the ping found it dead; the pool connected anew
