"""Variants that sell from one stock count that stock once.

A WooCommerce variation with `manage_stock: "parent"` sells from its parent product's stock:
each such variation reports the parent's quantity, and the adapter names the parent as the
variant's stock (`inventory_item_external_id`). The engine plans the variants naming one stock
as one queue over one supply. Shopify gives every variant its own InventoryItem, so there each
variant stays a pool of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from adapters.base import StoreInventoryLevel
from connector.commands import execute
from connector.config import Settings
from connector.domain.allocation import OPEN, WAITING, BackorderState, VariantFacts, plan
from connector.domain.events import BackorderEvent
from connector.domain.pool import Reading, current_readings, pool_lead_time, pool_on_hand
from connector.domain.queue import Demand, cover, order_key, queue_key
from connector.models import Backorder, InventoryLevel, OrderLine, Product, Shop, Variant
from connector.runtime import Runtime
from connector.services.backorders import change_backorder, lock_variants, reconcile
from connector.services.shops import add_shop
from connector.services.stock import record_level
from connector.services.sync import run_sync_for
from sandbox.woocommerce.server import RunningWoo, start
from sandbox.woocommerce.store import WooStore
from tests.conftest import test_settings
from tests.engine_helpers import backorders, events, expect_stock, hours, ingest, snapshot
from tests.shops import add_sandbox_woocommerce, make_shop
from tests.test_engine_concurrency import _at_once as at_once
from tests.test_engine_properties import PURE, TODAY, variant_facts

PARENT = "500"  # the variable product whose stock its variations sell from
SIZES = {"S": "501", "M": "502", "L": "503"}  # variation ids


@dataclass
class PooledShop:
    shop_id: int
    variants: dict[str, int]  # external id → variant id


def pooled_shop(runtime: Runtime, domain: str = "https://linen-and-loom.example") -> PooledShop:
    """A WooCommerce shop: a linen apron in three sizes, all sold from the apron's own stock."""
    with runtime.db.transaction() as session:
        shop = add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform="woocommerce",
            domain=domain,
            credentials={"consumer_key": "ck_test", "consumer_secret": "cs_test"},
            timezone="America/Chicago",
        )
        apron = Product(shop_id=shop.id, external_id=PARENT, title="Linen apron")
        session.add(apron)
        session.flush()
        variants = {}
        for size, external_id in SIZES.items():
            variant = Variant(
                shop_id=shop.id,
                product_id=apron.id,
                external_id=external_id,
                inventory_item_external_id=PARENT,
                sku=f"APRON-{size}",
                title=size,
                price=Decimal("24.00"),
                inventory_policy="continue",
            )
            session.add(variant)
            session.flush()
            variants[external_id] = variant.id
        return PooledShop(shop.id, variants)


def pool_level(
    runtime: Runtime,
    shop_id: int,
    left: int,
    at: datetime,
    sizes: tuple[str, ...] = ("S", "M", "L"),
) -> None:
    """The parent's `stock_quantity` as each size reports it (what is left to sell)."""
    for size in sizes:
        level = StoreInventoryLevel(
            variant_external_id=SIZES[size],
            location_external_id="default",
            on_hand=None,
            available=left,
            updated_at=at,
        )
        execute(
            runtime,
            lambda s, lv=level: record_level(s, runtime.clock, s.get_one(Shop, shop_id), lv),
        )


def order(runtime: Runtime, order_id: str, size: str, qty: int, ago: float, **kw: Any) -> Any:
    placed = runtime.clock.now() - hours(ago)
    return snapshot(order_id, [(SIZES[size], qty)], placed_at=placed, updated_at=placed, **kw)


def waiting(runtime: Runtime, shop_id: int | None = None) -> dict[str, int]:
    """Lines still short (of one shop, or all), and by how many units."""
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(OrderLine.external_id, Backorder.quantity - Backorder.allocated_quantity).where(
                OrderLine.id == Backorder.order_line_id,
                Backorder.status == WAITING,
                true() if shop_id is None else Backorder.shop_id == shop_id,
            )
        )
        return {line: short for line, short in rows}


# ---------------------------------------------------------------------------------------------
# Through the database
# ---------------------------------------------------------------------------------------------


def test_three_sizes_sharing_five_units_leave_only_the_last_order_short(runtime: Runtime) -> None:
    shop = pooled_shop(runtime)
    for order_id, size, ago in (("1001", "S", 30), ("1002", "M", 20), ("1003", "L", 10)):
        ingest(runtime, shop.shop_id, order(runtime, order_id, size, 2, ago))
    # WooCommerce took all six units off the parent's five; every size now says -1.
    pool_level(runtime, shop.shop_id, -1, runtime.clock.now())
    assert waiting(runtime) == {"1003-503": 1}
    rows = backorders(runtime)
    assert all(row["status"] == "ready" for key, row in rows.items() if key != "1003-503")
    with runtime.db.transaction() as session:
        in_stock = session.scalars(select(Variant.in_stock).where(Variant.shop_id == shop.shop_id))
        assert set(in_stock) == {False}  # one stock: out for every size at once


def test_the_stock_level_may_arrive_before_the_orders_it_reflects(runtime: Runtime) -> None:
    shop = pooled_shop(runtime)
    pool_level(runtime, shop.shop_id, -1, runtime.clock.now())
    for order_id, size, ago in (("1003", "L", 10), ("1001", "S", 30), ("1002", "M", 20)):
        ingest(runtime, shop.shop_id, order(runtime, order_id, size, 2, ago))
    assert waiting(runtime) == {"1003-503": 1}


def test_a_restock_read_on_one_size_is_allocated_across_sizes_in_queue_order(
    runtime: Runtime,
) -> None:
    shop = pooled_shop(runtime)
    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).expedite_keywords = "express"
    now = runtime.clock.now()
    ingest(runtime, shop.shop_id, order(runtime, "1001", "M", 1, 40))
    ingest(runtime, shop.shop_id, order(runtime, "1002", "S", 2, 30))
    ingest(runtime, shop.shop_id, order(runtime, "1003", "L", 1, 20))
    ingest(runtime, shop.shop_id, order(runtime, "1004", "S", 1, 10, shipping="Express"))
    pool_level(runtime, shop.shop_id, -5, now)  # nothing was in stock
    assert set(waiting(runtime)) == {"1001-502", "1002-501", "1003-503", "1004-501"}

    # Three units arrive; the store's webhook for the large size reports the parent's -2.
    pool_level(runtime, shop.shop_id, -2, now + hours(1), sizes=("L",))
    rows = backorders(runtime)
    # The express order first, then by time: one stock, one queue, whatever the size.
    assert rows["1004-501"]["status"] == rows["1001-502"]["status"] == "ready"
    assert waiting(runtime) == {"1002-501": 1, "1003-503": 1}
    assert rows["1002-501"]["allocated"] == 1  # held for it, shipped when the second arrives
    ready = [p for name, p in events(runtime) if name == "BackorderReady"]
    assert [(p["line_id"], p["variant_id"]) for p in ready] == [
        (_line_id(runtime, "1004-501"), shop.variants["501"]),
        (_line_id(runtime, "1001-502"), shop.variants["502"]),
    ]


def _line_id(runtime: Runtime, external_id: str) -> int:
    with runtime.db.transaction() as session:
        backorder = session.get_one(Backorder, backorders(runtime)[external_id]["id"])
        return backorder.order_line_id


def test_a_merchants_priority_moves_a_line_ahead_of_other_sizes(runtime: Runtime) -> None:
    shop = pooled_shop(runtime)
    ingest(runtime, shop.shop_id, order(runtime, "1001", "S", 1, 30))
    ingest(runtime, shop.shop_id, order(runtime, "1002", "M", 1, 20))
    pool_level(runtime, shop.shop_id, -1, runtime.clock.now())  # one unit for two orders
    assert set(waiting(runtime)) == {"1002-502"}
    late = backorders(runtime)["1002-502"]["id"]
    execute(runtime, lambda s: change_backorder(s, runtime.clock, shop.shop_id, late, priority=1))
    assert set(waiting(runtime)) == {"1001-501"}
    assert backorders(runtime)["1002-502"]["status"] == "ready"


def test_simultaneous_orders_on_different_sizes_never_share_a_unit(runtime: Runtime) -> None:
    """Twelve workers at once, each ordering one unit of some size of a five-unit pool."""
    shop = pooled_shop(runtime)
    now = runtime.clock.now()
    for size in SIZES:
        level = StoreInventoryLevel(SIZES[size], "default", 5, 5, now - hours(100))
        execute(
            runtime,
            lambda s, lv=level: record_level(s, runtime.clock, s.get_one(Shop, shop.shop_id), lv),
        )
    sizes = list(SIZES) * 4
    orders = [order(runtime, str(2000 + i), sizes[i], 1, 50 - i) for i in range(12)]
    at_once([lambda o=o: ingest(runtime, shop.shop_id, o) for o in orders])
    # Five units for the pool, not five per size: the seven latest orders wait.
    assert sorted(waiting(runtime)) == sorted(f"{2000 + i}-{SIZES[sizes[i]]}" for i in range(5, 12))


def test_incoming_stock_for_any_size_is_the_pools_and_counts_once(runtime: Runtime) -> None:
    shop = pooled_shop(runtime)
    now = runtime.clock.now()
    for order_id, size, ago in (("1001", "M", 40), ("1002", "S", 30), ("1003", "L", 20)):
        ingest(runtime, shop.shop_id, order(runtime, order_id, size, 1, ago))
    pool_level(runtime, shop.shop_id, -3, now)
    expect_stock(runtime, shop.variants["503"], 2, date(2026, 12, 1), "PO-12")
    rows = backorders(runtime)
    # Two units for the pool (not two per size): the two oldest lines, whatever their size.
    assert rows["1001-502"]["eta_source"] == rows["1002-501"]["eta_source"] == "incoming:PO-12"
    assert rows["1001-502"]["eta"] == date(2026, 12, 2)  # + 1 handling day
    assert rows["1003-503"]["eta_source"] == "lead_time"


def test_sizes_go_out_of_stock_and_back_together(runtime: Runtime) -> None:
    shop = pooled_shop(runtime)
    now = runtime.clock.now()
    pool_level(runtime, shop.shop_id, 3, now - hours(50))
    ingest(runtime, shop.shop_id, order(runtime, "1001", "S", 2, 40))
    ingest(runtime, shop.shop_id, order(runtime, "1002", "M", 2, 30))
    pool_level(runtime, shop.shop_id, -1, now - hours(29))
    pool_level(runtime, shop.shop_id, 4, now, sizes=("S",))  # five arrive, read on one size
    flips = [(name, p["variant_id"]) for name, p in events(runtime) if name.startswith("Variant")]
    ids = sorted(shop.variants.values())
    assert flips == [
        *(("VariantOutOfStock", v) for v in ids),
        *(("VariantBackInStock", v) for v in ids),
    ]


def test_a_lead_time_set_on_one_size_is_the_pools(runtime: Runtime) -> None:
    shop = pooled_shop(runtime)
    ingest(runtime, shop.shop_id, order(runtime, "1001", "M", 1, 2))
    pool_level(runtime, shop.shop_id, -1, runtime.clock.now())
    # Placed 2026-11-26 (Chicago): the shop's 14 days and 1 handling day.
    assert backorders(runtime)["1001-502"]["eta"] == date(2026, 12, 11)
    with runtime.db.transaction() as session:
        session.get_one(Variant, shop.variants["501"]).lead_time_days = 7
    execute(runtime, lambda s: _replan(s, runtime, shop.variants["503"]))
    assert backorders(runtime)["1001-502"]["eta"] == date(2026, 12, 4)


def _replan(session: Session, runtime: Runtime, variant_id: int) -> None:
    reconcile(session, runtime.clock, [variant_id])


def test_locking_one_size_locks_the_pool_and_nothing_else(runtime: Runtime) -> None:
    shop = pooled_shop(runtime)
    other = pooled_shop(runtime, domain="https://another-store.example")  # also a parent "500"
    mug = make_shop(runtime, domain="mugs.myshopify.com", stock={"MUG": 1})
    with runtime.db.transaction() as session:
        locked = lock_variants(session, [shop.variants["502"], mug.variants["MUG"]])
    assert locked == sorted([*shop.variants.values(), mug.variants["MUG"]])
    assert not set(locked) & set(other.variants.values())


@pytest.mark.parametrize(
    "items",
    [
        ("gid://shopify/InventoryItem/42", "gid://shopify/InventoryItem/43"),  # Shopify
        (None, None),  # a store that names no stock: each variant keeps its own
    ],
)
def test_variants_with_stock_of_their_own_are_planned_alone(
    runtime: Runtime, items: tuple[str | None, str | None]
) -> None:
    shop = make_shop(runtime, stock={"SHOE-42": 0, "SHOE-43": 3})
    with runtime.db.transaction() as session:
        for sku, item in zip(("SHOE-42", "SHOE-43"), items, strict=True):
            session.get_one(Variant, shop.variants[sku]).inventory_item_external_id = item
    placed = runtime.clock.now() - hours(3)
    ingest(
        runtime,
        shop.shop_id,
        snapshot("1001", [("v1", 1), ("v2", 2)], placed_at=placed, updated_at=placed),
    )
    assert waiting(runtime) == {"1001-v1": 1}  # the other size's stock is not its own


# ---------------------------------------------------------------------------------------------
# The pure rules
# ---------------------------------------------------------------------------------------------

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_the_newest_reading_per_location_is_the_pools() -> None:
    readings = [
        Reading("default", None, 5, AT, row=1),
        Reading("default", None, 3, AT + timedelta(minutes=1), row=2),
        Reading("default", None, 4, AT, row=3),
        Reading("annex", 2, 2, None, row=4),
    ]
    assert sorted(r.row for r in current_readings(readings)) == [2, 4]
    # Five open units, three left to sell in one place, two counted in the other.
    assert pool_on_hand(readings, 5, tracked=True) == 3 + 5 + 2
    assert pool_on_hand(readings, 5, tracked=False) == 5
    tie = [Reading("default", 1, 1, AT, row=8), Reading("default", 7, 7, AT, row=9)]
    assert pool_on_hand(tie, 0, tracked=True) == 7


def test_the_pools_lead_time_is_the_longest_a_merchant_set() -> None:
    assert pool_lead_time([None, None], 14) == 14
    assert pool_lead_time([7, None, 21], 14) == 21


SIZE_IDS = (7, 8, 9)  # variant 7 is the one `variant_facts` plans; 8 and 9 share its stock


@st.composite
def pool_facts(draw: st.DrawFn) -> VariantFacts:
    """A pool of three sizes: random facts of one variant, its lines spread over the sizes."""
    facts = draw(variant_facts())
    lines = [replace(line, variant_id=draw(st.sampled_from(SIZE_IDS))) for line in facts.lines]
    was = st.none() | st.booleans()
    return replace(facts, lines=lines, shared_with={8: draw(was), 9: draw(was)})


def _alone(facts: VariantFacts) -> VariantFacts:
    """The same lines and supply as if they were all one variant's."""
    return replace(facts, lines=[replace(x, variant_id=None) for x in facts.lines], shared_with={})


@PURE
@given(facts=pool_facts())
def test_a_pool_is_planned_as_one_variant_with_all_its_lines(facts: VariantFacts) -> None:
    """Sharing stock changes only whose name an event carries: the same queue, the same
    shortfalls and promises, and each backorder event names its own line's variant."""
    pooled, alone = plan(facts, TODAY), plan(_alone(facts), TODAY)
    assert pooled.states == alone.states
    assert pooled.queue == alone.queue
    assert pooled.in_stock == alone.in_stock
    size_of = {x.demand.line_id: facts.variant_of(x) for x in facts.lines}
    lines_events = [e for e in pooled.events if isinstance(e, BackorderEvent)]
    assert all(e.variant_id == size_of[e.line_id] for e in lines_events)
    assert Counter(replace(e, variant_id=7) for e in lines_events) == Counter(
        e for e in alone.events if isinstance(e, BackorderEvent)
    )
    flipped = {e.variant_id for e in pooled.events if not isinstance(e, BackorderEvent)}
    was = {7: facts.was_in_stock, **facts.shared_with}
    assert flipped == {
        v for v, before in was.items() if before is not None and before != pooled.in_stock
    }


@PURE
@given(facts=pool_facts())
def test_a_pool_never_hands_out_more_than_its_supply(facts: VariantFacts) -> None:
    """Allocated ≤ supply over the whole pool, and the queue crosses sizes in queue order."""
    result = plan(facts, TODAY)
    by_id = {x.demand.line_id: x for x in facts.lines}
    queue = [by_id[line_id] for line_id in result.queue]
    assert [queue_key(x.demand) for x in queue] == sorted(queue_key(x.demand) for x in queue)
    covered = cover(facts.on_hand, [x.demand for x in queue])
    assert sum(covered) <= max(facts.on_hand, 0)
    after: list[BackorderState | None] = [
        result.states.get(x.demand.line_id, x.state) for x in facts.lines
    ]
    allocated = sum(s.allocated for s in after if s is not None and s.status in OPEN)
    assert allocated <= max(facts.on_hand, 0)


# ---------------------------------------------------------------------------------------------
# Through the database, at random
# ---------------------------------------------------------------------------------------------

THROUGH_DB = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ORDERS = st.lists(
    st.tuples(st.sampled_from(tuple(SIZES)), st.integers(1, 3), st.integers(1, 72)),
    min_size=1,
    max_size=8,
)


@THROUGH_DB
@given(start_stock=st.integers(0, 8), orders=ORDERS, data=st.data())
def test_pooled_orders_and_levels_in_any_order_count_the_stock_once(
    runtime: Runtime, start_stock: int, orders: list[tuple[str, int, int]], data: st.DataObject
) -> None:
    """Orders on any sizes and the parent's stock level read on some sizes, delivered in any
    order: the lines short are exactly those a single queue over the stock leaves short, and
    the units held never exceed the stock."""
    runtime.clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    shop = pooled_shop(runtime, domain=f"https://pool-{uuid4().hex}.example")
    now = runtime.clock.now()
    snapshots = [
        order(runtime, str(1000 + n), size, qty, ago) for n, (size, qty, ago) in enumerate(orders)
    ]
    left = start_stock - sum(qty for _, qty, _ in orders)
    read_on = data.draw(st.lists(st.sampled_from(tuple(SIZES)), min_size=1, unique=True))
    deliveries: list[Any] = [*snapshots, *(("level", size) for size in read_on)]
    for delivery in data.draw(st.permutations(deliveries)):
        if isinstance(delivery, tuple):
            pool_level(runtime, shop.shop_id, left, now, sizes=(delivery[1],))
        else:
            ingest(runtime, shop.shop_id, delivery)

    queue = sorted(snapshots, key=lambda o: (o.placed_at, o.external_id))
    got = cover(start_stock, [_demand(o) for o in queue])
    expected = {
        o.lines[0].external_id: o.lines[0].quantity - units
        for o, units in zip(queue, got, strict=True)
        if units < o.lines[0].quantity
    }
    assert waiting(runtime, shop.shop_id) == expected

    def held(session: Session) -> int:
        return session.scalar(
            select(func.coalesce(func.sum(Backorder.allocated_quantity), 0)).where(
                Backorder.shop_id == shop.shop_id, Backorder.status.in_(OPEN)
            )
        )

    with runtime.db.transaction() as session:
        assert held(session) <= start_stock
        levels = session.scalar(select(func.count()).where(InventoryLevel.shop_id == shop.shop_id))
        assert levels == len(read_on)  # stored per size, counted once


def _demand(snapshot_: Any) -> Demand:
    line = snapshot_.lines[0]
    return Demand(0, line.quantity, 0, snapshot_.placed_at, order_key(snapshot_.external_id))


# ---------------------------------------------------------------------------------------------
# End to end: the WooCommerce sandbox, the adapter, the sync, the engine
# ---------------------------------------------------------------------------------------------


@pytest.fixture(name="settings")
def sandbox_settings(database_url: str) -> Settings:
    """The sandbox store is on a private address, served over plain http."""
    return test_settings(database_url, ALLOW_PRIVATE_STORE_URLS=True)


@pytest.fixture
def woo(runtime: Runtime) -> Iterator[RunningWoo]:
    running = start(store=WooStore(clock=runtime.clock.now), variants=10, seed=5)
    yield running
    running.stop()


def test_a_parent_managed_variable_product_end_to_end(runtime: Runtime, woo: RunningWoo) -> None:
    store = woo.store
    apron = store.new_product(
        name="Linen apron",
        type="variable",
        manage_stock=True,
        stock_quantity=5,
        backorders="notify",
        attributes=[{"name": "Size", "options": ["S", "M", "L"], "variation": True}],
    )
    sizes = [
        store.new_variation(
            apron.id, regular_price="24.00", attributes=[{"name": "Size", "option": size}]
        )
        for size in ("S", "M", "L")
    ]
    shop_id = add_sandbox_woocommerce(runtime, woo)
    runtime.clock.advance(timedelta(minutes=5))
    run_sync_for(runtime, shop_id, full=True)
    with runtime.db.transaction() as session:
        items = session.execute(
            select(Variant.external_id, Variant.inventory_item_external_id).where(
                Variant.external_id.in_([str(v.id) for v in sizes])
            )
        ).all()
        assert {item for _, item in items} == {str(apron.id)}

    orders = []
    for size in sizes:
        runtime.clock.advance(timedelta(minutes=5))
        orders.append(store.place_order([(apron.id, size.id, 2)]))
    # As WooCommerce does: the variations sell from the parent's stock, which goes below 0.
    assert store.products[apron.id].stock_quantity == -1
    assert all(store.products[v.id].stock_quantity is None for v in sizes)
    runtime.clock.advance(timedelta(minutes=5))
    run_sync_for(runtime, shop_id)

    rows = backorders(runtime)
    short = {k: r["quantity"] - r["allocated"] for k, r in rows.items() if r["status"] == WAITING}
    last_line = store.orders[orders[-1]].line_items[0].id
    assert short == {str(last_line): 1}, rows

    store.restock(apron.id, 0, 1)
    runtime.clock.advance(timedelta(minutes=5))
    run_sync_for(runtime, shop_id)
    assert backorders(runtime)[str(last_line)]["status"] == "ready"
