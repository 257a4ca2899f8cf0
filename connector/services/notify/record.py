"""Outbox rows from the engine's events: what to tell whom, recorded once, set-based.

A restock can ready 10,000 lines in one dispatch, so a batch of events costs a few queries per
thousand lines: one load of the backorders with their lines and orders, one of what the
customers were already told, one SELECT of the keys that exist, one bulk INSERT. The unique
(shop_id, dedupe_key) constraint settles the race between two dispatchers on PostgreSQL
(`ON CONFLICT DO NOTHING`); the SELECT only spares the database the conflicts.

A kind the shop switched off records no row at all (rather than a "suppressed" one): switching
a kind off is a setting, not an event about a customer, and a 10,000-line restock with "ready"
switched off then writes nothing. Rows the rules decline at send time are "suppressed" with
the reason, since those are decisions about a customer that support may be asked about.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from connector.bus import PublishedEvent
from connector.clock import shop_today
from connector.db import after_commit
from connector.domain import notify as rules
from connector.domain.storefront import waited_too_long
from connector.models import Backorder, Notification, Order, OrderLine, Shop

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

JOB = "notification"
EVENTS = ("BackorderCreated", "EtaChanged", "BackorderReady")
CHUNK = 2000  # ids per IN (...): well under SQLite's bound on statement variables
ACTIVE = ("pending", "sending")


def job_key(notification_id: int) -> str:
    return f"{JOB}:{notification_id}"


# ---- what the customer was told ----------------------------------------------------------------


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass
class Knowledge:
    """One line's messages so far: the last promise told, or one still on its way."""

    told: rules.Told | None = None
    underway: bool = False  # a promise is pending: it will carry the current date when sent


class _Message(Protocol):
    id: int
    kind: str
    status: str
    eta: str | None


def told_of(rows: Iterable[_Message]) -> Knowledge:
    """From a line's promise messages, oldest first: the last sent, or one still underway.
    Failed, suppressed and cancelled messages told the customer nothing."""
    knowledge = Knowledge()
    for row in rows:
        if row.kind not in rules.PROMISE_KINDS:
            continue
        if row.status in ACTIVE:
            knowledge.underway = True
        elif row.status == "sent":
            knowledge = Knowledge(rules.Told(_date(row.eta), row.id), False)
    return knowledge


def knowledge_of(session: Session, backorder_ids: Sequence[int]) -> dict[int, Knowledge]:
    """Plain rows, not ORM objects: a restock asks this of 10,000 lines at once."""
    rows: dict[int, list[Any]] = defaultdict(list)
    for start in range(0, len(backorder_ids), CHUNK):
        chunk = backorder_ids[start : start + CHUNK]
        for row in session.execute(
            select(
                Notification.id,
                Notification.backorder_id,
                Notification.kind,
                Notification.status,
                Notification.payload["eta"].as_string().label("eta"),
            )
            .where(
                Notification.backorder_id.in_(chunk),
                Notification.kind.in_([str(k) for k in rules.PROMISE_KINDS]),
            )
            .order_by(Notification.id)
        ):
            rows[row.backorder_id].append(row)
    return {b: told_of(found) for b, found in rows.items()}


# ---- inserting ---------------------------------------------------------------------------------


def _ids_of(session: Session, shop_id: int, keys: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        found.update(
            session.execute(
                select(Notification.dedupe_key, Notification.id).where(
                    Notification.shop_id == shop_id, Notification.dedupe_key.in_(chunk)
                )
            ).all()
        )
    return found


def insert_rows(
    runtime: Runtime, session: Session, shop_id: int, rows: list[dict[str, Any]]
) -> dict[str, int]:
    """Insert the rows whose keys are new; {key: id} of every row asked for (new or not).
    Wakes a send job per new row once the transaction commits."""
    if not rows:
        return {}
    unique = {row["dedupe_key"]: row for row in rows}
    keys = list(unique)
    existing = _ids_of(session, shop_id, keys)
    fresh = [row for key, row in unique.items() if key not in existing]
    if fresh:
        now = runtime.clock.now()
        for row in fresh:
            row.update(shop_id=shop_id, created_at=now, updated_at=now)
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        table = Notification.__table__
        statement = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["shop_id", "dedupe_key"])
            .returning(table.c.dedupe_key, table.c.id)
        )
        ids: dict[str, int] = dict(session.execute(statement, fresh).all())
        raced = [row["dedupe_key"] for row in fresh if row["dedupe_key"] not in ids]
        if raced:  # another dispatcher recorded these meanwhile: theirs to wake
            existing.update(_ids_of(session, shop_id, raced))
        _wake(runtime, session, list(ids.values()))
        existing.update(ids)
    return existing


def _wake(runtime: Runtime, session: Session, ids: list[int]) -> None:
    if ids:
        after_commit(
            session, lambda: [runtime.jobs.enqueue(JOB, i, key=job_key(i)) for i in ids] and None
        )


def outbox_row(
    *,
    order_id: int | None,
    backorder_id: int | None,
    kind: str,
    channel: str,
    recipient: str,
    key: str,
    payload: dict[str, Any],
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "backorder_id": backorder_id,
        "kind": kind,
        "channel": channel,
        "recipient": recipient,
        "dedupe_key": key,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": None,
        "last_error": None,
        "payload": payload,
        "sent_at": None,
    }


def reachable(shop: Shop, order: Order | None) -> bool:
    """Someone to tell: an active shop and a customer with an address that was not erased."""
    return (
        shop.status == "active"
        and order is not None
        and bool(order.customer_email)
        and order.redacted_at is None
    )


# ---- the public helpers ------------------------------------------------------------------------


def tell_customer(
    runtime: Runtime,
    session: Session,
    *,
    shop: Shop,
    order: Order,
    kind: str,
    dedupe_key: str,
    backorder_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> int | None:
    """Record one message to the order's customer, honouring the shop's choice for the kind;
    its id (that of the row already there, for a key seen before), or None when nothing is
    to be sent (kind off, no address, customer erased, shop uninstalled)."""
    channel = rules.channel_for(kind, shop.mail_kinds)
    if channel == rules.OFF or not reachable(shop, order):
        return None
    row = outbox_row(
        order_id=order.id,
        backorder_id=backorder_id,
        kind=kind,
        channel=channel,
        recipient=order.customer_email or "",
        key=dedupe_key,
        payload=dict(payload or {}),
    )
    return insert_rows(runtime, session, shop.id, [row]).get(dedupe_key)


def merchant_recipients(shop: Shop) -> list[str]:
    """The digest's addresses, else the shop's support address, else nobody."""
    named = [a.strip() for a in (shop.digest_recipients or "").split(",") if a.strip()]
    if named:
        return list(dict.fromkeys(named))
    return [shop.support_email] if shop.support_email else []


def _address_tag(address: str) -> str:
    """Keys name recipients by a digest, never by their address."""
    return hashlib.sha256(address.lower().encode()).hexdigest()[:12]


def tell_merchant(
    runtime: Runtime,
    session: Session,
    *,
    shop: Shop,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    order_id: int | None = None,
) -> list[int]:
    """Record one message per merchant recipient; their ids ([] when nobody is to be told).
    `payload["context"]` is the template's context: what the merchant is told is fixed when
    it is recorded (a digest lists the facts of its morning)."""
    if shop.status != "active" or rules.channel_for(kind, shop.mail_kinds) == rules.OFF:
        return []
    rows = []
    for address in merchant_recipients(shop):
        row = outbox_row(
            order_id=order_id,
            backorder_id=None,
            kind=kind,
            channel=rules.EMAIL,
            recipient=address,
            key=f"{dedupe_key}:{_address_tag(address)}",
            payload=dict(payload),
        )
        rows.append(row)
    found = insert_rows(runtime, session, shop.id, rows)
    return [found[row["dedupe_key"]] for row in rows if row["dedupe_key"] in found]


# ---- the engine's events -----------------------------------------------------------------------


@contextmanager
def _transaction(runtime: Runtime, events: list[PublishedEvent]) -> Iterator[Session]:
    if events[0].session is not None:
        yield events[0].session
        return
    with runtime.db.transaction() as session:
        yield session


def on_events(runtime: Runtime, events: list[PublishedEvent]) -> None:
    """The batch handler: every backorder event of one dispatch, per shop."""
    by_shop: dict[int, list[PublishedEvent]] = defaultdict(list)
    for event in events:
        if event.payload.get("backorder_id") is not None:
            by_shop[event.shop_id].append(event)
    if not by_shop:
        return
    with _transaction(runtime, events) as session:
        for shop_id, shop_events in by_shop.items():
            shop = session.get(Shop, shop_id)
            if shop is not None and shop.status == "active":
                _record_for_shop(runtime, session, shop, shop_events)


_FACTS = (
    Backorder.id,
    Backorder.placed_at,
    Backorder.ready_at,
    OrderLine.external_id.label("line_external_id"),
    OrderLine.sku,
    Order.id.label("order_id"),
    Order.name.label("order_name"),
    Order.external_id.label("order_external_id"),
    Order.customer_email,
    Order.redacted_at,
)


def _load(session: Session, ids: list[int]) -> dict[int, Any]:
    """The facts a message needs, per backorder id, as plain rows: hydrating three ORM
    objects per line cost more than the rest of recording a 10,000-line restock."""
    found: dict[int, Any] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for row in session.execute(
            select(*_FACTS)
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Backorder.id.in_(chunk))
        ):
            found[row.id] = row
    return found


def _record_for_shop(
    runtime: Runtime, session: Session, shop: Shop, events: list[PublishedEvent]
) -> None:
    ids = sorted({int(e.payload["backorder_id"]) for e in events})
    loaded = _load(session, ids)
    # What was told matters to ETA changes only (placed and ready need no history).
    changed = sorted({int(e.payload["backorder_id"]) for e in events if e.name == "EtaChanged"})
    knowledge = knowledge_of(session, changed)
    today = shop_today(runtime.clock, shop.timezone)
    rows: list[dict[str, Any]] = []
    for event in events:
        backorder_id = int(event.payload["backorder_id"])
        if backorder_id not in loaded:
            continue
        facts = loaded[backorder_id]
        if not facts.customer_email or facts.redacted_at is not None:
            continue  # nobody to tell (see `reachable`; the shop is active)
        known = knowledge.setdefault(backorder_id, Knowledge())
        told = known.told or rules.Told(_date(event.payload.get("old_eta")), 0)
        new_eta = _date(event.payload.get("new_eta") or event.payload.get("eta"))
        if event.name == "EtaChanged" and known.underway:
            continue  # the message on its way will carry the current date
        kind = rules.for_event(
            event.name,
            told,
            new_eta,
            today=today,
            threshold_days=shop.eta_change_threshold_days,
            expedited=waited_too_long(facts.placed_at, facts.ready_at, shop.expedite_after_days),
        )
        if kind is None:
            continue
        channel = rules.channel_for(kind, shop.mail_kinds)
        if channel == rules.OFF:
            continue
        if kind in rules.PROMISE_KINDS:
            known.underway = True
        rows.append(
            outbox_row(
                order_id=facts.order_id,
                backorder_id=backorder_id,
                kind=kind,
                channel=channel,
                recipient=facts.customer_email,
                key=rules.dedupe_key(kind, backorder_id, told),
                payload={
                    "order": facts.order_name or facts.order_external_id,
                    "line": facts.line_external_id,
                    "sku": facts.sku,
                    "told_eta": _iso(told.eta),
                    "event_eta": _iso(new_eta),
                }
                | _waited(kind, facts),
            )
        )
    insert_rows(runtime, session, shop.id, rows)


def _waited(kind: str, facts: Any) -> dict[str, int]:
    """An expedited line's wait, fixed when it became ready (the e-mail names it)."""
    if kind != rules.Kind.EXPEDITED or facts.ready_at is None:
        return {}
    return {"waited_days": (facts.ready_at - facts.placed_at).days}


def _send(runtime: Runtime, notification_id: int) -> None:
    from connector.services.notify.send import run

    run(runtime, notification_id)


def _sweep(runtime: Runtime, everything: bool = False) -> int:
    from connector.services.notify.send import sweep

    return sweep(runtime, everything)


def register() -> None:
    """The send job and its sweep; the mail package is loaded by the first send, not here."""
    from connector import jobs

    jobs.register(JOB, _send, _sweep, urgent=True)


def subscribe(runtime: Runtime) -> None:
    """Jobs registered and the engine's events wired to the recorder (from connector.tasks)."""
    register()
    runtime.bus.subscribe_batch(EVENTS, lambda events: on_events(runtime, events))
