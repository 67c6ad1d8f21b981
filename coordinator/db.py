"""Database plumbing: declarative base with a naming convention, UTC timestamps, engine and sessions.

Sessions are plain SQLAlchemy 2 sessions. A request gets one lazily (``get_session()``) and closes it on
teardown; a use case flushes, and the view, CLI command or job that called it commits once.

A ``Database`` is given its commit hooks (``CommitHook``) where it is set up (``create_app``, the test
fixtures) and installs them on its own session factory, never on SQLAlchemy's ``Session`` class: importing
a module changes no session. The hooks read the clock and the settings from ``session.info``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from pathways.clock import Clock, SystemClock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on every backend (SQLite stores no offset, PostgreSQL does)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store naive datetime {value.isoformat()}; use UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # PostgreSQL sessions run in UTC (make_engine)
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        date: sa.Date(),
        dict[str, Any]: JSONDocument,
        list[Any]: JSONDocument,
        # StrEnums are stored by value as short strings, not as native enums: adding a member then
        # needs no ALTER TYPE, and Alembic autogenerate stays quiet.
        enum.Enum: sa.Enum(
            enum.Enum,
            native_enum=False,
            create_constraint=False,
            length=40,
            values_callable=lambda members: [m.value for m in members],
        ),
    }


IntPK = Annotated[int, mapped_column(primary_key=True)]


class TimestampMixin:
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN itself
    # (the documented recipe "Serializable isolation / Savepoints / Transactional DDL").
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL: readers never block the writer (the web app and the scheduler process share the file).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    # IMMEDIATE takes the write lock up front. A deferred transaction that reads and then writes fails
    # at once with "database is locked" when another process (web app and scheduler share the file)
    # got there first; an immediate one waits for the busy timeout instead.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


CLOCK_INFO = "clock"
CONFIG_INFO = "config"


@dataclass(frozen=True, slots=True)
class CommitHook:
    """Work a session does for what its transaction changed, whatever the door: ``note`` after each
    flush (into ``session.info[keys]``), ``act`` just before the commit; the noted keys are forgotten on
    rollback."""

    name: str
    note: Callable[[Session, Any], None]
    act: Callable[[Session], None]
    keys: tuple[str, ...]


def _install(target: sessionmaker[Session], hook: CommitHook) -> None:
    def forget(session: Session, *_args: Any) -> None:
        for key in hook.keys:
            session.info.pop(key, None)

    event.listen(target, "after_flush", hook.note)
    event.listen(target, "before_commit", hook.act)
    event.listen(target, "after_rollback", forget)


def session_clock(session: Session) -> Clock:
    """The clock the session's database was set up with (the app's), else the wall clock."""
    clock: Clock = session.info.get(CLOCK_INFO) or SystemClock()
    return clock


def session_config(session: Session) -> Mapping[str, Any]:
    """The settings the session's database was set up with (the app's config), else none."""
    config: Mapping[str, Any] = session.info.get(CONFIG_INFO) or {}
    return config


def _in_utc(url: sa.URL) -> sa.URL:
    """PostgreSQL sessions in UTC whatever the server's default (added to any libpq ``options`` the URL
    has, such as a search_path): timestamps come back in UTC already, with no conversion per value when a
    scan reads hundreds of thousands, and SQL date arithmetic means the same on every server."""
    given = url.query.get("options", "")
    options = " ".join(given) if isinstance(given, tuple) else given
    return url.update_query_dict({"options": f"{options} -c timezone=UTC".strip()})


# A pooled PostgreSQL connection unused for longer than this is pinged before it is handed out (ADR 0014).
PING_AFTER_IDLE_SECONDS = 5.0
_CHECKED_IN = "checked_in"


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


def _ping_if_idle(engine: Engine) -> Callable[[Any, Any, Any], None]:
    """A pool checkout listener: a connection that sat in the pool for a while (the server may have
    restarted or dropped it meanwhile) is pinged first, and a dead one is replaced (the pool retries on
    DisconnectionError). A connection in steady use is not: a busy server pays no extra round trip per
    request, as ``pool_pre_ping`` would make it. If the server goes away under connections in use, the
    first request to notice answers 503 (coordinator.edge) and the pool drops every older connection."""

    def ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_CHECKED_IN)
        if last is None or time.monotonic() - last < PING_AFTER_IDLE_SECONDS:
            return  # new (just connected) or in steady use
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise sa.exc.DisconnectionError(str(error)) from error
            raise

    return ping


def make_engine(url: str, *, echo: bool = False) -> Engine:
    kwargs: dict[str, Any] = {"echo": echo}
    target: str | sa.URL = url
    if url.startswith("postgresql"):
        target = _in_utc(sa.make_url(url))
    engine = sa.create_engine(target, **kwargs)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "checkin", _note_checkin)
        event.listen(engine, "checkout", _ping_if_idle(engine))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


class Database:
    """Owns the engine and the session factory of one app (or of one scheduler process)."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        info: dict[str, Any] | None = None,
        hooks: Sequence[CommitHook] = (),
    ) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        # ``info`` carries what the services and hooks read from their session: the access grace period,
        # the clock (CLOCK_INFO) and the settings (CONFIG_INFO).
        self.sessionmaker: sessionmaker[Session] = sessionmaker(
            self.engine, expire_on_commit=False, info=info or {}
        )
        # The hooks listen on this factory's sessions only, in the order given (a later hook sees what
        # the earlier ones changed just before the commit).
        self.hooks = tuple(hooks)
        for hook in self.hooks:
            _install(self.sessionmaker, hook)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work outside a request (CLI, jobs): commit at the end, roll back on error."""
        with self.sessionmaker() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


EXTENSION_KEY = "carepath.db"


def init_app(app: Flask, *, clock: Clock, hooks: Sequence[CommitHook] = ()) -> Database:
    """The app's database; its sessions carry ``clock`` and the app's config, and run ``hooks``."""
    database = Database(
        app.config["DATABASE_URL"],
        echo=app.config.get("SQLALCHEMY_ECHO", False),
        info={
            "access_grace": timedelta(days=int(app.config.get("ACCESS_GRACE_DAYS", 30))),
            CLOCK_INFO: clock,
            CONFIG_INFO: app.config,
        },
        hooks=hooks,
    )
    app.extensions[EXTENSION_KEY] = database

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()

    return database


def get_database(app: Flask | None = None) -> Database:
    database: Database = (app or current_app).extensions[EXTENSION_KEY]
    return database


def get_session() -> Session:
    """The session of the current app context (one per request)."""
    if "db_session" not in g:
        g.db_session = get_database().sessionmaker()
    session: Session = g.db_session
    return session


# ---------------------------------------------------------------------------- rows as JSON
class json_rows(sa.sql.functions.FunctionElement[Any]):  # noqa: N801 - used like sa.func.*
    """``json_rows("key", column, ...)``: the rows of a (correlated) subquery as one JSON array of
    objects, ``[]`` for none: PostgreSQL ``json_agg(json_build_object(...))``, SQLite
    ``json_group_array(json_object(...))``. A read gets a row's children in the row's own statement,
    without a round trip or an ORM object each (ADR 0014). Timestamps come back as ISO text
    (``from_json_time``); the keys are the caller's constants, never input."""

    type = sa.JSON()
    inherit_cache = True
    name = "json_rows"

    def __init__(self, *pairs: Any) -> None:
        clauses = [
            sa.literal_column(f"'{item}'") if i % 2 == 0 else item for i, item in enumerate(pairs)
        ]
        super().__init__(*clauses)


@compiles(json_rows, "postgresql")
def _json_rows_postgresql(element: json_rows, compiler: Any, **kw: Any) -> str:
    pairs = compiler.process(element.clause_expr.element, **kw)
    return f"coalesce(json_agg(json_build_object({pairs})), '[]'::json)"


@compiles(json_rows)
def _json_rows_sqlite(element: json_rows, compiler: Any, **kw: Any) -> str:
    pairs = compiler.process(element.clause_expr.element, **kw)
    return f"json_group_array(json_object({pairs}))"


def from_json_time(value: str | None) -> datetime | None:
    """A timestamp column as ``json_rows`` gives it (PostgreSQL: with its offset; SQLite: UTC without
    one), as the aware UTC datetime the column's own type would give."""
    if value is None:
        return None
    found = datetime.fromisoformat(value)
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def from_json_day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value[:10])
