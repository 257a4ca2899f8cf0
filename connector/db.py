"""Engine, sessions and the unit of work: one transaction per command.

Callers write `with db.transaction() as session:`; the block commits on success and rolls back on
any exception, so no error leaves a half-written change behind and no handler commits by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


class Database:
    def __init__(
        self, url: str, clock: Clock, engine: Engine | None = None, **engine_kwargs: Any
    ) -> None:
        self.url = url
        self.clock = clock
        self.engine = engine or make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info={"clock": clock})

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
