"""Orders from the store into the model, then through the engine.

Webhooks and reconciliation syncs both end in `ingest_orders` (a webhook's single order through
`ingest_order`), so a missed webhook is repaired by the next sync with no special code. A
snapshot older than the one we hold changes nothing; the same snapshot twice changes nothing the
second time.

A page of orders is stored set-based: one read of the orders and lines we hold, inserts and
updates executed many rows at a time, and one engine reconcile of the variants the page touched.
The outcome is the one of ingesting the snapshots one by one, in page order: where two snapshots
of a page touch one stock pool (or are the same order twice), the later one waits for a later
*wave*, so that pool is re-planned after each of them exactly as it would have been one by one
(the engine keeps a little history: the highest quantity ever short, the first promise, each
ETA change). Pools touched once in a page, nearly all of them, are planned once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from adapters.base import StoreOrder
from connector.clock import Clock
from connector.domain.events import Event
from connector.models import Backorder, Order, OrderLine, Shop, Variant
from connector.services.alternatives import note_changes
from connector.services.backorders import lock_pools, lock_variants, reconcile, reconcile_pools

EXPEDITED_TIER = 1
_CHUNK = 5000  # ids per IN (...): well under every database's bound-parameter limit
_ORDERS = Order.__table__
_LINES = OrderLine.__table__
# What a snapshot sets on the order (the customer's part only until the customer is erased).
_ORDER_FIELDS = (
    "name",
    "placed_at",
    "platform_updated_at",
    "shipping_method",
    "financial_status",
    "fulfillment_status",
    "cancelled_at",
)
_CUSTOMER_FIELDS = ("customer_external_id", "customer_email", "customer_name", "locale")
_LINE_FIELDS = (
    "variant_external_id",
    "variant_id",
    "sku",
    "title",
    "quantity",
    "price",
    "fulfilled_quantity",
    "refunded_quantity",
    "priority",
    "removed_at",
)


@dataclass(frozen=True)
class IngestResult:
    order_id: int | None
    stale: bool
    events: list[Event]


def expedite_tier(shop: Shop, shipping_method: str) -> int:
    words = [w.strip().lower() for w in shop.expedite_keywords.split(",") if w.strip()]
    method = shipping_method.lower()
    return EXPEDITED_TIER if any(word in method for word in words) else 0


def ingest_order(session: Session, clock: Clock, shop: Shop, snapshot: StoreOrder) -> IngestResult:
    """One order (a webhook's): stored and re-planned, unless we hold a newer snapshot."""
    page = ingest_orders(session, clock, shop, [snapshot])
    return IngestResult(page.order_ids[0], stale=bool(page.stale), events=page.events)


@dataclass
class IngestedPage:
    order_ids: list[int | None]  # per snapshot, in order (None: a stale snapshot of no order)
    stale: list[int]  # positions of the snapshots older than what we held, left out
    events: list[Event]


@dataclass
class _Held:
    """An order as stored (or as an earlier snapshot of the page left it)."""

    id: int
    values: dict[str, Any]
    redacted: bool
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)  # external id → id, fields


@dataclass
class _Step:
    snapshot: StoreOrder
    touched: set[int]
    wave: int = 1


def ingest_orders(
    session: Session, clock: Clock, shop: Shop, snapshots: Sequence[StoreOrder]
) -> IngestedPage:
    """Store a page of order snapshots and re-plan what they touched, as one by one would."""
    shop_id = shop.id
    variants = _variant_ids(session, shop_id, snapshots)
    external_ids = {s.external_id for s in snapshots}
    # Lock first: the same order or variant handled by two workers at once takes turns. Then
    # read what we hold, as the winner of any race left it.
    session.flush()
    pools = lock_pools(
        session, set(variants.values()) | _held_variant_ids(session, shop_id, external_ids)
    )
    session.expire_all()
    held = _held_orders(session, shop_id, external_ids)
    steps, stale = _steps(snapshots, held, variants)
    pool_of = {variant_id: n for n, pool in enumerate(pools) for variant_id in pool}
    waves = _waves(steps, pool_of)
    events: list[Event] = []
    now = clock.now()
    created: list[int] = []
    for wave in waves:
        created += _store(session, shop, now, held, variants, wave)
        touched = {v for step in wave for v in step.touched}
        if touched - pool_of.keys():  # a variant locked only now (a concurrent edit added it)
            events += reconcile(session, clock, touched)
            continue
        # Locked above, in pool order: each pool the wave touched, once.
        wanted = sorted({pool_of[v] for v in touched})
        if wanted:
            events += reconcile_pools(session, clock, [pools[n] for n in wanted])
    note_changes(session, orders=created)  # the alternatives index counts what was bought
    order_ids = [held[s.external_id].id if s.external_id in held else None for s in snapshots]
    return IngestedPage(order_ids, stale, events)


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def _variant_ids(session: Session, shop_id: int, snapshots: Sequence[StoreOrder]) -> dict[str, int]:
    """Variant external id → our id, for every variant the snapshots' lines name that we hold."""
    external = {
        line.variant_external_id
        for snapshot in snapshots
        for line in snapshot.lines
        if line.variant_external_id
    }
    found: dict[str, int] = {}
    for chunk in _chunks(external):
        rows = session.execute(
            select(Variant.external_id, Variant.id).where(
                Variant.shop_id == shop_id, Variant.external_id.in_(chunk)
            )
        )
        found.update((external_id, variant_id) for external_id, variant_id in rows)
    return found


def _held_variant_ids(session: Session, shop_id: int, external_ids: set[str]) -> set[int]:
    """The variants of the lines of the orders we hold: an update re-plans them too."""
    found: set[int] = set()
    for chunk in _chunks(external_ids):
        found.update(
            session.scalars(
                select(_LINES.c.variant_id)
                .join(_ORDERS, _ORDERS.c.id == _LINES.c.order_id)
                .where(
                    _ORDERS.c.shop_id == shop_id,
                    _ORDERS.c.external_id.in_(chunk),
                    _LINES.c.variant_id.is_not(None),
                )
                .distinct()
            )
        )
    return found


def _held_orders(session: Session, shop_id: int, external_ids: set[str]) -> dict[str, _Held]:
    held: dict[str, _Held] = {}
    columns = [_ORDERS.c[name] for name in (*_ORDER_FIELDS, *_CUSTOMER_FIELDS)]
    for chunk in _chunks(external_ids):
        for row in session.execute(
            select(_ORDERS.c.id, _ORDERS.c.external_id, _ORDERS.c.redacted_at, *columns).where(
                _ORDERS.c.shop_id == shop_id, _ORDERS.c.external_id.in_(chunk)
            )
        ):
            order_id, external_id, redacted_at, *values = row
            held[external_id] = _Held(
                order_id,
                dict(zip((*_ORDER_FIELDS, *_CUSTOMER_FIELDS), values, strict=True)),
                redacted_at is not None,
            )
    by_id = {order.id: order for order in held.values()}
    line_columns = [_LINES.c[name] for name in _LINE_FIELDS]
    for chunk in _chunks(by_id):
        for row in session.execute(
            select(_LINES.c.id, _LINES.c.order_id, _LINES.c.external_id, *line_columns).where(
                _LINES.c.order_id.in_(chunk)
            )
        ):
            line_id, order_id, external_id, *values = row
            by_id[order_id].lines[external_id] = {
                "id": line_id,
                **dict(zip(_LINE_FIELDS, values, strict=True)),
            }
    return held


def _steps(
    snapshots: Sequence[StoreOrder], held: dict[str, _Held], variants: dict[str, int]
) -> tuple[list[_Step], list[int]]:
    """The snapshots that change something, each with the variants it re-plans, in page order.

    Follows each order through the page: a repeat of an order is judged against the snapshot
    before it, and re-plans the variants that one left on its lines.
    """
    updated = {key: order.values["platform_updated_at"] for key, order in held.items()}
    line_variants = {
        key: {line_key: line["variant_id"] for line_key, line in order.lines.items()}
        for key, order in held.items()
    }
    steps: list[_Step] = []
    stale: list[int] = []
    seen: set[str] = set()
    for position, snapshot in enumerate(snapshots):
        known = updated.get(snapshot.external_id)
        if known is not None and snapshot.updated_at < known:
            stale.append(position)
            continue
        updated[snapshot.external_id] = snapshot.updated_at
        first = snapshot.external_id not in seen
        seen.add(snapshot.external_id)
        order = held.get(snapshot.external_id)
        if first and order is not None and not _changes_the_plan(snapshot, order, variants):
            steps.append(_Step(snapshot, set()))  # stored (its timestamp), nothing re-planned
            continue
        lines = line_variants.setdefault(snapshot.external_id, {})
        touched = {
            variants[line.variant_external_id]
            for line in snapshot.lines
            if line.variant_external_id in variants
        }
        touched |= {variant_id for variant_id in lines.values() if variant_id is not None}
        for line in snapshot.lines:
            lines[line.external_id] = variants.get(line.variant_external_id or "")
        steps.append(_Step(snapshot, touched))
    return steps, stale


# What the queue reads of an order and of its lines (backorders._line_rows and the priority tier).
_PLANNED_ORDER_FIELDS = ("placed_at", "shipping_method", "cancelled_at")
_PLANNED_LINE_FIELDS = ("quantity", "fulfilled_quantity", "refunded_quantity")


def _changes_the_plan(snapshot: StoreOrder, order: _Held, variants: dict[str, int]) -> bool:
    """Whether the snapshot changes anything the queue is planned from.

    Most order updates do not: a tag, a note, a metafield, a payment captured — and every write
    of our own comes back as an orders/updated echo. Re-planning the order's variants then would
    find what the last plan found (it is a function of these facts and the stock, which plans
    on its own changes), at the cost of loading each variant's whole queue. Only the first
    snapshot of an order in a page is judged this way: a later one is judged against the first,
    which the held values do not show.
    """
    values = _order_values(snapshot, order.redacted)
    if any(order.values[name] != values[name] for name in _PLANNED_ORDER_FIELDS):
        return True
    if {line.external_id for line in snapshot.lines} != set(order.lines):
        return True
    for line in snapshot.lines:
        held = order.lines[line.external_id]
        if held["removed_at"] is not None:
            return True
        if held["variant_id"] != variants.get(line.variant_external_id or ""):
            return True
        if any(held[name] != getattr(line, name) for name in _PLANNED_LINE_FIELDS):
            return True
    return False


def _waves(steps: list[_Step], pool_of: dict[int, int]) -> list[list[_Step]]:
    """Group the steps so no two of a wave share a stock pool or an order, keeping page order.

    A step joins the wave after the last one holding any of its pools (or its order): each pool
    then sees its snapshots stored and planned one at a time, in page order.
    """
    last: dict[object, int] = {}
    waves: list[list[_Step]] = []
    for step in steps:
        keys: set[object] = {("pool", pool_of.get(v, -v)) for v in step.touched}
        keys.add(("order", step.snapshot.external_id))
        step.wave = 1 + max((last.get(key, 0) for key in keys), default=0)
        for key in keys:
            last[key] = step.wave
        if step.wave > len(waves):
            waves.append([])
        waves[step.wave - 1].append(step)
    return waves


def _order_values(snapshot: StoreOrder, redacted: bool) -> dict[str, Any]:
    values = {
        "name": snapshot.name,
        "placed_at": snapshot.placed_at,
        "platform_updated_at": snapshot.updated_at,
        "shipping_method": snapshot.shipping_method,
        "financial_status": snapshot.financial_status,
        "fulfillment_status": snapshot.fulfillment_status,
        "cancelled_at": snapshot.cancelled_at,
    }
    if not redacted:  # an erased customer stays erased, whatever the store says
        values |= {
            "customer_external_id": snapshot.customer_external_id,
            "customer_email": snapshot.customer_email,
            "customer_name": snapshot.customer_name,
            "locale": snapshot.locale,
        }
    return values


def _store(
    session: Session,
    shop: Shop,
    now: datetime,
    held: dict[str, _Held],
    variants: dict[str, int],
    wave: list[_Step],
) -> list[int]:
    """Write a wave's orders and lines; returns the ids of the orders it created."""
    created = _store_orders(session, shop.id, now, held, wave)
    new_lines: list[dict[str, Any]] = []
    new_keys: list[tuple[_Held, str]] = []
    changed: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    for step in wave:
        snapshot = step.snapshot
        order = held[snapshot.external_id]
        tier = expedite_tier(shop, snapshot.shipping_method)
        current = dict(order.lines)
        for incoming in snapshot.lines:
            line = current.pop(incoming.external_id, None)
            variant_id = variants.get(incoming.variant_external_id or "")
            values = {
                "variant_external_id": incoming.variant_external_id,
                "variant_id": variant_id,
                "sku": incoming.sku,
                "title": incoming.title,
                "quantity": incoming.quantity,
                "price": incoming.price,
                "fulfilled_quantity": incoming.fulfilled_quantity,
                "refunded_quantity": incoming.refunded_quantity,
                "removed_at": None,
            }
            if line is None:
                values["priority"] = tier
                new_lines.append(
                    {
                        **values,
                        "shop_id": shop.id,
                        "order_id": order.id,
                        "external_id": incoming.external_id,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                new_keys.append((order, incoming.external_id))
                continue
            # A merchant's own priority survives order updates; expedited shipping only raises.
            values["priority"] = max(line["priority"], tier)
            if variant_id is not None and variant_id != line["variant_id"]:
                # An edit swapped the line's variant: its backorder joins the new variant's queue.
                moved.append({"line": line["id"], "variant": variant_id})
            if any(line[name] != value for name, value in values.items()):
                changed.append({"row_id": line["id"], **values})
                line.update(values)
        for gone in current.values():
            if gone["removed_at"] is None:
                removed.append({"row_id": gone["id"]})
                gone["removed_at"] = now
    if new_lines:
        ids = session.scalars(
            insert(_LINES).returning(_LINES.c.id, sort_by_parameter_order=True), new_lines
        ).all()
        for (order, key), line_id, row in zip(new_keys, ids, new_lines, strict=True):
            order.lines[key] = {"id": line_id, **{name: row[name] for name in _LINE_FIELDS}}
    by_id = _LINES.c.id == bindparam("row_id")
    if changed:
        session.execute(update(_LINES).where(by_id).values(updated_at=now), changed)
    if removed:
        session.execute(update(_LINES).where(by_id).values(removed_at=now, updated_at=now), removed)
    if moved:
        backorders = Backorder.__table__
        session.execute(
            update(backorders)
            .where(backorders.c.order_line_id == bindparam("line"))
            .values(variant_id=bindparam("variant")),
            moved,
        )
    return created


def _store_orders(
    session: Session, shop_id: int, now: datetime, held: dict[str, _Held], wave: list[_Step]
) -> list[int]:
    """Insert the wave's new orders and update the changed ones; returns the new ids."""
    new: list[dict[str, Any]] = []
    changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for step in wave:
        snapshot = step.snapshot
        order = held.get(snapshot.external_id)
        if order is None:
            values = _order_values(snapshot, redacted=False)
            new.append(
                {
                    **values,
                    "shop_id": shop_id,
                    "external_id": snapshot.external_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            continue
        values = _order_values(snapshot, order.redacted)
        if any(order.values[name] != value for name, value in values.items()):
            changed.setdefault(tuple(values), []).append({"row_id": order.id, **values})
            order.values.update(values)
    for rows in changed.values():
        session.execute(
            update(_ORDERS).where(_ORDERS.c.id == bindparam("row_id")).values(updated_at=now),
            rows,
        )
    if not new:
        return []
    ids = session.scalars(
        insert(_ORDERS).returning(_ORDERS.c.id, sort_by_parameter_order=True), new
    ).all()
    for row, order_id in zip(new, ids, strict=True):
        values = {name: row.get(name) for name in (*_ORDER_FIELDS, *_CUSTOMER_FIELDS)}
        held[row["external_id"]] = _Held(order_id, values, redacted=False)
    return list(ids)


def forget_order(session: Session, clock: Clock, shop: Shop, external_id: str) -> list[Event]:
    """The store deleted an order: it leaves every queue as a cancellation would.

    The row stays (its history and messages still explain what happened); a later snapshot of
    the same order, if the merchant restores it, is ingested as usual.
    """
    order = session.scalar(
        select(Order).where(Order.shop_id == shop.id, Order.external_id == external_id)
    )
    if order is None or order.cancelled_at is not None:
        return []
    touched = {line.variant_id for line in order.lines if line.variant_id is not None}
    lock_variants(session, touched)
    order.cancelled_at = clock.now()
    session.flush()
    return reconcile(session, clock, touched)
