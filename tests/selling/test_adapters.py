"""`set_inventory_policy` on both platforms' adapters against the sandbox stores: the store then
sells (or refuses) beyond its stock, and a WooCommerce variation whose parent manages its
stock is switched on the parent, where WooCommerce reads the setting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.shopify.errors import OutOfStock
from sandbox.shopify.server import RunningShopify
from sandbox.shopify.server import start as start_shopify
from sandbox.woocommerce.server import RunningWoo
from sandbox.woocommerce.server import start as start_woo
from tests.adapters.test_shopify_adapter import Sleeper
from tests.adapters.test_shopify_adapter import adapter_for as shopify_adapter
from tests.adapters.test_woocommerce_adapter import Sleeps
from tests.adapters.test_woocommerce_adapter import make as woo_adapter


@pytest.fixture(scope="module")
def shopify() -> Iterator[RunningShopify]:
    running = start_shopify(variants=20, seed=5, restore_rate=5000)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def woo() -> Iterator[RunningWoo]:
    running = start_woo(variants=60, seed=3)
    yield running
    running.stop()


def test_shopify_policy_switches_what_the_store_sells(shopify: RunningShopify) -> None:
    store = shopify.store
    variant = next(
        v for v in store.variants.values() if v.inventoryPolicy == "DENY" and store.available(v) > 0
    )
    product = store.products[variant.product_number]
    adapter = shopify_adapter(shopify, Sleeper())
    beyond = store.available(variant) + 2
    with pytest.raises(OutOfStock):
        store.place_order([(variant.id, beyond)])

    adapter.set_inventory_policy(product.id, variant.id, "continue")
    assert variant.inventoryPolicy == "CONTINUE"
    store.place_order([(variant.id, beyond)])  # oversold: a backorder
    assert store.available(variant) == -2

    adapter.set_inventory_policy(product.id, variant.id, "deny")
    assert variant.inventoryPolicy == "DENY"
    with pytest.raises(OutOfStock):
        store.place_order([(variant.id, 1)])


def test_shopify_refuses_a_variant_of_another_product(shopify: RunningShopify) -> None:
    from adapters.base import StoreError

    store = shopify.store
    products = list(store.products.values())
    variant = store.variants[products[0].variant_numbers[0]]
    with pytest.raises(StoreError, match="does not exist"):
        shopify_adapter(shopify, Sleeper()).set_inventory_policy(
            products[1].id, variant.id, "continue"
        )


def test_woocommerce_backorders_follow_the_policy(woo: RunningWoo) -> None:
    store = woo.store
    simple = next(p for p in store.products.values() if p.type == "simple" and p.manage_stock)
    adapter = woo_adapter(woo, Sleeps())
    adapter.set_inventory_policy(str(simple.id), str(simple.id), "continue")
    read = adapter.client.get(f"products/{simple.id}")
    assert (read["backorders"], read["backorders_allowed"]) == ("notify", True)
    adapter.set_inventory_policy(str(simple.id), str(simple.id), "deny")
    read = adapter.client.get(f"products/{simple.id}")
    assert (read["backorders"], read["backorders_allowed"]) == ("no", False)


def test_woocommerce_variation_sharing_its_parents_stock_switches_the_parent(
    woo: RunningWoo,
) -> None:
    store = woo.store
    parent = next(
        p
        for p in store.products.values()
        if p.type == "variable" and p.manage_stock and p.variations
    )
    variation = parent.variations[0]
    adapter = woo_adapter(woo, Sleeps())
    adapter.set_inventory_policy(str(parent.id), str(variation), "continue")
    read = adapter.client.get(f"products/{parent.id}/variations/{variation}")
    assert (read["manage_stock"], read["backorders"], read["backorders_allowed"]) == (
        "parent",
        "notify",
        True,
    )
    adapter.set_inventory_policy(str(parent.id), str(variation), "deny")
    read = adapter.client.get(f"products/{parent.id}/variations/{variation}")
    assert (read["backorders"], read["backorders_allowed"]) == ("no", False)
