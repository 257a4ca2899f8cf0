"""Writes to the stores: one row per change of mind, coalesced, retried, recorded with outcome.

A store write names what it is about — a kind ("order_state", "variant_state", ...) and a target
(our row id as text) — never the value to write. When its job runs, the kind's writer reads what
the store should say *now* from the database and compares it with what the last successful write
said, so ten changes queued before the job runs make one write, and a job run twice, or a replay,
finds nothing new and sends nothing. Rows keep the value written, the attempts and the last error:
the dashboard shows every write with its outcome.

States: `pending` (waiting for its job), `sending` (claimed; `next_attempt_at` is the claim's
expiry, after which a crashed send is taken up again), `sent`, `suppressed` (nothing to change, or
the platform has no such operation), `failed` (after MAX_ATTEMPTS, or refused credentials),
`cancelled` (the shop uninstalled: `connector/services/shops.py`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from adapters.base import NeedsReauthorization, NotSupported, StoreAdapter
from connector.db import after_commit
from connector.models import Shop, StoreWrite
from connector.services.reads import PageRequest, list_outbox

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

JOB = "store_write"
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)  # then 4 times longer: 30 s, 2 min, 8 min, 32 min, ~2 h
# The adapter's own retries in one try: one more for a blip; this module's backoff does the rest.
ATTEMPTS_PER_TRY = 2
CLAIM = timedelta(minutes=5)  # a send taking longer than this is presumed dead and taken again
STRAGGLER_AGE = timedelta(seconds=30)
SWEEP_BATCH = 1000
_KEYS_AT_ONCE = 500  # coalesce keys per IN (...): well under every bound-parameter limit

# What `request_many` is asked for: (shop id, kind, target, order id or None).
Wanted = tuple[int, str, str, int | None]


class Writer(Protocol):
    """One kind of write. `desired` runs in a transaction and reads only the database;
    `send` runs outside any transaction and talks to the store through the adapter."""

    def desired(self, session: Session, shop: Shop, target: str) -> dict[str, Any] | None:
        """What the store should say about `target` now; None: nothing to say (target gone)."""
        ...

    def send(
        self,
        adapter: StoreAdapter,
        target: str,
        value: dict[str, Any],
        previous: dict[str, Any] | None,
    ) -> None:
        """Make the store say `value`; `previous` is what the last successful write said."""
        ...


@runtime_checkable
class AfterSent(Protocol):
    """Optional on a Writer: runs in the transaction that records a successful send, so the
    local copy of what the store now says is updated together with the write's outcome."""

    def after_sent(
        self, session: Session, shop_id: int, target: str, value: dict[str, Any]
    ) -> None: ...


@runtime_checkable
class BatchWriter(Protocol):
    """Optional on a Writer: many targets of one shop in one call, where the store makes that
    cheaper (Shopify's bulk mutations: a thousand orders for a few requests' points). The job
    that runs first takes up to `batch_size` of its shop's due writes of the kind with it; the
    others' jobs then find them claimed and do nothing."""

    def batch_size(self, adapter: StoreAdapter) -> int: ...

    def send_many(
        self,
        adapter: StoreAdapter,
        items: Sequence[tuple[str, dict[str, Any], dict[str, Any] | None]],
    ) -> dict[str, Exception | None]:
        """(target, value, previous) for each; each target's failure, or None when sent."""
        ...


_writers: dict[str, Writer] = {}


def register_writer(kind: str, writer: Writer) -> None:
    _writers[kind] = writer


def coalesce_key(kind: str, target: str) -> str:
    return f"{kind}:{target}"


def job_key(write_id: int) -> str:
    return f"{JOB}:{write_id}"


def backoff(attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`, with ±20 % jitter so retries do not march together."""
    return FIRST_RETRY * (4 ** (attempts - 1)) * random.uniform(0.8, 1.2)


def request(
    runtime: Runtime,
    session: Session,
    shop_id: int,
    kind: str,
    target: str,
    *,
    order_id: int | None = None,
) -> int:
    """Ask for the store to be brought up to date about `target`; returns the write's id.

    A write of the same kind and target still waiting takes this request too (coalescing); one
    already being sent does not, since it may have read the state before this change.
    """
    asked = request_many(runtime, session, [(shop_id, kind, target, order_id)])
    return asked[(shop_id, coalesce_key(kind, target))]


def request_many(
    runtime: Runtime, session: Session, wanted: Iterable[Wanted]
) -> dict[tuple[int, str], int]:
    """`request` for many (shop id, kind, target, order id) at once; write ids by (shop id,
    coalesce key).

    A dispatch of a 10,000-line restock asks for thousands of writes, most of them the same
    few: asked one at a time that was a SELECT and an INSERT each, in the transaction that holds
    SQLite's write lock. Here it is one SELECT of the waiting writes per chunk of keys and one
    multi-row INSERT of the missing ones, whatever the number of requests.
    """
    # Asked earlier in this transaction: the write is still ours and still waiting.
    asked: dict[tuple[int, str], int] = session.info.setdefault("store_writes_asked", {})
    found: dict[tuple[int, str], int] = {}
    fresh: dict[tuple[int, str], Wanted] = {}
    for shop_id, kind, target, order_id in wanted:
        key = (shop_id, coalesce_key(kind, target))
        if key in asked:
            found[key] = asked[key]
        elif key not in fresh:
            fresh[key] = (shop_id, kind, target, order_id)
    if not fresh:
        return found
    waiting = _waiting(session, list(fresh))
    missing = [fresh[key] for key in fresh if key not in waiting]
    created = _insert(session, runtime.clock.now(), missing) if missing else {}
    asked.update(waiting)
    asked.update(created)
    if created:
        ids = sorted(created.values())

        def wake() -> None:
            for write_id in ids:
                runtime.jobs.enqueue(JOB, write_id, key=job_key(write_id))

        after_commit(session, wake)
    return found | waiting | created


def _waiting(session: Session, keys: list[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """The oldest pending write of each key that has one."""
    by_shop: dict[int, list[str]] = {}
    for shop_id, key in keys:
        by_shop.setdefault(shop_id, []).append(key)
    waiting: dict[tuple[int, str], int] = {}
    for shop_id, shop_keys in by_shop.items():
        for start in range(0, len(shop_keys), _KEYS_AT_ONCE):
            chunk = shop_keys[start : start + _KEYS_AT_ONCE]
            rows = session.execute(
                select(StoreWrite.coalesce_key, func.min(StoreWrite.id))
                .where(
                    StoreWrite.shop_id == shop_id,
                    StoreWrite.coalesce_key.in_(chunk),
                    StoreWrite.status == "pending",
                )
                .group_by(StoreWrite.coalesce_key)
            )
            waiting.update(((shop_id, key), write_id) for key, write_id in rows)
    return waiting


def _insert(session: Session, now: datetime, missing: list[Wanted]) -> dict[tuple[int, str], int]:
    rows = [
        {
            "shop_id": shop_id,
            "order_id": order_id,
            "kind": kind,
            "target": target,
            "coalesce_key": coalesce_key(kind, target),
            "status": "pending",
            "payload": {},
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for shop_id, kind, target, order_id in missing
    ]
    returned = session.execute(
        insert(StoreWrite.__table__).returning(
            StoreWrite.__table__.c.id,
            StoreWrite.__table__.c.shop_id,
            StoreWrite.__table__.c.coalesce_key,
        ),
        rows,
    )
    return {(shop_id, key): write_id for write_id, shop_id, key in returned}


@dataclass(frozen=True)
class _Claim:
    write_id: int
    kind: str
    target: str
    value: dict[str, Any]
    previous: dict[str, Any] | None
    adapter: StoreAdapter


def run(runtime: Runtime, write_id: int) -> str | None:
    """The job: claim the write, work out the value, send it, record the outcome.

    Returns the state the write ended in, or None when there was nothing to do (not due, or
    another worker has it).
    """
    from connector.stores import adapter_for

    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        row = session.get(StoreWrite, write_id)
        if row is None or not _claimable(session, row, now):
            return None
        claimed = session.execute(
            update(StoreWrite)
            .where(StoreWrite.id == write_id, _is_due(now))
            .values(status="sending", next_attempt_at=now + CLAIM, attempts=row.attempts + 1)
        ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            return None  # another worker took it between the read and the claim
        shop = session.get_one(Shop, row.shop_id)
        writer = _writers.get(row.kind)
        if shop.status != "active" or writer is None:
            reason = "shop uninstalled" if shop.status != "active" else "no writer for this kind"
            return _finish(session, row, "cancelled", now, error=reason)
        value = writer.desired(session, shop, row.target)
        previous = _last_sent(session, row)
        if value is None or value == previous:
            return _finish(session, row, "suppressed", now)
        row.payload = value
        adapter = adapter_for(runtime, shop, max_attempts=ATTEMPTS_PER_TRY)
        claim = _Claim(write_id, row.kind, row.target, value, previous, adapter)
        size = writer.batch_size(adapter) if isinstance(writer, BatchWriter) else 1
        more = _claim_more(session, row, shop, writer, adapter, now, size - 1) if size > 1 else []
    if more:
        return _send_batch(runtime, writer, [claim, *more])[write_id]
    return _send(runtime, writer, claim)


def _claim_more(
    session: Session,
    row: StoreWrite,
    shop: Shop,
    writer: Writer,
    adapter: StoreAdapter,
    now: datetime,
    limit: int,
) -> list[_Claim]:
    """Claim up to `limit` more due writes of the row's shop and kind, oldest first, with their
    values worked out; those with nothing to change are suppressed on the way."""
    if limit <= 0:
        return []
    others = session.scalars(
        select(StoreWrite)
        .where(
            StoreWrite.shop_id == row.shop_id,
            StoreWrite.kind == row.kind,
            StoreWrite.id != row.id,
            StoreWrite.status == "pending",
            or_(StoreWrite.next_attempt_at.is_(None), StoreWrite.next_attempt_at <= now),
        )
        .order_by(StoreWrite.id)
        .limit(limit)
    ).all()
    claims: list[_Claim] = []
    for other in others:
        if not _claimable(session, other, now):
            continue
        claim = {
            "status": "sending",
            "next_attempt_at": now + CLAIM,
            "attempts": other.attempts + 1,
        }
        claimed = session.execute(
            update(StoreWrite)
            .where(StoreWrite.id == other.id, _is_due(now))
            .values(**claim)
            # The loaded row is told below: matching the whole batch in the session's memory
            # for each claim made a large batch's claims quadratic.
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            continue  # another worker has it
        for name, value in claim.items():
            set_committed_value(other, name, value)
        value = writer.desired(session, shop, other.target)
        previous = _last_sent(session, other)
        if value is None or value == previous:
            _finish(session, other, "suppressed", now)
            continue
        other.payload = value
        claims.append(_Claim(other.id, other.kind, other.target, value, previous, adapter))
    return claims


def _claimable(session: Session, row: StoreWrite, now: datetime) -> bool:
    if row.status not in ("pending", "sending"):
        return False
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return False
    # One write per target at a time, in order: a newer one waits for a live older send.
    busy = session.scalar(
        select(StoreWrite.next_attempt_at)
        .where(
            StoreWrite.shop_id == row.shop_id,
            StoreWrite.coalesce_key == row.coalesce_key,
            StoreWrite.status == "sending",
            StoreWrite.id != row.id,
            StoreWrite.next_attempt_at > now,
        )
        .limit(1)
    )
    if busy is not None:
        row.next_attempt_at = busy  # the sweep brings it back when the other is done
        return False
    return True


def _is_due(now: datetime) -> Any:
    return and_(
        StoreWrite.status.in_(("pending", "sending")),
        or_(StoreWrite.next_attempt_at.is_(None), StoreWrite.next_attempt_at <= now),
    )


def _last_sent(session: Session, row: StoreWrite) -> dict[str, Any] | None:
    return session.scalar(
        select(StoreWrite.payload)
        .where(
            StoreWrite.shop_id == row.shop_id,
            StoreWrite.coalesce_key == row.coalesce_key,
            StoreWrite.status == "sent",
        )
        .order_by(StoreWrite.done_at.desc(), StoreWrite.id.desc())
        .limit(1)
    )


def _send(runtime: Runtime, writer: Writer, claim: _Claim) -> str | None:
    try:
        writer.send(claim.adapter, claim.target, claim.value, claim.previous)
    except Exception as exc:  # recorded on the row and retried; the job itself never raises
        failure: Exception | None = exc
    else:
        failure = None
    with runtime.db.transaction() as session:
        return _record(session, runtime.clock.now(), writer, claim, failure)


def _send_batch(runtime: Runtime, writer: Writer, claims: list[_Claim]) -> dict[int, str | None]:
    """Send the claimed writes in one call and record every outcome in one transaction."""
    assert isinstance(writer, BatchWriter)
    items = [(c.target, c.value, c.previous) for c in claims]
    try:
        failures = writer.send_many(claims[0].adapter, items)
    except Exception as exc:  # the call as a whole failed (credentials refused, store down)
        failures = {c.target: exc for c in claims}
    log.info("store writes: %d %s writes sent in one batch", len(claims), claims[0].kind)
    with runtime.db.transaction() as session:
        now = runtime.clock.now()
        return {
            c.write_id: _record(session, now, writer, c, failures.get(c.target)) for c in claims
        }


def _record(
    session: Session, now: datetime, writer: Writer, claim: _Claim, failure: Exception | None
) -> str | None:
    """The outcome of one claimed write: sent, suppressed (no such operation), failed
    (credentials refused, or out of attempts) or pending again with its backoff."""
    if isinstance(failure, NotSupported):
        outcome, error = "suppressed", f"not supported: {failure}"
    elif isinstance(failure, NeedsReauthorization):
        outcome, error = "failed", f"the store refused our credentials: {failure}"
    elif failure is not None:
        outcome, error = "retry", f"{type(failure).__name__}: {failure}"
    else:
        outcome, error = "sent", None
    if error is not None:
        log.warning("store write %s (%s) %s: %s", claim.write_id, claim.kind, outcome, error)
    row = session.get(StoreWrite, claim.write_id, with_for_update=True)
    if row is None or row.status != "sending":
        return None  # the shop was removed, or its writes cancelled, meanwhile
    if outcome == "retry":
        if row.attempts >= MAX_ATTEMPTS:
            return _finish(session, row, "failed", now, error=error)
        row.status, row.last_error = "pending", error
        row.next_attempt_at = now + backoff(row.attempts)
        return "pending"
    if outcome == "failed":
        session.get_one(Shop, row.shop_id).needs_reauthorization = True
    if outcome == "sent" and isinstance(writer, AfterSent):
        writer.after_sent(session, row.shop_id, row.target, claim.value)
    return _finish(session, row, outcome, now, error=error)


def _finish(
    session: Session, row: StoreWrite, status: str, now: datetime, *, error: str | None = None
) -> str:
    row.status, row.next_attempt_at, row.done_at = status, None, now
    row.last_error = error[:2000] if error else None
    return status


def sweep(runtime: Runtime, everything: bool = False) -> int:
    """Queue writes that are due and not on their first trip: retries, crashed sends, restarts."""
    return sweep_due(runtime, StoreWrite, JOB, everything=everything)


def sweep_due(
    runtime: Runtime,
    model: Any,
    job: str,
    *,
    everything: bool,
    only: Any = None,
    claimed: tuple[str, ...] = ("pending", "sending"),
) -> int:
    """The sweep of a retrying outbox (this one, the e-mails, the status page's changes): rows
    never tried that missed their first job (all of them at start-up: `everything`), and rows
    whose retry is due or whose claim (a status in `claimed`) lapsed. `only` narrows the first."""
    now = runtime.clock.now()
    untried: Any = and_(model.status == "pending", model.next_attempt_at.is_(None))
    if only is not None:
        untried = and_(untried, only)
    if not everything:
        untried = and_(untried, model.created_at <= now - STRAGGLER_AGE)
    due = and_(model.status.in_(claimed), model.next_attempt_at <= now)
    with runtime.db.transaction() as session:
        ids = list(
            session.scalars(
                select(model.id).where(or_(untried, due)).order_by(model.id).limit(SWEEP_BATCH)
            )
        )
    for row_id in ids:
        runtime.jobs.enqueue(job, row_id, key=f"{job}:{row_id}")
    return len(ids)


def register() -> None:
    from connector import jobs

    jobs.register(JOB, run, sweep)


def list_writes(
    session: Session,
    shop_id: int | None,
    page: PageRequest,
    *,
    order: str | None = None,
    status: str | None = None,
) -> Sequence[StoreWrite]:
    """Writes with their outcome, oldest first (one extra row: another page follows);
    `order` as a support agent names it ("#1001", the platform id)."""
    return list_outbox(session, StoreWrite, shop_id, page, order=order, status=status)
