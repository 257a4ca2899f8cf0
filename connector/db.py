"""Engine, sessions and the unit of work: one transaction per command.

Callers write `with db.transaction() as session:`; the block commits on success and rolls back on
any exception, so no error leaves a half-written change behind and no handler commits by hand.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from connector.clock import Clock
from connector.models.base import Timestamps


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys (so removing a shop cascades), WAL so readers don't block the writer."""
    # Let SQLAlchemy, not the driver, issue BEGIN: see _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """Take the write lock when the transaction starts, not at its first write.

    Two commands that read a variant and then write it would otherwise both read, then one
    fails with "database is locked" on upgrading its lock. Starting IMMEDIATE makes SQLite
    serialise whole commands, which is what the engine's read-plan-write cycle needs.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class TurnLock:
    """SQLite's write lock, taken in turn inside one process, request threads first.

    SQLite has one writer, and a transaction waiting for it sleeps and polls (busy_timeout)
    rather than queueing: under load a webhook acknowledgement can lose the race to job threads
    again and again. Taking turns here, in arrival order with threads that answer requests ahead
    of background ones, bounds that wait; across processes busy_timeout still applies.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._waiting: dict[bool, deque[object]] = {True: deque(), False: deque()}

    def _next(self) -> object | None:
        for urgent in (True, False):
            if self._waiting[urgent]:
                return self._waiting[urgent][0]
        return None

    @contextmanager
    def turn(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._condition:
            if self._owner == me:  # a transaction inside one: SQLite itself decides, as before
                self._depth += 1
            else:
                ticket = object()
                queue = self._waiting[not background.active]
                queue.append(ticket)
                while self._owner is not None or self._next() is not ticket:
                    self._condition.wait()
                queue.popleft()
                self._owner, self._depth = me, 1
        try:
            yield
        finally:
            with self._condition:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._condition.notify_all()


class _Background(threading.local):
    """Set by job threads: their database turns come after those of request threads."""

    active = False


background = _Background()


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)


@event.listens_for(Session, "before_flush")
def _stamp_rows(session: Session, _context: Any, _instances: Any) -> None:
    """Set created_at/updated_at from the session's clock: the one clock, even for bookkeeping."""
    clock: Clock | None = session.info.get("clock")
    if clock is None:
        return
    now = clock.now()
    for row in session.new:
        if isinstance(row, Timestamps):
            if getattr(row, "created_at", None) is None:
                row.created_at = now
            row.updated_at = now
    for row in session.dirty:
        if isinstance(row, Timestamps) and session.is_modified(row, include_collections=False):
            row.updated_at = now


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the transaction of `session` has committed (never if it rolls back).

    For wake-ups that must not outrun the rows they point at: a job queued inside a transaction
    could run before the commit and find nothing.
    """
    session.info.setdefault("after_commit", []).append(action)


class Database:
    def __init__(
        self, url: str, clock: Clock, engine: Engine | None = None, **engine_kwargs: Any
    ) -> None:
        self.url = url
        self.clock = clock
        self.engine = engine or make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info={"clock": clock})
        self._turns = TurnLock() if self.engine.dialect.name == "sqlite" else None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._turns.turn() if self._turns is not None else nullcontext():
            session = self._sessions()
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                actions = session.info.pop("after_commit", [])
                session.close()
        for action in actions:  # reached only after a commit
            action()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
