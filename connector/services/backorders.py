"""Applying the engine to the database: lock, load the facts, plan, write the difference.

Every command that can change a variant's backorders (an order arriving or changing, a stock
level, incoming stock, a merchant's manual ETA or priority, the daily tick) ends here, in the
caller's transaction. Variants are locked in id order first, so two workers handling the same
variant take turns and never hand out one unit twice (PostgreSQL: row locks, Saleor's way;
SQLite: the write lock every transaction takes at BEGIN).

Variants that sell from one stock (same `inventory_item_external_id` in one shop: WooCommerce
variations whose stock the parent manages) are a stock pool: locked together, loaded together
and planned as one queue over one supply (`connector.domain.pool`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, insert, literal, null, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import ColumnElement

from connector.clock import Clock, shop_today, shop_zone
from connector.domain.allocation import OPEN, BackorderState, Line, Plan, VariantFacts, plan
from connector.domain.eta import EtaPolicy, Incoming
from connector.domain.events import BackorderEvent, Event
from connector.domain.pool import Reading, pool_lead_time, pool_on_hand
from connector.domain.queue import Demand, order_key
from connector.models import (
    Backorder,
    DomainEvent,
    EtaChange,
    IncomingStock,
    InventoryLevel,
    Order,
    OrderLine,
    Shop,
    Variant,
)
from connector.models.base import UTCDateTime
from connector.services.alternatives import note_changes
from connector.services.dates import require_not_past
from connector.services.errors import Conflict, NotFound
from connector.services.stock_outs import StockFlip, note_stock_outs


class Unset:
    """Marks an argument that was not given (None means "clear")."""


_BACKORDERS = Backorder.__table__
_CHUNK = 5000  # ids per IN (...): well under every database's bound-parameter limit
_POOLS_AT_ONCE = 2000  # variants whose pools are loaded, planned and written together
_NEED = OrderLine.quantity - OrderLine.fulfilled_quantity - OrderLine.refunded_quantity


def _sharing_stock(session: Session, ids: list[int]) -> set[int]:
    """The ids, and every variant that sells from the same stock as one of them."""
    found = set(ids)
    other = aliased(Variant)
    for start in range(0, len(ids), _CHUNK):
        found.update(
            session.scalars(
                select(other.id)
                .join(
                    Variant,
                    and_(
                        Variant.shop_id == other.shop_id,
                        Variant.inventory_item_external_id == other.inventory_item_external_id,
                    ),
                )
                .where(Variant.id.in_(ids[start : start + _CHUNK]))
            )
        )
    return found


def lock_pools(session: Session, variant_ids: Iterable[int]) -> list[list[int]]:
    """Lock the variants' rows, and those of every variant sharing their stock, in id order.

    Returns the stock pools they form (each a list of ids, lowest first; a variant with stock
    of its own is a pool of one), ordered by their lowest id. Locking whole pools, always in id
    order, keeps two commands on one pool from interleaving or deadlocking.
    """
    ids = sorted(set(variant_ids))
    if not ids:
        return []
    statement = (
        select(Variant.id, Variant.shop_id, Variant.inventory_item_external_id)
        .where(Variant.id.in_(sorted(_sharing_stock(session, ids))))
        .order_by(Variant.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    pools: dict[object, list[int]] = {}
    for variant_id, shop_id, item in session.execute(statement):
        pools.setdefault(variant_id if item is None else (shop_id, item), []).append(variant_id)
    return list(pools.values())


def lock_variants(session: Session, variant_ids: Iterable[int]) -> list[int]:
    """Lock the variants' rows (with their stock pools) in a stable order; returns the ids."""
    return sorted(v for pool in lock_pools(session, variant_ids) for v in pool)


def stock_pool(session: Session, variant: Variant) -> list[Variant]:
    """The variants selling from the variant's stock, lowest id first (often just itself)."""
    if variant.inventory_item_external_id is None:
        return [variant]
    return list(
        session.scalars(
            select(Variant)
            .where(
                Variant.shop_id == variant.shop_id,
                Variant.inventory_item_external_id == variant.inventory_item_external_id,
            )
            .order_by(Variant.id)
        )
    )


def _of(column: Any, ids: list[int]) -> ColumnElement[bool]:
    """`column = id` for one variant (the common case, and the cheapest), else `IN`."""
    return column == ids[0] if len(ids) == 1 else column.in_(ids)


# Why a line needs nothing any more, worked out by the database: NULL while it is open.
_CLOSED_BECAUSE = case(
    (Order.cancelled_at.is_not(None), literal("cancelled")),
    (OrderLine.removed_at.is_not(None), literal("removed")),
    (_NEED > 0, null()),
    (
        and_(
            OrderLine.fulfilled_quantity > 0,
            OrderLine.fulfilled_quantity >= OrderLine.quantity - OrderLine.refunded_quantity,
        ),
        literal("fulfilled"),
    ),
    (OrderLine.refunded_quantity > 0, literal("refunded")),
    else_=literal("removed"),
)


def _line_rows(session: Session, variant_ids: list[int]) -> dict[int, list[Any]]:
    """Open lines of the variants, and closed lines whose backorder is still open, by variant.

    Each row ends with the line's variant id; a variant's rows come in line id order.
    """
    found: dict[int, list[Any]] = {}
    for start in range(0, len(variant_ids), _CHUNK):
        chunk = variant_ids[start : start + _CHUNK]
        for row in session.execute(
            select(
                OrderLine.id,
                OrderLine.external_id,
                OrderLine.priority,
                _NEED,
                _CLOSED_BECAUSE,
                Order.placed_at,
                Order.external_id,
                Backorder.id,
                Backorder.quantity,
                Backorder.allocated_quantity,
                Backorder.status,
                Backorder.eta,
                Backorder.eta_source,
                Backorder.manual_eta,
                Backorder.priority,
                OrderLine.variant_id,
            )
            .join(Order, Order.id == OrderLine.order_id)
            .outerjoin(Backorder, Backorder.order_line_id == OrderLine.id)
            .where(
                _of(OrderLine.variant_id, chunk),
                or_(
                    and_(OrderLine.removed_at.is_(None), Order.cancelled_at.is_(None), _NEED > 0),
                    Backorder.status.in_(OPEN),
                ),
            )
        ):
            found.setdefault(row[-1], []).append(row)
    for rows in found.values():
        rows.sort(key=lambda row: row[0])
    return found


def _to_line(row: Any, zone: Any, variant_id: int | None = None) -> Line:
    # Positional unpacking: this runs once per line of a variant, ten thousand at a time.
    (
        line_id,
        line_key,
        priority,
        need,
        closed,
        placed_at,
        order_id,
        backorder_id,
        quantity,
        allocated,
        status,
        eta,
        source,
        manual,
        recorded_priority,
    ) = row
    state = None
    if backorder_id is not None:
        state = BackorderState(
            quantity, allocated, status, eta, source, manual, backorder_id, recorded_priority
        )
    return Line(
        Demand(line_id, 0 if closed else need, priority, placed_at, order_key(order_id), line_key),
        placed_at.astimezone(zone).date(),
        state,
        closed,
        variant_id,
    )


@dataclass
class _Loaded:
    """What the plans of many stock pools read, loaded at once and kept by variant id."""

    readings: dict[int, list[Reading]]
    lines: dict[int, list[Any]]
    incoming: dict[int, list[Incoming]]

    @classmethod
    def load(cls, session: Session, variant_ids: list[int]) -> _Loaded:
        readings: dict[int, list[Reading]] = {}
        incoming: dict[int, list[Incoming]] = {}
        for start in range(0, len(variant_ids), _CHUNK):
            chunk = variant_ids[start : start + _CHUNK]
            for variant_id, *reading in session.execute(
                select(
                    InventoryLevel.variant_id,
                    InventoryLevel.location_external_id,
                    InventoryLevel.on_hand,
                    InventoryLevel.available,
                    InventoryLevel.platform_updated_at,
                    InventoryLevel.id,
                ).where(_of(InventoryLevel.variant_id, chunk))
            ):
                readings.setdefault(variant_id, []).append(Reading(*reading))
            for r in session.execute(
                select(
                    IncomingStock.variant_id,
                    IncomingStock.id,
                    IncomingStock.quantity,
                    IncomingStock.expected_on,
                    IncomingStock.reference,
                ).where(_of(IncomingStock.variant_id, chunk), IncomingStock.received_at.is_(None))
            ):
                incoming.setdefault(r.variant_id, []).append(
                    Incoming(
                        quantity=r.quantity,
                        expected_on=r.expected_on,
                        reference=r.reference,
                        id=r.id,
                    )
                )
        return cls(readings, _line_rows(session, variant_ids), incoming)

    def facts(self, variant: Any, shop: Shop, members: list[Any]) -> VariantFacts:
        """The facts of the pool `members` (lowest id first, `variant` among them): variants or
        rows of their columns."""
        ids = [member.id for member in members]
        zone = shop_zone(shop.timezone)
        readings = [r for i in ids for r in self.readings.get(i, ())]
        if len(ids) == 1:
            lines = [_to_line(row[:-1], zone) for row in self.lines.get(ids[0], ())]
        else:
            lines = [
                _to_line(row[:-1], zone, row[-1]) for i in ids for row in self.lines.get(i, ())
            ]
        supply = pool_on_hand(
            readings,
            sum(line.demand.need for line in lines),
            tracked=any(member.track_inventory for member in members),
        )
        # The merchant's own setting, else what the variant's (or its supplier's) receipts taught.
        lead = pool_lead_time(
            (
                member.lead_time_days
                if member.lead_time_days is not None
                else member.learned_lead_time_days
                for member in members
            ),
            shop.lead_time_days,
        )
        return VariantFacts(
            variant_id=variant.id,
            on_hand=supply,
            lines=lines,
            incoming=[r for i in ids for r in self.incoming.get(i, ())],
            policy=EtaPolicy(
                lead_time_days=lead,
                handling_days=shop.handling_days,
                grace_days=shop.late_grace_days,
            ),
            split_shipments=shop.split_shipments,
            was_in_stock=variant.in_stock,
            shared_with={m.id: m.in_stock for m in members if m.id != variant.id},
        )


def load_facts(
    session: Session, variant: Variant, shop: Shop, pool: list[Variant] | None = None
) -> VariantFacts:
    """The facts of the variant's stock pool: the variant alone, or every variant sharing it.

    `pool` (lowest id first, `variant` among them) saves looking the pool up again.
    """
    members = pool if pool is not None else stock_pool(session, variant)
    loaded = _Loaded.load(session, [member.id for member in members])
    return loaded.facts(variant, shop, members)


_STAMPS = {"ready": "ready_at", "fulfilled": "fulfilled_at", "cancelled": "cancelled_at"}


def _stamp(state: BackorderState, previous: BackorderState | None) -> str | None:
    """The timestamp column a status change sets, if any."""
    if previous is not None and previous.status == state.status:
        return None
    return _STAMPS.get(state.status)


class _Writes:
    """The changed states of many pools' plans, written at once."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.inserts: list[dict[str, Any]] = []
        self.updates: dict[str | None, list[dict[str, Any]]] = {}
        self.moved: list[tuple[int | None, int]] = []  # (backorder id or None: new, line id)

    def add(self, facts: VariantFacts, result: Plan, shop: Shop) -> None:
        now = self.now
        lines = {line.demand.line_id: line for line in facts.lines}
        for line_id, state in result.states.items():
            line = lines[line_id]
            stamp = _stamp(state, line.state)
            values = {
                "quantity": state.quantity,
                "allocated_quantity": state.allocated,
                "status": state.status,
                "eta": state.eta,
                "eta_source": state.eta_source,
                # A backorder re-opened after it closed starts without the old manual date.
                "manual_eta": state.manual_eta,
                "priority": line.demand.priority,
            }
            if state.backorder_id is None:
                self.inserts.append(
                    {
                        **values,
                        **({stamp: now} if stamp else {}),
                        "shop_id": shop.id,
                        "order_line_id": line_id,
                        "variant_id": facts.variant_of(line),
                        "placed_at": line.demand.placed_at,
                        "order_sort_key": line.demand.order_key,
                        "first_promised_eta": state.eta,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            else:
                self.updates.setdefault(stamp, []).append({"row_id": state.backorder_id, **values})
            previous = line.state
            if (
                previous is None
                or previous.eta != state.eta
                or previous.eta_source != state.eta_source
            ):
                self.moved.append((state.backorder_id, line_id))

    def execute(self, session: Session) -> dict[int, int]:
        """Persist the states; returns line id → backorder id for the new rows."""
        # Core statements, executemany: a restock can touch ten thousand rows, and the ORM's
        # per-row bookkeeping would cost more than the database does.
        new_ids: dict[int, int] = {}
        if self.inserts:
            returned = session.execute(
                insert(_BACKORDERS).returning(
                    _BACKORDERS.c.id, _BACKORDERS.c.order_line_id, sort_by_parameter_order=True
                ),
                self.inserts,
            )
            new_ids = {line_id: backorder_id for backorder_id, line_id in returned}
        _update_by_id(session, self.updates, self.now)
        # History is what the rows now say: copy it in the database rather than row by row.
        moved = [backorder_id or new_ids[line_id] for backorder_id, line_id in self.moved]
        history = EtaChange.__table__
        for start in range(0, len(moved), _CHUNK):
            chunk = moved[start : start + _CHUNK]
            session.execute(
                insert(history).from_select(
                    ["shop_id", "backorder_id", "eta", "eta_source", "at"],
                    select(
                        _BACKORDERS.c.shop_id,
                        _BACKORDERS.c.id,
                        _BACKORDERS.c.eta,
                        _BACKORDERS.c.eta_source,
                        literal(self.now, UTCDateTime()),
                    ).where(_BACKORDERS.c.id.in_(chunk)),
                )
            )
        return new_ids


def _update_by_id(
    session: Session, updates: dict[str | None, list[dict[str, Any]]], now: datetime
) -> None:
    """UPDATE … WHERE id = ?, executemany; the times are constants of the statement."""
    for stamp, rows in updates.items():
        constants = {"updated_at": now, **({stamp: now} if stamp else {})}
        statement = (
            _BACKORDERS.update().where(_BACKORDERS.c.id == bindparam("row_id")).values(**constants)
        )
        session.execute(statement, rows)


def record_events(session: Session, shop_id: int, events: list[Event], now: datetime) -> None:
    """One outbox row per kind of event a command raised: `{"events": [payload, ...]}`.

    A restock can raise thousands of events at once; a row each would cost more than the
    rest of the command. The bus hands them to subscribers one by one.
    """
    batches: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        batches.setdefault(event.name, []).append(event.payload())
    if batches:
        session.execute(
            insert(DomainEvent.__table__).values(shop_id=shop_id, occurred_at=now),
            [{"name": name, "payload": {"events": payloads}} for name, payloads in batches.items()],
        )


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Re-planning a long queue allocates ~10 objects a line, almost none of them cyclic.

    Python's cyclic collector still runs full passes over every live object meanwhile; in
    `bench.engine` that added 0.05-0.3 s, at random, to a 10,000-line restock. Reference
    counting frees what the plan makes; the collector resumes right after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def reconcile(session: Session, clock: Clock, variant_ids: Iterable[int]) -> list[Event]:
    """Bring the backorders of these variants in line with the current facts."""
    with _cyclic_gc_paused():
        return _reconcile(session, clock, lock_pools(session, variant_ids))


def reconcile_pools(session: Session, clock: Clock, pools: list[list[int]]) -> list[Event]:
    """`reconcile` of stock pools the caller has locked already (`lock_pools`)."""
    with _cyclic_gc_paused():
        return _reconcile(session, clock, pools)


def _reconcile(session: Session, clock: Clock, pools: list[list[int]]) -> list[Event]:
    now = clock.now()
    raised: list[Event] = []
    batch: list[list[int]] = []
    size = 0
    for pool in pools:
        if batch and size + len(pool) > _POOLS_AT_ONCE:
            raised += _reconcile_pools(session, clock, batch, now)
            batch, size = [], 0
        batch.append(pool)
        size += len(pool)
    if batch:
        raised += _reconcile_pools(session, clock, batch, now)
    return raised


def _reconcile_pools(
    session: Session, clock: Clock, pools: list[list[int]], now: datetime
) -> list[Event]:
    """Plan each pool on facts read for all of them at once; write every change at once.

    Pools share no variant, line or backorder, so planning them together changes nothing but
    the number of statements.
    """
    ids = [variant_id for pool in pools for variant_id in pool]
    # The columns a plan reads, not whole objects: a first sync plans every variant.
    variants: dict[int, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in session.execute(
            select(
                Variant.id,
                Variant.shop_id,
                Variant.track_inventory,
                Variant.lead_time_days,
                Variant.learned_lead_time_days,
                Variant.in_stock,
            ).where(_of(Variant.id, chunk))
        ):
            variants[row.id] = row
    loaded = _Loaded.load(session, ids)
    writes = _Writes(now)
    planned: list[tuple[int, list[Event]]] = []
    flipped: list[dict[str, Any]] = []  # variants whose in-stock flag the plans changed
    flips: list[StockFlip] = []
    for pool in pools:
        members = [variants[variant_id] for variant_id in pool]
        variant = members[0]
        shop = session.get_one(Shop, variant.shop_id)
        facts = loaded.facts(variant, shop, members)
        result = plan(facts, shop_today(clock, shop.timezone))
        writes.add(facts, result, shop)
        for member in members:
            if member.in_stock != result.in_stock:
                flipped.append({"row_id": member.id, "in_stock": result.in_stock})
                flips.append(StockFlip(member.shop_id, member.id, result.in_stock))
        planned.append((shop.id, result.events))
    new_ids = writes.execute(session)
    if flipped:
        # One statement for all (a first sync sets every variant's); objects the session holds
        # are told, and the alternatives index hears of them as of any changed variant.
        variants_table = Variant.__table__
        session.execute(
            variants_table.update()
            .where(variants_table.c.id == bindparam("row_id"))
            .values(updated_at=now),
            flipped,
        )
        for row in flipped:
            held = session.identity_map.get(identity_key(Variant, row["row_id"]))
            if held is not None:
                set_committed_value(held, "in_stock", row["in_stock"])
        note_changes(session, variants=[row["row_id"] for row in flipped])
        note_stock_outs(session, now, flips)
    raised: list[Event] = []
    by_shop: dict[int, list[Event]] = {}
    for shop_id, planned_events in planned:
        events = [
            replace(e, backorder_id=new_ids[e.line_id])
            if isinstance(e, BackorderEvent) and e.backorder_id is None
            else e
            for e in planned_events
        ]
        by_shop.setdefault(shop_id, []).extend(events)
        raised += events
    for shop_id, events in by_shop.items():
        record_events(session, shop_id, events, now)
    return raised


def _open_backorder(session: Session, shop_id: int | None, backorder_id: int) -> Backorder:
    backorder = session.get(Backorder, backorder_id)
    if backorder is None or (shop_id is not None and backorder.shop_id != shop_id):
        raise NotFound(f"no backorder with id {backorder_id}")
    return backorder


def change_backorder(
    session: Session,
    clock: Clock,
    shop_id: int | None,
    backorder_id: int,
    *,
    manual_eta: date | type[Unset] | None = Unset,
    priority: int | type[Unset] = Unset,
) -> list[Event]:
    """A merchant's manual ETA (None clears it) or queue tier for one line; re-plans at once."""
    variant_id = _open_backorder(session, shop_id, backorder_id).variant_id
    lock_variants(session, [variant_id])
    backorder = _open_backorder(session, shop_id, backorder_id)
    if backorder.status not in OPEN:
        raise Conflict(f"backorder {backorder_id} is {backorder.status}; only open ones change")
    shop = session.get_one(Shop, backorder.shop_id)
    if manual_eta is not Unset:
        if manual_eta is not None:
            require_not_past(clock, shop.timezone, manual_eta, "eta")  # type: ignore[arg-type]
        backorder.manual_eta = manual_eta  # type: ignore[assignment]
    if priority is not Unset:
        session.get_one(OrderLine, backorder.order_line_id).priority = priority  # type: ignore[assignment]
    session.flush()
    return reconcile(session, clock, [variant_id])


def recompute_shop(session: Session, clock: Clock, shop_id: int) -> list[Event]:
    """The periodic re-plan: dates move (late stock stops counting, lead times lapse)."""
    variant_ids = set(
        session.scalars(
            select(Backorder.variant_id)
            .where(Backorder.shop_id == shop_id, Backorder.status.in_(OPEN))
            .distinct()
        )
    ) | set(
        session.scalars(
            select(IncomingStock.variant_id)
            .where(IncomingStock.shop_id == shop_id, IncomingStock.received_at.is_(None))
            .distinct()
        )
    )
    return reconcile(session, clock, variant_ids)
