"""Group commit for the webhook inbox: one writer thread per process stores deliveries in batches.

An acknowledgement must mean "stored", so each delivery is committed before its 200. Committing
them one transaction each costs more CPU than everything else the intake does (session, BEGIN,
shop lookup, INSERT, COMMIT: about 0.4 ms of a ~0.8 ms ack), and on SQLite each one queues for
the database's single write lock. So the request threads hand their verified deliveries to this
writer and wait; the writer takes everything that is waiting (up to `MAX_BATCH`), looks up the
batch's shops in one SELECT, stores it with one multi-row `INSERT … ON CONFLICT DO NOTHING
RETURNING` and one commit, and only then wakes each request with its own outcome. Batches form by
themselves: while one commits, the next deliveries queue up; a lone delivery is written at once,
no timer ever holds it back.

Per delivery, inside a batch, exactly as one transaction each would decide:
- its shop is unknown → `UNKNOWN_SHOP` (the request answers 401), nothing stored for it;
- its (shop, dedupe key) is already in the inbox, or earlier in the same batch → `DUPLICATE`;
- otherwise it is stored: its new inbox id.
If the batch's transaction fails, nobody in it is told "stored": each request gets `StoreFailed`
(a 5xx, so the platform sends it again). A failure that is not the database being unreachable or
locked may be one delivery's own doing (a value the database refuses), so such a batch is written
again one delivery per transaction: only the bad delivery fails, the others are stored.

On SQLite the writer takes the database's in-process turn (connector.db.TurnLock) as a request
thread does, ahead of the job threads: one turn per batch instead of one per delivery, in one
`db.transaction()`. On PostgreSQL the batch's one INSERT statement runs in autocommit on a
connection the writer keeps: a single statement is a transaction of its own (all its rows or
none), so a batch costs one round trip instead of five (pre-ping, BEGIN, shop SELECT, INSERT,
COMMIT). Round trips matter more than their CPU here: the writer gives up the GIL for each, and
with job threads busy in the same process getting it back can take a switch interval (5 ms).
For the same reason the shops' ids are remembered (only found ones, and forgotten whenever a
batch fails: a removed shop then fails its INSERT, and the batch is written again after a fresh
look-up). A connection the server dropped fails the batch once and it is written again on a new
one: rows the lost answer may have stored come back as duplicates, which is what they are. The
writer thread ends after `IDLE_SECONDS` without work and starts again with the next delivery.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from _thread import allocate_lock
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import bindparam, exc, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from connector.db import Database, background
from connector.models import Shop, WebhookEvent
from webhooks.metrics import INBOX_BATCH

log = logging.getLogger(__name__)

MAX_BATCH = 64  # deliveries in one INSERT...
MAX_BATCH_BYTES = 8 * 1024 * 1024  # ...and bodies in it (one may be up to 2 MiB), but at least one
KNOWN_SHOPS = 10_000  # shop ids remembered by (platform, domain)
IDLE_SECONDS = 10.0  # the writer thread ends after this long without work
WAIT_SECONDS = 30.0  # a request gives up (5xx) if its batch has not committed by then

DUPLICATE = 0  # results other than an inbox id (ids start at 1)
UNKNOWN_SHOP = -1

# The database cannot be reached or is busy: every delivery of the batch fails alike, and writing
# them one by one would only wait for the same thing again, once per delivery.
_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)


class StoreFailed(Exception):
    """The delivery's batch did not commit: nothing was stored for it; it may be sent again."""


class Entry:
    """One delivery waiting for its batch: the row to store, then its outcome.

    `row` holds the inbox columns except `shop_id`; `shop_id` is None when the shop is found by
    (`platform`, `shop_domain`) in the writer's transaction (a Shopify delivery names its shop by
    domain).
    """

    __slots__ = ("_done", "error", "platform", "result", "row", "shop_domain", "shop_id")

    def __init__(
        self, platform: str, shop_id: int | None, shop_domain: str, row: dict[str, Any]
    ) -> None:
        self.platform = platform
        self.shop_id = shop_id
        self.shop_domain = shop_domain
        self.row = row
        self.result: int | None = None  # inbox id, DUPLICATE or UNKNOWN_SHOP
        self.error: BaseException | None = None
        self._done = allocate_lock()  # held until the batch is decided: the cheapest wake-up
        self._done.acquire()

    def _finish(self, result: int | None = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self._done.release()

    def wait(self, timeout: float) -> int:
        if not self._done.acquire(timeout=timeout):
            # Not decided yet: the row may still be stored. A 5xx for a stored delivery is safe
            # (its resend is recognised as a duplicate); a 200 for one not stored never is.
            raise StoreFailed(f"the inbox did not answer within {timeout:.0f} s")
        if self.error is not None:
            raise StoreFailed(f"the inbox could not store the delivery: {self.error}")
        assert self.result is not None
        return self.result


class InboxWriter:
    """The process's inbox writer: `store(entry)` returns once the entry's batch is decided."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = MAX_BATCH,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self.max_batch_bytes = max_batch_bytes
        self.idle_seconds = idle_seconds
        self._queue: queue.SimpleQueue[Entry] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()  # a forked child (gunicorn --preload) starts its own writer
        # The writer thread's own: its PostgreSQL connection and the shops it has found.
        self._connection: Connection | None = None
        self._known: dict[tuple[str, str], int] = {}
        self.batches = 0  # batches committed: for tests and curiosity
        self.largest = 0

    # ---- request threads ------------------------------------------------------------------

    def store(self, entry: Entry, timeout: float = WAIT_SECONDS) -> int:
        """Queue `entry` and wait for its batch: its inbox id, DUPLICATE or UNKNOWN_SHOP.

        Raises StoreFailed if the batch did not commit (or not within `timeout`)."""
        self.submit(entry)
        return entry.wait(timeout)

    def submit(self, entry: Entry) -> None:
        with self._lock:  # with _run's way out: no entry is ever left without a writer
            if self._pid != os.getpid():  # the parent's thread and connection are not ours
                self._queue, self._thread, self._pid = queue.SimpleQueue(), None, os.getpid()
                self._connection = None
            self._queue.put(entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
                self._thread.start()

    # ---- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        background.active = False  # a request's turn at SQLite's write lock, not a job's
        carry: Entry | None = None  # taken from the queue, but over the last batch's budget
        try:
            while True:
                if carry is not None:
                    first, carry = carry, None
                else:
                    try:
                        first = self._queue.get(timeout=self.idle_seconds)
                    except queue.Empty:
                        with self._lock:
                            if self._queue.empty():  # a submit now starts a new writer
                                self._thread = None
                                break
                        continue
                batch, size = [first], len(first.row["body"])
                while len(batch) < self.max_batch:
                    try:
                        entry = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    size += len(entry.row["body"])
                    if size > self.max_batch_bytes:
                        carry = entry
                        break
                    batch.append(entry)
                self._write(batch)
        except BaseException:
            with self._lock:  # never expected; the next submit starts a writer again
                if self._thread is threading.current_thread():
                    self._thread = None
            raise
        finally:
            self._close()

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: the pool discards it
                log.debug("inbox: closing the writer's connection failed", exc_info=True)

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """SQLite: the database's turn and one transaction. PostgreSQL: the writer's connection,
        in autocommit (the batch's INSERT is one statement)."""
        if self.db.engine.dialect.name == "sqlite":
            with self.db.transaction() as session:
                yield session.connection()
            return
        if self._connection is None or self._connection.invalidated:
            self._close()
            connection = self.db.engine.connect()
            self._connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection = self._connection
        try:
            yield connection
        except BaseException:
            try:
                connection.rollback()  # SQLAlchemy's bookkeeping only: nothing was left open
            except Exception:
                self._close()
            raise
        connection.commit()  # likewise: in autocommit nothing is sent

    def _write(self, batch: list[Entry], again: bool = True) -> None:
        try:
            with self._transaction() as connection:
                results = store_batch(connection, batch, self._known)
        except Exception as error:
            self._known.clear()  # a shop may have gone, or come back under a new id
            if again and getattr(error, "connection_invalidated", False):
                log.warning("inbox: the database connection was lost; writing the batch again")
                self._write(batch, again=False)
                return
            if len(batch) > 1 and not isinstance(error, _UNAVAILABLE):
                log.warning(
                    "inbox: a batch of %d failed (%s); storing its deliveries one by one",
                    len(batch),
                    type(error).__name__,
                )
                for entry in batch:
                    self._write([entry])
                return
            log.error("inbox: %d deliveries not stored", len(batch), exc_info=True)
            for entry in batch:
                entry._finish(error=error)
            return
        except BaseException as error:  # the thread is ending (interpreter exit): answer 5xx
            for entry in batch:
                entry._finish(error=error)
            raise
        self.batches += 1
        self.largest = max(self.largest, len(batch))
        INBOX_BATCH.observe(len(batch))
        for entry, result in zip(batch, results, strict=True):
            entry._finish(result)


# ---- one batch, in the writer's transaction ------------------------------------------------


def store_batch(
    connection: Connection, batch: list[Entry], known: dict[tuple[str, str], int] | None = None
) -> list[int]:
    """Store the batch's new deliveries; each entry's result, in the batch's order. `known`:
    shop ids already found, by (platform, domain); those found now are added to it."""
    shops = _shops(connection, batch, {} if known is None else known)
    results: list[int] = [UNKNOWN_SHOP] * len(batch)
    first: dict[tuple[int, str], int] = {}  # (shop, dedupe key) → the entry that stores it
    rows: list[dict[str, Any]] = []
    for index, entry in enumerate(batch):
        shop_id = entry.shop_id
        if shop_id is None:
            shop_id = shops.get((entry.platform, entry.shop_domain))
            if shop_id is None:
                continue  # UNKNOWN_SHOP, nothing stored
        key = (shop_id, entry.row["dedupe_key"])
        if key in first:
            results[index] = DUPLICATE  # the same delivery twice in one batch
            continue
        first[key] = index
        rows.append({**entry.row, "shop_id": shop_id})
    for index in first.values():
        results[index] = DUPLICATE  # unless the INSERT returns its row
    if rows:
        statement = _insert_statement(connection.dialect.name)
        for inbox_id, shop_id, dedupe_key in connection.execute(statement, rows):
            results[first[(shop_id, dedupe_key)]] = int(inbox_id)
    return results


def _shops(
    connection: Connection, batch: Iterable[Entry], known: dict[tuple[str, str], int]
) -> dict[tuple[str, str], int]:
    """`known`, plus the shops the batch names by a domain not in it: one SELECT per platform
    (usually none: shops are few and remembered)."""
    wanted: dict[str, set[str]] = {}
    for entry in batch:
        if entry.shop_id is None and (entry.platform, entry.shop_domain) not in known:
            wanted.setdefault(entry.platform, set()).add(entry.shop_domain)
    if len(known) > KNOWN_SHOPS:
        known.clear()
    for platform, domains in wanted.items():
        rows = connection.execute(_shops_statement(), {"platform": platform, "domains": domains})
        for shop_id, domain in rows:
            known[(platform, domain)] = int(shop_id)
    return known


@cache
def _shops_statement() -> Any:
    return select(Shop.id, Shop.domain).where(
        Shop.platform == bindparam("platform"),
        Shop.domain.in_(bindparam("domains", expanding=True)),
    )


@cache
def _insert_statement(dialect: str) -> Any:
    """Built once per dialect. Executed with a list of rows, SQLAlchemy sends it as one multi-row
    INSERT (its "insertmanyvalues"), RETURNING the rows that were new."""
    table = WebhookEvent.__table__
    columns = (table.c.id, table.c.shop_id, table.c.dedupe_key)
    if dialect == "postgresql":
        return pg_insert(table).on_conflict_do_nothing().returning(*columns)
    if dialect == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing().returning(*columns)
    return insert(table).returning(*columns)  # pragma: no cover - the two supported databases
