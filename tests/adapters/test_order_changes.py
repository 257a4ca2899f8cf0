"""Changing what a customer ordered (issue 9's status page: cancel a line, switch to an
alternative), through each adapter against its running sandbox store: the store's order, stock,
totals and webhooks must show the change, and the adapter must return the order as changed."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from graphql import build_client_schema, parse, validate

from adapters.base import NotSupported, StoreError, StoreOrder
from adapters.shopify import ShopifyAdapter, queries
from adapters.woocommerce import WooCommerceAdapter
from sandbox.shopify.server import RunningShopify
from sandbox.shopify.server import start as start_shopify
from sandbox.shopify.store import ShopifyStore
from sandbox.woocommerce.server import RunningWoo
from sandbox.woocommerce.server import start as start_woo
from sandbox.woocommerce.store import WooStore
from tests.adapters.test_webhook_payloads import Receiver

SCHEMA = Path(__file__).parents[2].parent / "shared/reference/shopify/admin_schema_2025-01.json.gz"
EDIT_DOCUMENTS = (
    "ORDER",
    "ORDER_EDIT_BEGIN",
    "ORDER_EDIT_SET_QUANTITY",
    "ORDER_EDIT_ADD_VARIANT",
    "ORDER_EDIT_COMMIT",
    "ORDER_CANCEL",
    "JOB",
)
WOO_SECRET = "Whsec0123456789abcdefXYZ"


class Sleeps(list[float]):
    """The transports' sleep: recorded, not waited (the sandbox's failures are real)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_the_order_change_documents_validate_against_shopifys_schema() -> None:
    with gzip.open(SCHEMA, "rt", encoding="utf-8") as handle:
        schema = build_client_schema(json.load(handle)["data"])
    schema._validation_errors = []  # graphql-core 3.3 quirk, as in sandbox/shopify/schema.py
    problems = {name: validate(schema, parse(getattr(queries, name))) for name in EDIT_DOCUMENTS}
    assert {name: errors for name, errors in problems.items() if errors} == {}


# ================================================================================ Shopify
@pytest.fixture(scope="module")
def shopify() -> Iterator[tuple[RunningShopify, Receiver]]:
    store = ShopifyStore()
    store.add_location("Main warehouse", primary=True)
    boots = store.add_product("Trail boot")
    for size in ("41", "42", "43", "44"):
        stock = {store.primary_location().number: 10}
        store.add_variant(boots, title=size, sku=f"BOOT-{size}", price="80.00", stock=stock)
    running = start_shopify(store=store, restore_rate=5000, webhook_base_delay=0.005)
    receiver = Receiver("X-Shopify-Topic")
    adapter = shopify_adapter(running, Sleeps())
    for topic in ("orders/edited", "orders/updated", "orders/cancelled"):
        adapter.register_webhook(topic, receiver.url)
    yield running, receiver
    receiver.close()
    running.stop()


def shopify_adapter(running: RunningShopify, sleeps: Sleeps) -> ShopifyAdapter:
    return ShopifyAdapter(
        running.shop,
        running.access_token,
        admin_base_url=running.admin_base_url,
        api_version="2025-01",
        sleep=sleeps,
        allow_private=True,
    )


def boot(running: RunningShopify, size: str) -> Any:
    variant = running.store.variant_by_sku(f"BOOT-{size}")
    assert variant is not None
    return variant


def line_of(order: StoreOrder, variant_id: str) -> Any:
    return next(li for li in order.lines if li.variant_external_id == variant_id)


def order_number(gid: str) -> int:
    return int(gid.rsplit("/", 1)[-1])


def test_shopify_reduce_a_line_restocks_and_lowers_the_total(
    shopify: tuple[RunningShopify, Receiver],
) -> None:
    running, receiver = shopify
    store = running.store
    b41, b42 = boot(running, "41"), boot(running, "42")
    order_id = store.place_order([(b41.id, 3), (b42.id, 1)])
    adapter = shopify_adapter(running, Sleeps())
    line = line_of(adapter.get_order(order_id), b41.id)
    available = store.available(b41)

    changed = adapter.change_line(
        order_id, line.external_id, keep_quantity=1, staff_note="customer kept one"
    )

    assert line_of(changed, b41.id).quantity == 1  # the returned order shows the edit
    assert line_of(changed, b42.id).quantity == 1 and changed.cancelled_at is None
    record = store.order_of(order_id)
    assert [li.currentQuantity for li in record.lines] == [1, 1]
    assert store.available(b41) == available + 2  # the two units went back to stock
    edited = receiver.body(
        "orders/edited", lambda b: b["order_edit"]["order_id"] == order_number(order_id)
    )
    assert edited["order_edit"]["line_items"]["removals"] == [
        {"id": order_number(line.external_id), "delta": 2}
    ]
    assert edited["order_edit"]["notify_customer"] is False
    assert edited["order_edit"]["staff_note"] == "customer kept one"
    updated = receiver.body("orders/updated", lambda b: b["id"] == order_number(order_id))
    assert updated["total_price"] == "160.00"  # 1 x 80 + 1 x 80, was 320


def test_shopify_remove_a_line_keeps_the_rest_of_the_order(
    shopify: tuple[RunningShopify, Receiver],
) -> None:
    running, _receiver = shopify
    store = running.store
    b41, b42 = boot(running, "41"), boot(running, "42")
    order_id = store.place_order([(b41.id, 2), (b42.id, 1)])
    adapter = shopify_adapter(running, Sleeps())
    line = line_of(adapter.get_order(order_id), b41.id)
    available = store.available(b41)

    changed = adapter.change_line(order_id, line.external_id, keep_quantity=0)

    assert line_of(changed, b41.id).quantity == 0 and changed.cancelled_at is None
    assert store.order_of(order_id).cancelledAt is None
    assert store.available(b41) == available + 2


def test_shopify_switch_to_another_variant_moves_the_stock(
    shopify: tuple[RunningShopify, Receiver],
) -> None:
    running, receiver = shopify
    store = running.store
    b43, b44 = boot(running, "43"), boot(running, "44")
    order_id = store.place_order([(b43.id, 2)])
    adapter = shopify_adapter(running, Sleeps())
    line = line_of(adapter.get_order(order_id), b43.id)
    before = {v.sku: store.available(v) for v in (b43, b44)}

    changed = adapter.change_line(
        order_id, line.external_id, keep_quantity=0, add_variant_external_id=b44.id, add_quantity=2
    )

    assert line_of(changed, b43.id).quantity == 0
    assert line_of(changed, b44.id).quantity == 2 and changed.cancelled_at is None
    assert store.available(b43) == before["BOOT-43"] + 2
    assert store.available(b44) == before["BOOT-44"] - 2
    edited = receiver.body(
        "orders/edited", lambda b: b["order_edit"]["order_id"] == order_number(order_id)
    )
    changes = edited["order_edit"]["line_items"]
    assert [r["delta"] for r in changes["removals"]] == [2]
    assert [a["delta"] for a in changes["additions"]] == [2]
    # The added line can be shipped: it has an open fulfillment order.
    record = store.order_of(order_id)
    assert store.display_fulfillment_status(record) == "UNFULFILLED"
    assert sum(li.fulfillableQuantity for li in record.lines) == 2


def test_shopify_removing_the_only_line_cancels_the_order_without_refund(
    shopify: tuple[RunningShopify, Receiver],
) -> None:
    running, receiver = shopify
    store = running.store
    b42 = boot(running, "42")
    order_id = store.place_order([(b42.id, 2)])
    adapter = shopify_adapter(running, Sleeps())
    line = line_of(adapter.get_order(order_id), b42.id)
    available = store.available(b42)

    changed = adapter.change_line(
        order_id, line.external_id, keep_quantity=0, staff_note="cancelled on the status page"
    )

    assert changed.cancelled_at is not None
    record = store.order_of(order_id)
    assert record.cancelReason == "CUSTOMER" and record.staff_note == "cancelled on the status page"
    assert record.displayFinancialStatus == "PAID"  # the refund is left to the merchant
    assert store.available(b42) == available + 2
    receiver.body("orders/cancelled", lambda b: b["id"] == order_number(order_id))


def test_shopify_a_fulfilled_line_or_cancelled_order_cannot_be_changed(
    shopify: tuple[RunningShopify, Receiver],
) -> None:
    running, _receiver = shopify
    store = running.store
    b41 = boot(running, "41")
    order_id = store.place_order([(b41.id, 1)])
    store.fulfil_order(order_id)
    adapter = shopify_adapter(running, Sleeps())
    line = line_of(adapter.get_order(order_id), b41.id)
    with pytest.raises(NotSupported, match="already fulfilled"):
        adapter.change_line(order_id, line.external_id, keep_quantity=0)
    assert store.order_of(order_id).lines[0].currentQuantity == 1

    cancelled = store.place_order([(b41.id, 1)])
    store.cancel_order(cancelled)
    line = adapter.get_order(cancelled).lines[0]
    with pytest.raises(NotSupported, match="cancelled"):
        adapter.change_line(cancelled, line.external_id, keep_quantity=0)


def test_shopify_has_no_customer_note() -> None:
    adapter = ShopifyAdapter("x.myshopify.com", "shpat_x", allow_private=True)
    with pytest.raises(NotSupported):
        adapter.add_customer_note("gid://shopify/Order/1", "Your boots ship Friday")


def test_shopify_server_errors_during_the_edit_are_retried(
    shopify: tuple[RunningShopify, Receiver],
) -> None:
    running, _receiver = shopify
    store = running.store
    b43 = boot(running, "43")
    order_id = store.place_order([(b43.id, 3)])
    sleeps = Sleeps()
    adapter = shopify_adapter(running, sleeps)
    line = line_of(adapter.get_order(order_id), b43.id)
    store.fail_next(2, 503)

    changed = adapter.change_line(order_id, line.external_id, keep_quantity=2)

    assert line_of(changed, b43.id).quantity == 2
    assert store.order_of(order_id).lines[0].currentQuantity == 2
    assert len(sleeps) == 2 and all(s > 0 for s in sleeps)


def test_shopify_refused_staged_changes_come_back_as_user_errors(
    shopify: tuple[RunningShopify, Receiver],
) -> None:
    running, _receiver = shopify
    store = running.store
    b41, b42 = boot(running, "41"), boot(running, "42")
    order_id = store.place_order([(b41.id, 1), (b42.id, 1)])
    run = shopify_adapter(running, Sleeps()).transport.execute
    begun = run(queries.ORDER_EDIT_BEGIN, {"id": order_id, "lines": 10})["orderEditBegin"]
    calculated = begun["calculatedOrder"]
    first = calculated["lineItems"]["nodes"][0]
    assert first["id"].endswith(str(store.order_of(order_id).lines[0].number))

    def set_quantity(line_id: str, quantity: int) -> list[dict[str, Any]]:
        variables = {"id": calculated["id"], "lineItemId": line_id, "quantity": quantity}
        return run(queries.ORDER_EDIT_SET_QUANTITY, variables)["orderEditSetQuantity"]["userErrors"]

    def add(variant_id: str) -> list[dict[str, Any]]:
        variables = {"id": calculated["id"], "variantId": variant_id, "quantity": 1}
        return run(queries.ORDER_EDIT_ADD_VARIANT, variables)["orderEditAddVariant"]["userErrors"]

    assert set_quantity("gid://shopify/CalculatedLineItem/1", 0)  # unknown line
    assert set_quantity(first["id"], 5)  # more than the line holds
    assert add("gid://shopify/ProductVariant/1")  # no such variant
    assert add(b42.id)  # already on the order (duplicates not allowed)
    assert store.order_of(order_id).lines[0].currentQuantity == 1  # nothing staged is applied
    assert not set_quantity(first["id"], 0)
    commit = {"id": calculated["id"], "notifyCustomer": False}
    assert not run(queries.ORDER_EDIT_COMMIT, commit)["orderEditCommit"]["userErrors"]
    assert run(queries.ORDER_EDIT_COMMIT, commit)["orderEditCommit"]["userErrors"]
    assert store.order_of(order_id).lines[0].currentQuantity == 0
    unknown = run(queries.ORDER_EDIT_BEGIN, {"id": "gid://shopify/Order/1", "lines": 10})
    assert unknown["orderEditBegin"]["userErrors"]


# ================================================================================ WooCommerce
@pytest.fixture(scope="module")
def woo() -> Iterator[tuple[RunningWoo, Receiver, dict[str, int]]]:
    store = WooStore()
    ids = {
        "mug": store.new_product(
            name="Stoneware mug",
            sku="MUG",
            regular_price="12.50",
            manage_stock=True,
            stock_quantity=40,
        ).id,
        "bowl": store.new_product(
            name="Stoneware bowl",
            sku="BOWL",
            regular_price="20.00",
            manage_stock=True,
            stock_quantity=40,
        ).id,
    }
    lamp = store.new_product(name="Desk lamp", type="variable", manage_stock=False)
    ids["lamp"] = lamp.id
    for colour, stock in (("Brass", 10), ("Black", 10)):
        ids[colour] = store.new_variation(
            lamp.id,
            sku=f"LAMP-{colour.upper()}",
            regular_price="60.00",
            manage_stock=True,
            stock_quantity=stock,
            attributes=[{"name": "Colour", "option": colour}],
        ).id
    running = start_woo(store=store)
    receiver = Receiver("X-WC-Webhook-Topic")
    store.add_webhook("order.updated", receiver.url, secret=WOO_SECRET)
    yield running, receiver, ids
    receiver.close()
    running.stop()


def woo_adapter(running: RunningWoo, sleeps: Sleeps) -> WooCommerceAdapter:
    return WooCommerceAdapter(
        running.url,
        running.consumer_key,
        running.consumer_secret,
        sleep=sleeps,
        webhook_secret=WOO_SECRET,
        allow_private=True,
    )


def stock(running: RunningWoo, product_id: int) -> int:
    with running.store.lock:
        return int(running.store.products[product_id].stock_quantity or 0)


def woo_line(order: StoreOrder, variant_id: int) -> Any:
    return next(li for li in order.lines if li.variant_external_id == str(variant_id))


def test_woo_reduce_a_line_restocks_and_recomputes_its_totals(
    woo: tuple[RunningWoo, Receiver, dict[str, int]],
) -> None:
    running, receiver, ids = woo
    store = running.store
    order_id = store.place_order([(ids["mug"], 0, 4), (ids["bowl"], 0, 1)])
    adapter = woo_adapter(running, Sleeps())
    line = woo_line(adapter.get_order(str(order_id)), ids["mug"])
    mugs = stock(running, ids["mug"])

    changed = adapter.change_line(str(order_id), line.external_id, keep_quantity=1)

    assert woo_line(changed, ids["mug"]).quantity == 1
    assert woo_line(changed, ids["mug"]).price == Decimal("12.50")
    assert stock(running, ids["mug"]) == mugs + 3
    with store.lock:
        item = store.orders[order_id].line_items[0]
        assert (item.quantity, item.line_total, item.reduced_stock) == (1, 12.5, 1)
    body = receiver.body("order.updated", lambda b: b["id"] == order_id)
    assert body["total"] == "37.50"  # 12.50 + 20.00 + 5.00 shipping, was 75.00
    # A later cancellation gives back only what the order still holds.
    store.cancel_order(order_id)
    assert stock(running, ids["mug"]) == mugs + 4


def test_woo_remove_a_line_gives_its_stock_back(
    woo: tuple[RunningWoo, Receiver, dict[str, int]],
) -> None:
    running, _receiver, ids = woo
    store = running.store
    order_id = store.place_order([(ids["mug"], 0, 2), (ids["bowl"], 0, 3)])
    adapter = woo_adapter(running, Sleeps())
    line = woo_line(adapter.get_order(str(order_id)), ids["bowl"])
    bowls = stock(running, ids["bowl"])

    changed = adapter.change_line(str(order_id), line.external_id, keep_quantity=0)

    assert [li.variant_external_id for li in changed.lines] == [str(ids["mug"])]
    assert changed.cancelled_at is None
    assert stock(running, ids["bowl"]) == bowls + 3
    with store.lock:
        assert store.orders[order_id].status == "processing"


def test_woo_switch_to_another_variation_moves_the_stock(
    woo: tuple[RunningWoo, Receiver, dict[str, int]],
) -> None:
    running, receiver, ids = woo
    store = running.store
    order_id = store.place_order([(ids["lamp"], ids["Brass"], 1), (ids["mug"], 0, 1)])
    adapter = woo_adapter(running, Sleeps())
    line = woo_line(adapter.get_order(str(order_id)), ids["Brass"])
    brass, black = stock(running, ids["Brass"]), stock(running, ids["Black"])

    changed = adapter.change_line(
        str(order_id),
        line.external_id,
        keep_quantity=0,
        add_variant_external_id=str(ids["Black"]),
        add_quantity=1,
        staff_note="Customer switched to black on the status page",
    )

    assert woo_line(changed, ids["Black"]).quantity == 1
    assert str(ids["Brass"]) not in {li.variant_external_id for li in changed.lines}
    assert stock(running, ids["Brass"]) == brass + 1
    assert stock(running, ids["Black"]) == black - 1
    body = receiver.body(
        "order.updated", lambda b: any(li["variation_id"] == ids["Black"] for li in b["line_items"])
    )
    assert body["total"] == "77.50"  # 60.00 + 12.50 + 5.00
    with store.lock:
        notes = [n.note for n in store.notes.values() if n.order_id == order_id]
        assert "Customer switched to black on the status page" in notes
        assert not any(n.customer_note for n in store.notes.values() if n.order_id == order_id)


def test_woo_removing_every_line_cancels_the_order(
    woo: tuple[RunningWoo, Receiver, dict[str, int]],
) -> None:
    running, _receiver, ids = woo
    store = running.store
    order_id = store.place_order([(ids["bowl"], 0, 2)])
    adapter = woo_adapter(running, Sleeps())
    line = adapter.get_order(str(order_id)).lines[0]
    bowls = stock(running, ids["bowl"])

    changed = adapter.change_line(str(order_id), line.external_id, keep_quantity=0)

    assert changed.cancelled_at is not None
    assert stock(running, ids["bowl"]) == bowls + 2
    with store.lock:
        assert store.orders[order_id].status == "cancelled"


def test_woo_customer_note_is_emailed_by_the_store(
    woo: tuple[RunningWoo, Receiver, dict[str, int]],
) -> None:
    running, _receiver, ids = woo
    store = running.store
    order_id = store.place_order([(ids["mug"], 0, 1)], email="ada@example.com")
    adapter = woo_adapter(running, Sleeps())

    adapter.add_customer_note(str(order_id), "Your mug ships on Friday.")

    notes = adapter.client.get(f"orders/{order_id}/notes", {"type": "customer"})
    assert [n["note"] for n in notes] == ["Your mug ships on Friday."]
    sent = [e for e in store.customer_emails if e["order_id"] == order_id]
    assert [(e["to"], e["body"]) for e in sent] == [
        ("ada@example.com", "Your mug ships on Friday.")
    ]


def test_woo_a_completed_order_cannot_be_changed(
    woo: tuple[RunningWoo, Receiver, dict[str, int]],
) -> None:
    running, _receiver, ids = woo
    store = running.store
    order_id = store.place_order([(ids["mug"], 0, 2)])
    store.complete_order(order_id)
    adapter = woo_adapter(running, Sleeps())
    line = adapter.get_order(str(order_id)).lines[0]
    with pytest.raises(NotSupported, match="completed"):
        adapter.change_line(str(order_id), line.external_id, keep_quantity=1)
    with store.lock:
        assert store.orders[order_id].line_items[0].quantity == 2


def test_woo_server_errors_during_the_edit_are_retried(
    woo: tuple[RunningWoo, Receiver, dict[str, int]],
) -> None:
    running, _receiver, ids = woo
    store = running.store
    order_id = store.place_order([(ids["mug"], 0, 3)])
    sleeps = Sleeps()
    adapter = woo_adapter(running, sleeps)
    line = adapter.get_order(str(order_id)).lines[0]
    store.fail_next(2, 503)

    changed = adapter.change_line(str(order_id), line.external_id, keep_quantity=2)

    assert changed.lines[0].quantity == 2
    with store.lock:
        assert store.orders[order_id].line_items[0].quantity == 2
    assert len(sleeps) == 2


def test_woo_unknown_line_is_a_store_error(
    woo: tuple[RunningWoo, Receiver, dict[str, int]],
) -> None:
    running, _receiver, ids = woo
    order_id = running.store.place_order([(ids["mug"], 0, 1)])
    adapter = woo_adapter(running, Sleeps())
    with pytest.raises(StoreError, match="no line"):
        adapter.change_line(str(order_id), "999999", keep_quantity=0)
