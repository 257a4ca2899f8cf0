"""The engine through the database, driven as webhooks and syncs drive it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from connector.commands import execute
from connector.models import DomainEvent, EtaChange, Shop
from connector.runtime import Runtime
from connector.services.backorders import change_backorder, recompute_shop
from connector.services.errors import Conflict, Invalid
from connector.services.stock import receive_incoming
from tests.engine_helpers import (
    backorders,
    events,
    expect_stock,
    hours,
    ingest,
    snapshot,
    stock,
)
from tests.shops import ShopFixture, make_shop


@pytest.fixture
def shop(runtime: Runtime) -> ShopFixture:
    """A shoe (v1) with no stock, 5 of another size (v2), 2 jackets (v3); Chicago time."""
    return make_shop(runtime)


def _order(
    runtime: Runtime, order_id: str, variant: str, qty: int, placed_hours_ago: float, **kwargs
):  # type: ignore[no-untyped-def]
    now = runtime.clock.now()
    return snapshot(
        order_id,
        [(variant, qty)],
        placed_at=now - hours(placed_hours_ago),
        updated_at=kwargs.pop("updated_at", now - hours(placed_hours_ago)),
        **kwargs,
    )


def test_an_order_beyond_stock_becomes_a_backorder_with_a_promise(
    runtime: Runtime, shop: ShopFixture
) -> None:
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v3", 3, 2))  # 2 jackets on hand
    (row,) = backorders(runtime).values()
    assert (row["quantity"], row["status"], row["eta_source"]) == (1, "waiting", "lead_time")
    # Placed 2026-11-26 (Chicago) + 14 days lead time + 1 handling day.
    assert row["eta"] == date(2026, 12, 11) == row["first_promised_eta"]
    names = [name for name, _ in events(runtime)]
    assert "BackorderCreated" in names


def test_the_same_order_twice_or_updated_changes_nothing(
    runtime: Runtime, shop: ShopFixture
) -> None:
    order = _order(runtime, "1001", "v1", 2, 2)
    ingest(runtime, shop.shop_id, order)
    before, seen = backorders(runtime), len(events(runtime))
    ingest(runtime, shop.shop_id, order)
    later = _order(runtime, "1001", "v1", 2, 2, updated_at=runtime.clock.now())
    ingest(runtime, shop.shop_id, later)  # an update that touched nothing we track
    assert backorders(runtime) == before
    assert len(events(runtime)) == seen


def test_only_an_update_of_what_the_queue_reads_replans_the_order(
    runtime: Runtime, shop: ShopFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every write of ours comes back as an orders/updated echo: those must not re-plan (a
    1,000-order restock's echoes re-planning took half of its time), while each change of a
    fact the queue reads still does."""
    import connector.services.orders as orders

    planned: list[int] = []
    real = orders.reconcile_pools

    def counted(session, clock, pools):  # type: ignore[no-untyped-def]
        planned.append(len(pools))
        return real(session, clock, pools)

    monkeypatch.setattr(orders, "reconcile_pools", counted)
    now = runtime.clock.now()
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 2, 2))
    assert planned == [1]
    echo = _order(runtime, "1001", "v1", 2, 2, updated_at=now)
    ingest(runtime, shop.shop_id, replace(echo, financial_status="paid"))
    assert planned == [1]
    changes = [
        _order(runtime, "1001", "v1", 3, 2, updated_at=now + hours(1)),  # quantity
        _order(runtime, "1001", "v1", 3, 2, updated_at=now + hours(2), shipping="Express"),
        _order(runtime, "1001", "v1", 3, 2, updated_at=now + hours(3), refunded={"v1": 1}),
        _order(runtime, "1001", "v1", 3, 2, updated_at=now + hours(4), cancelled_at=now),
    ]
    for number, change in enumerate(changes, start=2):
        ingest(runtime, shop.shop_id, change)
        assert len(planned) == number
    assert backorders(runtime)["1001-v1"]["status"] == "cancelled"


def test_a_stale_snapshot_does_not_overwrite_newer_state(
    runtime: Runtime, shop: ShopFixture
) -> None:
    now = runtime.clock.now()
    ingest(
        runtime, shop.shop_id, _order(runtime, "1001", "v1", 1, 5, updated_at=now, cancelled_at=now)
    )
    stale = _order(runtime, "1001", "v1", 1, 5, updated_at=now - hours(1))
    assert ingest(runtime, shop.shop_id, stale).stale is True
    assert backorders(runtime) == {}  # the cancellation stands


def test_stock_level_before_the_order_it_reflects_gives_the_same_result(
    runtime: Runtime,
) -> None:
    """Webhooks out of order: the end state depends only on the facts, not their arrival."""
    results = []
    for domain, stock_first in (("a.myshopify.com", True), ("b.myshopify.com", False)):
        shop = make_shop(runtime, domain=domain, stock={"SHOE": 1})
        order = _order(runtime, f"{domain[0]}1", "v1", 3, 1)
        level_at = runtime.clock.now() + hours(1)
        if stock_first:
            stock(runtime, shop.shop_id, "v1", 1, level_at)
        ingest(runtime, shop.shop_id, order)
        if not stock_first:
            stock(runtime, shop.shop_id, "v1", 1, level_at)
        row = next(r for ext, r in backorders(runtime).items() if ext.startswith(domain[0]))
        results.append((row["quantity"], row["status"], row["eta"], row["eta_source"]))
    assert results[0] == results[1] == (2, "waiting", date(2026, 12, 11), "lead_time")


def test_restock_allocates_in_queue_order(runtime: Runtime, shop: ShopFixture) -> None:
    for order_id, qty, ago in (("1001", 2, 30), ("1002", 1, 20), ("1003", 1, 10)):
        ingest(runtime, shop.shop_id, _order(runtime, order_id, "v1", qty, ago))
    stock(runtime, shop.shop_id, "v1", 3, runtime.clock.now() + hours(1))
    rows = backorders(runtime)
    assert {k: v["status"] for k, v in rows.items()} == {
        "1001-v1": "ready",
        "1002-v1": "ready",
        "1003-v1": "waiting",
    }
    ready_events = [p for name, p in events(runtime) if name == "BackorderReady"]
    assert [p["backorder_id"] for p in ready_events] == [
        rows["1001-v1"]["id"],
        rows["1002-v1"]["id"],
    ]


def test_cancellation_moves_the_next_line_up(runtime: Runtime, shop: ShopFixture) -> None:
    now = runtime.clock.now()
    stock(runtime, shop.shop_id, "v1", 1, now - hours(100))
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 1, 30))  # takes the one unit
    ingest(runtime, shop.shop_id, _order(runtime, "1002", "v1", 1, 20))
    assert backorders(runtime)["1002-v1"]["status"] == "waiting"
    ingest(
        runtime,
        shop.shop_id,
        _order(runtime, "1001", "v1", 1, 30, updated_at=now, cancelled_at=now),
    )
    assert backorders(runtime)["1002-v1"]["status"] == "ready"


def test_refund_cancels_and_fulfilment_fulfils(runtime: Runtime, shop: ShopFixture) -> None:
    now = runtime.clock.now()
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 1, 30))
    ingest(runtime, shop.shop_id, _order(runtime, "1002", "v1", 1, 20))
    ingest(
        runtime,
        shop.shop_id,
        _order(runtime, "1001", "v1", 1, 30, updated_at=now, refunded={"v1": 1}),
    )
    stock(runtime, shop.shop_id, "v1", 1, now)
    ingest(
        runtime,
        shop.shop_id,
        _order(runtime, "1002", "v1", 1, 20, updated_at=now, fulfilled={"v1": 1}),
    )
    rows = backorders(runtime)
    assert rows["1001-v1"]["status"] == "cancelled"
    assert rows["1002-v1"]["status"] == "fulfilled"
    cancelled = [p for name, p in events(runtime) if name == "BackorderCancelled"]
    assert [p["reason"] for p in cancelled] == ["refunded"]


def test_order_edits_keep_the_ledger_right(runtime: Runtime, shop: ShopFixture) -> None:
    now = runtime.clock.now()
    placed = now - hours(5)
    ingest(
        runtime,
        shop.shop_id,
        snapshot("1001", [("v1", 3), ("v3", 4)], placed_at=placed, updated_at=placed),
    )
    rows = backorders(runtime)
    assert (rows["1001-v1"]["quantity"], rows["1001-v3"]["quantity"]) == (3, 2)
    edited = snapshot("1001", [("v1", 1)], placed_at=placed, updated_at=now)  # v3 removed
    ingest(runtime, shop.shop_id, edited)
    rows = backorders(runtime)
    assert rows["1001-v1"]["quantity"] == 1 and rows["1001-v1"]["status"] == "waiting"
    assert rows["1001-v3"]["status"] == "cancelled"
    reasons = [p["reason"] for name, p in events(runtime) if name == "BackorderCancelled"]
    assert reasons == ["removed"]


def test_incoming_stock_gives_dates_and_receiving_it_moves_them(
    runtime: Runtime, shop: ShopFixture
) -> None:
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 2, 3))
    incoming = expect_stock(runtime, shop.variants["SHOE-42"], 1, date(2026, 12, 1), "PO-7")
    row = backorders(runtime)["1001-v1"]
    # One unit from PO-7 does not cover a line short by two: the rest waits for lead time.
    assert (row["eta"], row["eta_source"]) == (date(2026, 12, 11), "lead_time")
    expect_stock(runtime, shop.variants["SHOE-42"], 5, date(2026, 12, 3), "PO-8")
    row = backorders(runtime)["1001-v1"]
    assert (row["eta"], row["eta_source"]) == (date(2026, 12, 4), "incoming:PO-8")
    execute(runtime, lambda s: receive_incoming(s, runtime.clock, shop.shop_id, incoming.id))
    with runtime.db.transaction() as session:
        history = session.scalar(select(func.count()).select_from(EtaChange))
    assert history == 2  # created, then moved to PO-8; receiving PO-7 changed no date


def test_late_incoming_revises_the_date_after_the_grace_days(
    runtime: Runtime, shop: ShopFixture
) -> None:
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 1, 3))
    expect_stock(runtime, shop.variants["SHOE-42"], 3, date(2026, 11, 28), "PO-9")
    assert backorders(runtime)["1001-v1"]["eta_source"] == "incoming:PO-9"
    runtime.clock.advance(timedelta(days=5))  # Dec 1: late by 3 days, the grace is 3
    execute(runtime, lambda s: recompute_shop(s, runtime.clock, shop.shop_id))
    assert backorders(runtime)["1001-v1"]["eta_source"] == "incoming:PO-9"
    runtime.clock.advance(timedelta(days=1))
    execute(runtime, lambda s: recompute_shop(s, runtime.clock, shop.shop_id))
    row = backorders(runtime)["1001-v1"]
    assert row["eta_source"] == "lead_time"
    assert row["eta"] == date(2026, 12, 11)
    assert row["first_promised_eta"] == date(2026, 12, 11)  # what the customer was first told
    changes = [p for name, p in events(runtime) if name == "EtaChanged"]
    assert changes[-1]["old_source"] == "incoming:PO-9"


def test_manual_eta_and_priority(runtime: Runtime, shop: ShopFixture) -> None:
    for order_id, ago in (("1001", 30), ("1002", 20)):
        ingest(runtime, shop.shop_id, _order(runtime, order_id, "v1", 1, ago))
    rows = backorders(runtime)
    execute(
        runtime,
        lambda s: change_backorder(
            s, runtime.clock, shop.shop_id, rows["1001-v1"]["id"], manual_eta=date(2026, 12, 2)
        ),
    )
    assert backorders(runtime)["1001-v1"]["eta_source"] == "manual"
    execute(
        runtime,
        lambda s: change_backorder(
            s, runtime.clock, shop.shop_id, rows["1002-v1"]["id"], priority=2
        ),
    )
    stock(runtime, shop.shop_id, "v1", 1, runtime.clock.now())
    rows = backorders(runtime)
    assert rows["1002-v1"]["status"] == "ready" and rows["1002-v1"]["priority"] == 2
    assert rows["1001-v1"]["status"] == "waiting"
    with pytest.raises(Invalid):
        execute(
            runtime,
            lambda s: change_backorder(
                s, runtime.clock, shop.shop_id, rows["1001-v1"]["id"], manual_eta=date(2026, 1, 1)
            ),
        )


def test_closed_backorders_do_not_change(runtime: Runtime, shop: ShopFixture) -> None:
    now = runtime.clock.now()
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 1, 3))
    ingest(
        runtime, shop.shop_id, _order(runtime, "1001", "v1", 1, 3, updated_at=now, cancelled_at=now)
    )
    row = backorders(runtime)["1001-v1"]
    with pytest.raises(Conflict, match="cancelled"):
        execute(
            runtime,
            lambda s: change_backorder(s, runtime.clock, shop.shop_id, row["id"], priority=1),
        )


def test_expedited_shipping_raises_the_tier_where_the_shop_says_so(
    runtime: Runtime, shop: ShopFixture
) -> None:
    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).expedite_keywords = "express, overnight"
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 1, 30))
    ingest(runtime, shop.shop_id, _order(runtime, "1002", "v1", 1, 2, shipping="UPS Express"))
    stock(runtime, shop.shop_id, "v1", 1, runtime.clock.now())
    rows = backorders(runtime)
    assert rows["1002-v1"]["priority"] == 1 and rows["1002-v1"]["status"] == "ready"
    assert rows["1001-v1"]["status"] == "waiting"


def test_stock_transitions_raise_variant_events(runtime: Runtime, shop: ShopFixture) -> None:
    now = runtime.clock.now()
    stock(runtime, shop.shop_id, "v2", 5, now - hours(10))
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v2", 5, 3))
    stock(runtime, shop.shop_id, "v2", 8, now)
    names = [name for name, p in events(runtime) if name.startswith("Variant")]
    assert names == ["VariantOutOfStock", "VariantBackInStock"]


def test_events_are_recorded_in_the_same_transaction_and_dispatched(
    runtime: Runtime, shop: ShopFixture
) -> None:
    seen: list[str] = []
    runtime.bus.subscribe("BackorderCreated", lambda event: seen.append(event.name))
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 1, 3))
    assert seen == ["BackorderCreated"]
    with runtime.db.transaction() as session:
        pending = session.scalar(
            select(func.count()).select_from(DomainEvent).where(DomainEvent.dispatched_at.is_(None))
        )
    assert pending == 0
    assert runtime.bus.dispatch_pending(runtime.db) == 0  # nothing is handed over twice


def test_a_failed_command_leaves_no_events_and_no_rows(runtime: Runtime, shop: ShopFixture) -> None:
    from connector.services.orders import ingest_order

    def explode(session):  # type: ignore[no-untyped-def]
        ingest_order(
            session,
            runtime.clock,
            session.get_one(Shop, shop.shop_id),
            _order(runtime, "1001", "v1", 1, 3),
        )
        raise RuntimeError("worker crashed mid-command")

    with pytest.raises(RuntimeError):
        execute(runtime, explode)
    assert backorders(runtime) == {} and events(runtime) == []
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 1, 3))  # the job runs again
    assert len(backorders(runtime)) == 1


def test_the_scheduler_revises_lapsed_promises_every_hour(
    runtime: Runtime, shop: ShopFixture
) -> None:
    from connector import scheduler

    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 1, 3))
    expect_stock(runtime, shop.variants["SHOE-42"], 1, date(2026, 11, 27), "PO-3")
    runtime.clock.advance(timedelta(days=5))
    assert scheduler.recompute_all(runtime) > 0
    assert backorders(runtime)["1001-v1"]["eta_source"] == "lead_time"
    assert scheduler.recompute_all(runtime) == 0  # nothing more to revise
    background = scheduler.start(runtime)
    try:
        job = background.get_job("recompute")
        assert job.trigger.interval == timedelta(hours=1)
    finally:
        background.shutdown(wait=True)


def test_replanning_a_prioritised_line_writes_nothing(runtime: Runtime, shop: ShopFixture) -> None:
    from connector.models import Backorder
    from connector.services.backorders import reconcile

    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 1, 3))
    row = backorders(runtime)["1001-v1"]
    execute(
        runtime, lambda s: change_backorder(s, runtime.clock, shop.shop_id, row["id"], priority=2)
    )
    with runtime.db.transaction() as session:
        stamped = session.get_one(Backorder, row["id"]).updated_at
    runtime.clock.advance(timedelta(minutes=5))
    assert execute(runtime, lambda s: reconcile(s, runtime.clock, [shop.variants["SHOE-42"]])) == []
    with runtime.db.transaction() as session:
        assert session.get_one(Backorder, row["id"]).updated_at == stamped


def test_an_edit_that_swaps_the_variant_moves_the_backorder(
    runtime: Runtime, shop: ShopFixture
) -> None:
    now = runtime.clock.now()
    placed = now - hours(5)
    ingest(
        runtime, shop.shop_id, snapshot("1001", [("v1", 1)], placed_at=placed, updated_at=placed)
    )
    swapped = snapshot("1001", [("v1", 1)], placed_at=placed, updated_at=now)
    line = swapped.lines[0]
    swapped = replace(swapped, lines=(replace(line, variant_external_id="v3", quantity=3),))
    ingest(runtime, shop.shop_id, swapped)  # the jacket: 2 on hand, 3 ordered
    row = backorders(runtime)["1001-v1"]
    with runtime.db.transaction() as session:
        from connector.models import Backorder

        moved = session.get_one(Backorder, row["id"])
        assert moved.variant_id == shop.variants["JACKET-M"]
    assert (row["quantity"], row["status"]) == (1, "waiting")


def test_a_store_that_reports_only_what_is_left_to_sell(
    runtime: Runtime, shop: ShopFixture
) -> None:
    """WooCommerce's stock_quantity already lost the open orders' units: add them back."""
    from adapters.base import StoreInventoryLevel
    from connector.services.stock import record_level

    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 3, 5))
    level = StoreInventoryLevel(
        variant_external_id="v1",
        location_external_id="1",
        on_hand=None,
        available=-1,
        updated_at=runtime.clock.now(),
    )
    execute(runtime, lambda s: record_level(s, runtime.clock, s.get_one(Shop, shop.shop_id), level))
    row = backorders(runtime)["1001-v1"]
    # Two units were on hand before the order of three: one short.
    assert (row["quantity"] - row["allocated"], row["status"]) == (1, "waiting")


def test_derived_on_hand_holds_whichever_arrives_first(runtime: Runtime) -> None:
    """The stock level that already reflects an order may come before the order itself."""
    from adapters.base import StoreInventoryLevel
    from connector.services.stock import record_level

    shop = make_shop(runtime, domain="woo-like.myshopify.com", stock={"MUG": 0})
    level = StoreInventoryLevel(
        variant_external_id="v1",
        location_external_id="default",
        on_hand=None,
        available=-1,
        updated_at=runtime.clock.now(),
    )
    execute(runtime, lambda s: record_level(s, runtime.clock, s.get_one(Shop, shop.shop_id), level))
    assert backorders(runtime) == {}
    ingest(runtime, shop.shop_id, _order(runtime, "1001", "v1", 3, 5))
    row = backorders(runtime)["1001-v1"]
    assert (row["quantity"] - row["allocated"], row["status"]) == (1, "waiting")
