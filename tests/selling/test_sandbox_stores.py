"""Selling on backorder against the sandbox stores, through the served API and the stores' own
webhooks: incoming stock switches a variant to selling when out of stock; orders placed in the
store up to the cap switch it back, and the store then refuses the next one; a merchant's
manual change is left alone and flagged until handed back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connector.clock import shop_today
from connector.demo import Stack, install_shops, wait_for_first_sync
from connector.models import Backorder, Product, Shop, Variant
from tests.conftest import ADMIN_TOKEN
from tests.processes import wait_for

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
WAIT = 60  # opting in re-decides the whole catalogue: a few hundred store writes first


def _api(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    answer = requests.request(
        method, f"{stack.app_url}/api/v1{path}", json=body, headers=ADMIN, timeout=10
    )
    assert answer.status_code < 300, answer.text
    return answer.json()


def _opt_in(stack: Stack, shop_id: int) -> None:
    """A lead time beyond the 30-day promise: only incoming stock can give a date."""
    with stack.runtime.db.transaction() as session:
        session.get_one(Shop, shop_id).lead_time_days = 60
    shop = _api(stack, "PATCH", f"/shops/{shop_id}", {"sell_on_backorder": True})
    assert (shop["sell_on_backorder"], shop["max_promise_days"], shop["backorder_cap"]) == (
        True,
        30,
        None,
    )


def _quiet_variant(stack: Stack, shop_id: int, **where: Any) -> tuple[Variant, str]:
    """A tracked variant that sells only from stock and has nothing waiting; its product id."""
    with stack.runtime.db.transaction() as session:
        waiting = select(Backorder.variant_id).where(Backorder.shop_id == shop_id)
        variant = session.scalars(
            select(Variant)
            .where(
                Variant.shop_id == shop_id,
                Variant.track_inventory.is_(True),
                Variant.inventory_policy == "deny",
                Variant.id.not_in(waiting),
                *(getattr(Variant, k) == v for k, v in where.items()),
            )
            .order_by(Variant.id)
        ).first()
        assert variant is not None, "the seed has no quiet tracked variant"
        product = session.get_one(Product, variant.product_id).external_id
        session.expunge(variant)
        return variant, product


def _incoming(stack: Stack, shop_id: int, variant_id: int, quantity: int, days: int) -> None:
    today = shop_today(stack.runtime.clock, "UTC")
    body = {
        "variant_id": variant_id,
        "quantity": quantity,
        "expected_on": (today + timedelta(days=days)).isoformat(),
        "reference": f"PO-{variant_id}-{days}",
        "shop_id": shop_id,
    }
    _api(stack, "POST", "/incoming", body)


def _selling(stack: Stack, variant_id: int) -> dict[str, Any]:
    return _api(stack, "GET", f"/variants/{variant_id}")["selling_on_backorder"]


@pytest.fixture
def shops(stack: Stack) -> Any:
    installed, _ = install_shops(stack)
    for shop_id in (installed.shopify_id, installed.woocommerce_id):
        wait_for_first_sync(stack.runtime, shop_id)
    return installed


def test_shopify_sells_on_backorder_until_the_cap(stack: Stack, shops: Any) -> None:
    from sandbox.shopify.errors import OutOfStock

    store = stack.sandboxes.shopify.store
    _opt_in(stack, shops.shopify_id)
    variant, product_gid = _quiet_variant(stack, shops.shopify_id)
    record = store.get(variant.external_id)
    policy = lambda: store.get(variant.external_id).inventoryPolicy  # noqa: E731
    assert policy() == "DENY"

    _incoming(stack, shops.shopify_id, variant.id, 3, days=10)
    wait_for(lambda: policy() == "CONTINUE", WAIT, "the variant to sell on backorder")
    assert "incoming stock" in _selling(stack, variant.id)["reason"]

    # Customers buy the stock and three more: the incoming quantity, the cap.
    store.place_order([(variant.external_id, store.available(record) + 3)])
    wait_for(lambda: policy() == "DENY", WAIT, "the cap to stop selling")
    # The store has it a moment before the app has recorded its write; a merchant acts later.
    recorded = lambda: _selling(stack, variant.id)["policy_by_app"] == "deny"  # noqa: E731
    wait_for(recorded, WAIT, "the app to record its write")
    assert "3 units already wait, the cap is 3" in _selling(stack, variant.id)["reason"]
    with pytest.raises(OutOfStock):
        store.place_order([(variant.external_id, 1)])

    # The merchant switches it on by hand: the app leaves it so and flags it.
    store.update_variants(product_gid, [{"id": variant.external_id, "inventoryPolicy": "CONTINUE"}])
    wait_for(lambda: _synced_policy(stack, variant.id) == "continue", WAIT, "products/update")
    _incoming(stack, shops.shopify_id, variant.id, 1, days=12)  # something to re-decide on
    wait_for(lambda: _selling(stack, variant.id)["override"], WAIT, "the override to be flagged")
    assert policy() == "CONTINUE"

    # Handed back: the rules decide again (3 wait, 4 incoming: it may sell, as the store says),
    # and the next order that reaches the cap switches it off again.
    out = _api(stack, "PATCH", f"/variants/{variant.id}", {"policy_override": False})
    assert out["selling_on_backorder"]["override"] is False
    managed = lambda: _selling(stack, variant.id)["policy_by_app"] == "continue"  # noqa: E731
    wait_for(managed, WAIT, "the app to take the variant back")
    store.place_order([(variant.external_id, 1)])
    wait_for(lambda: policy() == "DENY", WAIT, "the cap to stop selling again")
    assert _selling(stack, variant.id)["override"] is False


def test_woocommerce_sells_on_backorder_until_the_cap(stack: Stack, shops: Any) -> None:
    store = stack.sandboxes.woocommerce.store
    _opt_in(stack, shops.woocommerce_id)
    simple = {
        str(p.id)
        for p in store.products.values()
        if p.type == "simple" and p.manage_stock and (p.stock_quantity or 0) >= 0
    }
    candidates = _candidates(stack, shops.woocommerce_id, simple)
    variant_id, external_id = candidates[0]
    product = store.products[int(external_id)]
    wait_for(lambda: product.backorders == "no", WAIT, "opting in to settle")

    _incoming(stack, shops.woocommerce_id, variant_id, 2, days=7)
    wait_for(lambda: product.backorders == "notify", WAIT, "the product to take backorders")
    assert store.products[product.id].backorders == "notify"

    store.place_order([(product.id, 0, (product.stock_quantity or 0) + 2)])
    wait_for(lambda: product.backorders == "no", WAIT, "the cap to stop backorders")
    assert "2 units already wait, the cap is 2" in _selling(stack, variant_id)["reason"]
    with pytest.raises(Exception, match="stock"):
        store.place_order([(product.id, 0, 1)])


def _candidates(stack: Stack, shop_id: int, external_ids: set[str]) -> list[tuple[int, str]]:
    with stack.runtime.db.transaction() as session:
        waiting = select(Backorder.variant_id).where(Backorder.shop_id == shop_id)
        rows = session.execute(
            select(Variant.id, Variant.external_id)
            .where(
                Variant.shop_id == shop_id,
                Variant.track_inventory.is_(True),
                Variant.id.not_in(waiting),
                Variant.external_id.in_(sorted(external_ids)),
            )
            .order_by(Variant.id)
        ).all()
    assert rows, "the seed has no quiet simple product with managed stock"
    return [(row[0], row[1]) for row in rows]


def _synced_policy(stack: Stack, variant_id: int) -> str:
    with stack.runtime.db.transaction() as session:
        return session.get_one(Variant, variant_id).inventory_policy
