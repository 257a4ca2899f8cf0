"""The quote says what the engine will do: each case places the quoted order and compares."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connector.models import Shop, Variant
from connector.runtime import Runtime
from connector.services.availability import Quote, quote
from connector.services.errors import Invalid, NotFound
from tests.catalogues import P, V, load_shop
from tests.engine_helpers import backorders, expect_stock, hours, ingest, snapshot
from tests.shops import ShopFixture, make_shop

# The clock stands at 2026-11-26 09:00 in Chicago; shops default to 14 lead + 1 handling days.
TODAY = date(2026, 11, 26)


@pytest.fixture
def shop(runtime: Runtime) -> ShopFixture:
    """A shoe (v1) with no stock, 5 of another size (v2), 2 jackets (v3); Chicago time."""
    return make_shop(runtime)


def _quote(runtime: Runtime, variant_id: int, quantity: int = 1) -> Quote:
    with runtime.db.transaction() as session:
        return quote(session, runtime.clock, variant_id, quantity)


def _place(
    runtime: Runtime, shop: ShopFixture, order_id: str, variant: str, qty: int, ago: float = 0
) -> None:
    placed = runtime.clock.now() - hours(ago)
    ingest(
        runtime,
        shop.shop_id,
        snapshot(order_id, [(variant, qty)], placed_at=placed, updated_at=placed),
    )


def _placed_gets(
    runtime: Runtime, shop: ShopFixture, variant: str, qty: int
) -> dict[str, Any] | None:
    """Place the order now through the engine; its backorder (None: it shipped from stock)."""
    _place(runtime, shop, "9999", variant, qty)
    return backorders(runtime).get(f"9999-{variant}")


def test_in_stock_ships_after_handling_and_makes_no_backorder(
    runtime: Runtime, shop: ShopFixture
) -> None:
    got = _quote(runtime, shop.variants["SHOE-43"], 2)  # 5 on hand
    assert (got.in_stock, got.available, got.waiting) == (True, 5, 0)
    assert (got.eta, got.eta_source) == (date(2026, 11, 27), "in_stock")
    assert got.alternatives == ()
    assert _placed_gets(runtime, shop, "v2", 2) is None
    assert _quote(runtime, shop.variants["SHOE-43"], 1).available == 3


def test_short_with_incoming_stock_gets_its_date(runtime: Runtime, shop: ShopFixture) -> None:
    expect_stock(runtime, shop.variants["SHOE-42"], 10, date(2026, 12, 5), "PO-77")
    got = _quote(runtime, shop.variants["SHOE-42"], 2)
    assert (got.in_stock, got.available, got.waiting) == (False, 0, 0)
    assert (got.eta, got.eta_source) == (date(2026, 12, 6), "incoming:PO-77")
    placed = _placed_gets(runtime, shop, "v1", 2)
    assert placed is not None
    assert (placed["eta"], placed["eta_source"]) == (got.eta, got.eta_source)


def test_short_with_only_a_lead_time(runtime: Runtime, shop: ShopFixture) -> None:
    got = _quote(runtime, shop.variants["JACKET-M"], 3)  # 2 on hand, nothing incoming
    assert (got.in_stock, got.available, got.waiting) == (False, 2, 0)
    assert (got.eta, got.eta_source) == (date(2026, 12, 11), "lead_time")  # +14 +1
    placed = _placed_gets(runtime, shop, "v3", 3)
    assert placed is not None and placed["quantity"] == 1
    assert (placed["eta"], placed["eta_source"]) == (got.eta, got.eta_source)


def test_a_queue_already_waiting_goes_first(runtime: Runtime, shop: ShopFixture) -> None:
    shoe = shop.variants["SHOE-42"]
    expect_stock(runtime, shoe, 5, date(2026, 12, 5), "PO-1")
    _place(runtime, shop, "1001", "v1", 2, ago=30)
    _place(runtime, shop, "1002", "v1", 2, ago=5)
    one = _quote(runtime, shoe, 1)  # 4 wait ahead; the 5th incoming unit is still free
    assert (one.in_stock, one.waiting, one.eta, one.eta_source) == (
        False,
        4,
        date(2026, 12, 6),
        "incoming:PO-1",
    )
    two = _quote(runtime, shoe, 2)  # one unit more than the incoming stock has left
    assert (two.waiting, two.eta, two.eta_source) == (4, date(2026, 12, 11), "lead_time")
    placed = _placed_gets(runtime, shop, "v1", 2)
    assert placed is not None
    assert (placed["eta"], placed["eta_source"]) == (two.eta, two.eta_source)
    # The lines ahead kept their promises: the quoted order went to the end of the queue.
    rows = backorders(runtime)
    assert rows["1001-v1"]["eta_source"] == rows["1002-v1"]["eta_source"] == "incoming:PO-1"


def test_on_hand_stock_covers_the_lines_ahead_first(runtime: Runtime, shop: ShopFixture) -> None:
    _place(runtime, shop, "1001", "v3", 3, ago=2)  # 2 jackets on hand: 1 unit waits
    got = _quote(runtime, shop.variants["JACKET-M"], 1)
    assert (got.in_stock, got.available, got.waiting, got.eta_source) == (False, 0, 1, "lead_time")
    placed = _placed_gets(runtime, shop, "v3", 1)
    assert placed is not None and (placed["eta"], placed["eta_source"]) == (got.eta, "lead_time")


def test_the_shops_handling_days_are_added(runtime: Runtime, shop: ShopFixture) -> None:
    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).handling_days = 4
    expect_stock(runtime, shop.variants["SHOE-42"], 10, date(2026, 12, 5), "PO-77")
    short = _quote(runtime, shop.variants["SHOE-42"], 1)
    assert short.eta == date(2026, 12, 9)
    assert _quote(runtime, shop.variants["SHOE-43"], 1).eta == date(2026, 11, 30)
    lead = _quote(runtime, shop.variants["JACKET-M"], 3)
    assert lead.eta == date(2026, 12, 14)  # 2026-11-26 + 14 + 4
    placed = _placed_gets(runtime, shop, "v1", 1)
    assert placed is not None and placed["eta"] == short.eta


def test_a_quote_changes_nothing(runtime: Runtime, shop: ShopFixture) -> None:
    _place(runtime, shop, "1001", "v1", 2, ago=3)
    before = backorders(runtime)
    _quote(runtime, shop.variants["SHOE-42"], 3)
    assert backorders(runtime) == before


def test_bad_quantity_and_unknown_variant(runtime: Runtime, shop: ShopFixture) -> None:
    with pytest.raises(Invalid):
        _quote(runtime, shop.variants["SHOE-42"], 0)
    with pytest.raises(NotFound):
        _quote(runtime, 987654, 1)


def test_variations_sharing_a_parents_stock_share_one_queue(runtime: Runtime) -> None:
    """WooCommerce variations whose parent manages stock: a quote for one counts the other's."""
    shared = P(
        "Wool Socks",
        "Socks",
        "Northwind",
        ("wool",),
        [
            V("SOCKS-S", {"Size": "S"}, "12.00", 3, pool="parent-9"),
            V("SOCKS-M", {"Size": "M"}, "12.00", 3, pool="parent-9"),
        ],
    )
    shop = load_shop(runtime, "Northwind Trail", "northwind-trail.myshopify.com", [shared])
    placed = runtime.clock.now() - hours(1)
    order = snapshot("2001", [("SOCKS-S", 5)], placed_at=placed, updated_at=placed)
    ingest(runtime, shop.shop_id, order)  # 3 in the pool: 2 pairs of S wait
    got = _quote(runtime, shop.variants["SOCKS-M"], 1)
    assert (got.in_stock, got.available, got.waiting, got.eta_source) == (False, 0, 2, "lead_time")
    _place(runtime, shop, "2002", "SOCKS-M", 1)
    placed_m = backorders(runtime)["2002-SOCKS-M"]
    assert (placed_m["eta"], placed_m["eta_source"]) == (got.eta, got.eta_source)


def test_untracked_stock_covers_any_order(runtime: Runtime, shop: ShopFixture) -> None:
    with runtime.db.transaction() as session:
        session.get_one(Variant, shop.variants["SHOE-42"]).track_inventory = False
    _place(runtime, shop, "3001", "v1", 4, ago=1)
    got = _quote(runtime, shop.variants["SHOE-42"], 50)
    assert (got.in_stock, got.waiting, got.eta_source) == (True, 0, "in_stock")
    assert got.available >= 50
    assert _placed_gets(runtime, shop, "v1", 50) is None
