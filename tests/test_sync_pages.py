"""A page of orders stored at once has the outcome of its orders stored one by one.

`ingest_orders` (a sync page) writes set-based and re-plans each stock pool once per page, except
where two snapshots of the page touch one pool: those wait for later waves, so the engine's bit
of history (the highest quantity ever short, the first promise, each ETA change, each event)
comes out as it would one order at a time. Two shops with the same catalogue, stock and history
receive the same snapshots: one shop page by page, the other order by order (`ingest_order`, the
webhook path); everything the engine and the alternatives index keep must then be equal.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import (
    StoreInventoryLevel,
    StoreOrder,
    StoreOrderLine,
    StoreProduct,
    StoreVariant,
)
from connector.commands import execute
from connector.models import (
    AlternativeFeatures,
    Backorder,
    CoPurchase,
    DomainEvent,
    EtaChange,
    Order,
    OrderLine,
    Shop,
    Variant,
)
from connector.runtime import Runtime
from connector.services.catalog import apply_products
from connector.services.orders import ingest_order, ingest_orders
from connector.services.shops import add_shop
from connector.services.stock import add_incoming

# variant: (on hand, available, policy, stock pool); on hand None: the store reports only what
# is left to sell (WooCommerce), and the engine derives on-hand from the open lines.
CATALOGUE = {
    "A": (2, 2, "continue", None),
    "B": (0, 0, "continue", None),
    "C": (None, -1, "continue", "pool-1"),
    "D": (None, -1, "continue", "pool-1"),
    "E": (5, 5, "deny", None),
}


def _catalogue(at: datetime) -> list[StoreProduct]:
    return [
        StoreProduct(
            external_id=f"p-{name}",
            title=f"Tee {name}",
            updated_at=at,
            product_type="Tees",
            tags=("summer",),
            variants=(
                StoreVariant(
                    external_id=name,
                    sku=f"SKU-{name}",
                    title=name,
                    price=Decimal("19.90"),
                    options={"Size": name},
                    inventory_policy=policy,
                    updated_at=at,
                    inventory_item_external_id=pool or f"item-{name}",
                    levels=(StoreInventoryLevel(name, "loc-1", on_hand, available, at),),
                ),
            ),
        )
        for name, (on_hand, available, policy, pool) in CATALOGUE.items()
    ]


def _order(
    number: int,
    lines: list[tuple[str, str | None, int]],
    *,
    placed: datetime,
    updated: datetime,
    shipping: str = "Standard",
    cancelled: datetime | None = None,
    fulfilled: dict[str, int] | None = None,
    customer: str | None = None,
) -> StoreOrder:
    """`lines`: (line id, variant external id, quantity)."""
    return StoreOrder(
        external_id=str(number),
        name=f"#{number}",
        placed_at=placed,
        updated_at=updated,
        customer_email=customer or f"buyer{number}@example.com",
        shipping_method=shipping,
        cancelled_at=cancelled,
        lines=tuple(
            StoreOrderLine(
                external_id=line_id,
                variant_external_id=variant,
                quantity=quantity,
                sku=f"SKU-{variant}",
                price=Decimal("19.90"),
                fulfilled_quantity=(fulfilled or {}).get(line_id, 0),
            )
            for line_id, variant, quantity in lines
        ),
    )


def _history(now: datetime) -> list[StoreOrder]:
    """Orders both shops already hold before the page arrives."""
    day = timedelta(days=1)
    return [
        _order(1, [("1-a", "A", 1)], placed=now - 9 * day, updated=now - 9 * day),
        _order(2, [("2-a", "A", 2), ("2-b", "B", 1)], placed=now - 8 * day, updated=now - 8 * day),
        _order(3, [("3-c", "C", 1)], placed=now - 7 * day, updated=now - 7 * day),
        _order(4, [("4-b", "B", 1), ("4-e", "E", 1)], placed=now - 6 * day, updated=now - 6 * day),
    ]


def _page(now: datetime) -> list[StoreOrder]:
    """One sync page, oldest change first, made to collide: the same pools again and again,
    orders placed out of page order, stock freed mid-page, a line moved, repeats, a stale copy."""
    day, hour = timedelta(days=1), timedelta(hours=1)
    history = {o.external_id: o for o in _history(now)}
    return [
        # Placed after order 11 below, but changed first: it reaches the page first.
        _order(10, [("10-a", "A", 1)], placed=now - 2 * day, updated=now - 5 * hour),
        _order(11, [("11-a", "A", 2), ("11-d", "D", 1)], placed=now - 3 * day,
               updated=now - 4 * hour),
        # Order 1 cancelled: its unit of A is free again mid-page, for the lines queued behind.
        replace(history["1"], cancelled_at=now - 4 * hour, updated_at=now - 4 * hour + 60 * _S),
        # Expedited: jumps the queue of B.
        _order(12, [("12-b", "B", 1)], placed=now - hour, updated=now - 3 * hour,
               shipping="Express"),
        # Order 2 edited: its line of A now sells B, its line of B is gone, a new line of C.
        _order(
            2,
            [("2-a", "B", 2), ("2-c", "C", 2)],
            placed=now - 8 * day,
            updated=now - 3 * hour + 30 * _S,
        ),
        # The same order twice in one page, the second time partly fulfilled.
        _order(13, [("13-c", "C", 1), ("13-d", "D", 2)], placed=now - day, updated=now - 2 * hour),
        _order(
            13,
            [("13-c", "C", 1), ("13-d", "D", 2)],
            placed=now - day,
            updated=now - 2 * hour + 10 * _S,
            fulfilled={"13-d": 1},
        ),
        # Older than the copy of order 3 we hold: changes nothing.
        replace(history["3"], updated_at=now - 10 * day),
        # A variant we do not hold, a custom item, and a variant untouched by the others.
        _order(14, [("14-x", "X", 1), ("14-n", None, 1), ("14-e", "E", 1)], placed=now - hour,
               updated=now - hour, customer="buyer2@example.com"),
        _order(15, [("15-a", "A", 1), ("15-b", "B", 1)], placed=now - 2 * hour,
               updated=now - 30 * _S * 2, customer="buyer2@example.com"),
    ]  # fmt: skip


_S = timedelta(seconds=1)


def _shop(runtime: Runtime, domain: str) -> int:
    now = runtime.clock.now()

    def build(session: Session) -> int:
        shop = add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform="shopify",
            domain=domain,
            credentials={},
        )
        shop.expedite_keywords = "express"
        session.flush()
        apply_products(session, runtime.clock, shop, _catalogue(now - timedelta(days=30)))
        return shop.id

    shop_id = execute(runtime, build)
    for variant, quantity, days in (("A", 1, 6), ("B", 2, 4), ("C", 1, 10)):

        def incoming(session: Session, variant: str = variant, q: int = quantity, d: int = days):
            row = session.scalar(
                select(Variant).where(Variant.shop_id == shop_id, Variant.external_id == variant)
            )
            add_incoming(
                session,
                runtime.clock,
                row,
                quantity=q,
                expected_on=_today(runtime) + d * _DAY,
                reference=f"PO-{variant}",
            )

        execute(runtime, incoming)
    for order in _history(now):
        execute(runtime, lambda s, o=order: ingest_order(s, runtime.clock, _get(s, shop_id), o))
    return shop_id


_DAY = timedelta(days=1)


def _today(runtime: Runtime) -> date:
    return runtime.clock.now().date()


def _get(session: Session, shop_id: int) -> Shop:
    return session.get_one(Shop, shop_id)


def _state(runtime: Runtime, shop_id: int) -> dict[str, Any]:
    """What the shop holds, named by external ids (internal ids differ between the shops)."""
    with runtime.db.transaction() as session:
        variants = dict(
            session.execute(
                select(Variant.id, Variant.external_id).where(Variant.shop_id == shop_id)
            ).all()
        )
        lines = {
            line_id: f"{order}/{line}"
            for line_id, order, line in session.execute(
                select(OrderLine.id, Order.external_id, OrderLine.external_id)
                .join(Order, Order.id == OrderLine.order_id)
                .where(Order.shop_id == shop_id)
            )
        }
        backorders = {
            b.id: lines[b.order_line_id]
            for b in session.scalars(select(Backorder).where(Backorder.shop_id == shop_id))
        }

        def named(payload: dict[str, Any]) -> dict[str, Any]:
            out = dict(payload)
            for key, names in (
                ("variant_id", variants),
                ("line_id", lines),
                ("backorder_id", backorders),
            ):
                if out.get(key) is not None:
                    out[key] = names[out[key]]
            return out

        events = [
            (row.name, named(payload))
            for row in session.scalars(
                select(DomainEvent).where(DomainEvent.shop_id == shop_id).order_by(DomainEvent.id)
            )
            for payload in row.payload["events"]
        ]
        by_subject: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for name, payload in events:
            subject = payload.get("backorder_id") or payload.get("line_id") or payload["variant_id"]
            by_subject.setdefault(subject, []).append((name, payload))
        history: dict[str, list[tuple[Any, ...]]] = {}
        for change in session.scalars(
            select(EtaChange).where(EtaChange.shop_id == shop_id).order_by(EtaChange.id)
        ):
            history.setdefault(backorders[change.backorder_id], []).append(
                (change.eta, change.eta_source, change.at)
            )
        return {
            "backorders": {
                lines[b.order_line_id]: (
                    variants[b.variant_id],
                    b.quantity,
                    b.allocated_quantity,
                    b.status,
                    b.eta,
                    b.eta_source,
                    b.first_promised_eta,
                    b.priority,
                    b.placed_at,
                    b.order_sort_key,
                    b.ready_at,
                    b.fulfilled_at,
                    b.cancelled_at,
                    b.created_at,
                    b.updated_at,
                )
                for b in session.scalars(select(Backorder).where(Backorder.shop_id == shop_id))
            },
            "eta_history": history,
            "events": sorted(events, key=repr),
            "events_in_order_per_subject": by_subject,
            "in_stock": {
                v.external_id: v.in_stock
                for v in session.scalars(select(Variant).where(Variant.shop_id == shop_id))
            },
            "orders": {
                o.external_id: (
                    o.name,
                    o.placed_at,
                    o.platform_updated_at,
                    o.cancelled_at,
                    o.shipping_method,
                    o.customer_email,
                    o.updated_at,
                )
                for o in session.scalars(select(Order).where(Order.shop_id == shop_id))
            },
            "lines": {
                lines[line.id]: (
                    variants.get(line.variant_id),
                    line.variant_external_id,
                    line.quantity,
                    line.fulfilled_quantity,
                    line.priority,
                    line.removed_at,
                    line.updated_at,
                )
                for line in session.scalars(select(OrderLine).where(OrderLine.shop_id == shop_id))
            },
            "co_purchases": sorted(
                (variants[p.variant_id], variants[p.other_variant_id], p.together, p.instead)
                for p in session.scalars(select(CoPurchase).where(CoPurchase.shop_id == shop_id))
            ),
            "features": {
                variants[f.variant_id]: {
                    k: v for k, v in f.features.items() if k not in ("product_id", "pool")
                }
                for f in session.scalars(
                    select(AlternativeFeatures).where(AlternativeFeatures.shop_id == shop_id)
                )
            },
        }


@pytest.fixture
def shops(runtime: Runtime) -> tuple[int, int]:
    return _shop(runtime, "one-by-one.myshopify.com"), _shop(runtime, "paged.myshopify.com")


def test_a_page_stored_at_once_equals_its_orders_stored_one_by_one(
    runtime: Runtime, shops: tuple[int, int]
) -> None:
    one_by_one, paged = shops
    assert _state(runtime, one_by_one) == _state(runtime, paged)  # the same start
    page = _page(runtime.clock.now())
    runtime.clock.advance(timedelta(minutes=1))

    def singly(session: Session) -> list[Any]:
        shop = _get(session, one_by_one)
        return [ingest_order(session, runtime.clock, shop, order) for order in page]

    def at_once(session: Session) -> Any:
        return ingest_orders(session, runtime.clock, _get(session, paged), page)

    results = execute(runtime, singly)
    stored = execute(runtime, at_once)

    assert [r.stale for r in results] == [i in stored.stale for i in range(len(page))]
    assert stored.stale == [7]  # the old copy of order 3
    assert sorted(map(repr, stored.events)) != []  # the page did re-plan
    single, batch = _state(runtime, one_by_one), _state(runtime, paged)
    for key in single:
        assert batch[key] == single[key], key
    # The page was made to exercise what the engine remembers; make sure it did.
    statuses = {b[3] for b in batch["backorders"].values()}
    assert {"waiting", "ready", "cancelled"} <= statuses
    assert any(len(changes) > 1 for changes in batch["eta_history"].values())
    assert batch["co_purchases"]


def test_the_same_page_again_changes_nothing(runtime: Runtime, shops: tuple[int, int]) -> None:
    _, paged = shops
    page = _page(runtime.clock.now())
    execute(runtime, lambda s: ingest_orders(s, runtime.clock, _get(s, paged), page))
    before = _state(runtime, paged)
    runtime.clock.advance(timedelta(minutes=1))
    again = execute(runtime, lambda s: ingest_orders(s, runtime.clock, _get(s, paged), page))
    assert again.events == []
    assert _state(runtime, paged) == before  # not even a row's updated_at moved


def test_lines_that_came_before_their_variant_join_it_when_the_catalogue_arrives(
    runtime: Runtime, shops: tuple[int, int]
) -> None:
    """A line of a variant we did not hold yet (the order's webhook beat the sync) is linked
    by the product page that brings the variant, and planned."""
    _, paged = shops
    page = _page(runtime.clock.now())
    execute(runtime, lambda s: ingest_orders(s, runtime.clock, _get(s, paged), page))
    assert _state(runtime, paged)["lines"]["14/14-x"][0] is None
    at = runtime.clock.now()
    product = StoreProduct(
        external_id="p-X",
        title="Tee X",
        updated_at=at,
        variants=(
            StoreVariant(
                external_id="X",
                sku="SKU-X",
                title="X",
                price=Decimal("9.90"),
                options={},
                inventory_policy="continue",
                updated_at=at,
                levels=(StoreInventoryLevel("X", "loc-1", 0, 0, at),),
            ),
        ),
    )
    stored, skipped, events = execute(
        runtime, lambda s: apply_products(s, runtime.clock, _get(s, paged), [product])
    )
    assert (stored, skipped) == (1, 0)
    state = _state(runtime, paged)
    assert state["lines"]["14/14-x"][0] == "X"
    assert state["backorders"]["14/14-x"][:4] == ("X", 1, 0, "waiting")
    assert any(e.name == "BackorderCreated" for e in events)
