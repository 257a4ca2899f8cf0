"""One mutation over many rows as a Shopify bulk import (adapters/shopify/bulk_mutations.py).

Against the sandbox store over real HTTP: the variables file is staged and uploaded without the
Admin token, the run is charged once (not per row), its effects are the real mutations' effects,
results come back in the order of the rows with each row's userErrors, a second caller waits for
a running bulk mutation, and a failed operation raises.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from adapters.base import OrderPush, StoreError
from adapters.shopify import ShopifyAdapter, queries
from adapters.shopify.bulk_mutations import BulkMutationError, BulkMutations
from adapters.shopify.order_pushes import BULK_MIN
from sandbox.shopify.server import RunningShopify, start


class Sleeper:
    """Really sleeps, briefly (the sandbox runs operations in a thread of its own)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(min(seconds, 0.05))


@pytest.fixture(scope="module")
def shop() -> Iterator[RunningShopify]:
    # A bucket that barely refills: what a run spends stays visible in the throttle status.
    running = start(variants=900, seed=7, restore_rate=0.01)
    while len(running.store.orders) < 300:  # the seed's history, topped up
        running.store.place_order([(stocked_variant(running), 1)])
    yield running
    running.stop()


@pytest.fixture
def adapter(shop: RunningShopify) -> ShopifyAdapter:
    return ShopifyAdapter(
        shop.shop,
        shop.access_token,
        admin_base_url=shop.admin_base_url,
        api_version="2025-01",
        sleep=Sleeper(),
        allow_private=True,
    )


def bulk_for(adapter: ShopifyAdapter, sleeper: Sleeper | None = None) -> BulkMutations:
    return BulkMutations(
        adapter._run, adapter.transport.session, sleeper or Sleeper(), poll_first=0.02
    )


def available(shop: RunningShopify) -> float:
    bucket = shop.app.extensions["shopify_sandbox"].bucket
    return bucket.status(shop.access_token)["currentlyAvailable"]


def stocked_variant(shop: RunningShopify) -> str:
    store = shop.store
    return next(
        v.id
        for v in store.variants.values()
        if v.inventoryPolicy == "DENY" and store.available(v) > 3
    )


def test_tags_300_orders_in_one_operation_for_a_few_points(
    adapter: ShopifyAdapter, shop: RunningShopify
) -> None:
    orders = [o.id for o in shop.store.orders.values()][:300]
    assert len(orders) == 300
    before = available(shop)
    rows = [
        {"id": order_id, "tags": ["backorder", f"batch-{i % 3}"]}
        for i, order_id in enumerate(orders)
    ]

    results = bulk_for(adapter).run(queries.TAGS_ADD, rows)

    spent = before - available(shop)
    assert results == [{"tagsAdd": {"userErrors": []}}] * 300
    assert all("backorder" in shop.store.get(o).tags for o in orders)
    assert [f"batch-{i % 3}" in shop.store.get(o).tags for i, o in enumerate(orders)] == [
        True
    ] * 300
    # Staging and starting cost 10 each, each poll 1: nowhere near 300 mutations' 3,000.
    assert 20 <= spent < 60
    operation = shop.store.bulk_operations[
        shop.app.extensions["shopify_sandbox"].bulk.current_mutation
    ]
    assert (operation.type, operation.status, operation.objectCount) == (
        "MUTATION",
        "COMPLETED",
        300,
    )


def test_releases_the_holds_of_held_orders(adapter: ShopifyAdapter, shop: RunningShopify) -> None:
    store = shop.store
    orders = [store.place_order([(stocked_variant(shop), 1)]) for _ in range(4)]
    for order_id in orders:
        adapter.hold_lines(order_id, [li.id for li in store.order_of(order_id).lines], "Restock")
    held = [fo for order_id in orders for fo in store._fos(store.order_of(order_id))]
    assert {fo.status for fo in held} == {"ON_HOLD"}
    rows = [{"id": fo.id, "holdIds": [h.id for h in fo.holds]} for fo in held]

    results = bulk_for(adapter).run(queries.FULFILLMENT_ORDER_RELEASE_HOLD, rows)

    assert [r["fulfillmentOrderReleaseHold"]["fulfillmentOrder"] for r in results] == [
        {"id": fo.id, "status": "OPEN"} for fo in held
    ]
    assert {fo.status for fo in held} == {"OPEN"}


def test_a_refused_row_is_its_result_with_its_user_errors(
    adapter: ShopifyAdapter, shop: RunningShopify
) -> None:
    order_id = next(iter(shop.store.orders.values())).id
    rows = [
        {"id": order_id, "tags": ["first"]},
        {"id": "gid://shopify/Order/999999999", "tags": ["nowhere"]},
        {"id": order_id, "tags": ["third"]},
    ]

    results = bulk_for(adapter).run(queries.TAGS_ADD, rows)

    assert results[0] == results[2] == {"tagsAdd": {"userErrors": []}}
    errors = results[1]["tagsAdd"]["userErrors"]
    assert len(errors) == 1 and "does not exist" in errors[0]["message"]
    assert {"first", "third"} <= set(shop.store.get(order_id).tags)


def test_a_second_caller_waits_for_the_running_bulk_mutation(
    adapter: ShopifyAdapter, shop: RunningShopify, caplog: pytest.LogCaptureFixture
) -> None:
    runner = shop.app.extensions["shopify_sandbox"].bulk
    orders = [o.id for o in shop.store.orders.values()][:20]
    answers: dict[str, list[dict[str, Any]]] = {}
    first_sleeper, second_sleeper = Sleeper(), Sleeper()
    started = runner.current_mutation

    def call(name: str, tag: str, sleeper: Sleeper) -> None:
        rows = [{"id": o, "tags": [tag]} for o in orders]
        answers[name] = bulk_for(adapter, sleeper).run(queries.TAGS_ADD, rows)

    runner.hold()
    try:
        first = threading.Thread(target=call, args=("first", "one", first_sleeper))
        first.start()
        _until(lambda: runner.current_mutation != started)
        ours = runner.current_mutation
        second = threading.Thread(target=call, args=("second", "two", second_sleeper))
        with caplog.at_level("INFO", logger="adapters.shopify.bulk_mutations"):
            second.start()
            _until(lambda: "is running: waiting" in caplog.text)
    finally:
        runner.release()
    first.join(10)
    second.join(10)

    assert answers["first"] == answers["second"] == [{"tagsAdd": {"userErrors": []}}] * 20
    assert runner.current_mutation != ours  # the second ran an operation of its own, afterwards
    assert all({"one", "two"} <= set(shop.store.get(o).tags) for o in orders)


def test_the_upload_never_carries_the_admin_token(shop: RunningShopify) -> None:
    """The storage refuses the token (the other tests pass, so the adapter never sends it)."""
    runner = shop.app.extensions["shopify_sandbox"].bulk
    target = runner.uploads.issue(shop.base_url, "bulk_op_vars.jsonl")
    fields = [(p["name"], p["value"]) for p in target.parameters]
    file = [("file", ("bulk_op_vars.jsonl", b'{"id":"x"}\n', "text/jsonl"))]

    leaked = requests.post(
        target.url,
        data=fields,
        files=file,
        headers={"X-Shopify-Access-Token": shop.access_token},
        timeout=5,
    )
    clean = requests.post(target.url, data=fields, files=file, timeout=5)

    assert leaked.status_code == 400 and "X-Shopify-Access-Token" in leaked.text
    assert clean.status_code == 201 and target.key in clean.text


def test_a_failed_operation_raises(adapter: ShopifyAdapter, shop: RunningShopify) -> None:
    shop.app.extensions["shopify_sandbox"].bulk.fail_next("INTERNAL_SERVER_ERROR")
    order_id = next(iter(shop.store.orders.values())).id

    with pytest.raises(StoreError, match=r"ended FAILED \(INTERNAL_SERVER_ERROR\)"):
        bulk_for(adapter).run(queries.TAGS_ADD, [{"id": order_id, "tags": ["never"]}])

    assert "never" not in shop.store.get(order_id).tags


def test_a_run_failed_part_way_says_which_rows_took_effect(
    adapter: ShopifyAdapter, shop: RunningShopify
) -> None:
    shop.app.extensions["shopify_sandbox"].bulk.fail_mutation_after(2)
    orders = [o.id for o in shop.store.orders.values()][:5]

    with pytest.raises(BulkMutationError, match="after 2 of its 5 rows") as failed:
        bulk_for(adapter).run(queries.TAGS_ADD, [{"id": o, "tags": ["partial"]} for o in orders])

    assert failed.value.results == [{"tagsAdd": {"userErrors": []}}] * 2 + [None] * 3
    assert ["partial" in shop.store.get(o).tags for o in orders] == [True] * 2 + [False] * 3


def test_no_rows_ask_nothing_of_shopify(adapter: ShopifyAdapter, shop: RunningShopify) -> None:
    before = available(shop)
    assert bulk_for(adapter).run(queries.TAGS_ADD, []) == []
    assert available(shop) >= before


def test_an_invalid_mutation_is_refused(adapter: ShopifyAdapter, shop: RunningShopify) -> None:
    with pytest.raises(StoreError, match="exactly one top-level mutation field"):
        bulk_for(adapter).run(
            queries.TAGS_ADD.replace(
                "userErrors { field message } }",
                "userErrors { field message } } "
                "other: tagsRemove(id: $id, tags: $tags) { userErrors { field } }",
            ),
            [{"id": "gid://shopify/Order/1", "tags": ["x"]}],
        )


def test_rows_are_split_into_operations_run_one_after_another(
    adapter: ShopifyAdapter, shop: RunningShopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adapters.shopify.bulk_mutations.MAX_ROWS", 4)
    runner = shop.app.extensions["shopify_sandbox"].bulk
    started = runner.current_mutation
    orders = [o.id for o in shop.store.orders.values()][:10]

    results = bulk_for(adapter).run(
        queries.TAGS_ADD, [{"id": o, "tags": ["split"]} for o in orders]
    )

    assert results == [{"tagsAdd": {"userErrors": []}}] * 10
    numbers = [n for n in shop.store.bulk_operations if started is None or n > started]
    assert [shop.store.bulk_operations[n].objectCount for n in numbers] == [4, 4, 2]


def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never came true")
        time.sleep(0.01)


def test_a_batch_of_pushes_releases_each_order_and_fails_only_the_one_refused(
    adapter: ShopifyAdapter, shop: RunningShopify
) -> None:
    """`push_orders` on a batch (adapters/shopify/order_pushes.py): tags, data and our holds of
    every order in a few bulk operations; an order Shopify refuses fails alone and is left out
    of the steps after the one that refused it."""
    store = shop.store
    orders = [store.place_order([(stocked_variant(shop), 1)]) for _ in range(BULK_MIN)]
    for order_id in orders:
        adapter.hold_lines(order_id, [li.id for li in store.order_of(order_id).lines], "Restock")
    adapter.bulk_mutations.poll_first = adapter.bulk_mutations.export.poll_first = 0.02
    ghost = "gid://shopify/Order/999999999"
    pushes = [
        OrderPush(
            o, add_tags=("ready",), data_key="state", data={"ready": True}, release_holds=True
        )
        for o in [*orders, ghost]
    ]

    outcome = adapter.push_orders(pushes)

    assert [o for o, failure in outcome.items() if failure is not None] == [ghost]
    assert isinstance(outcome[ghost], StoreError)
    for order_id in orders:
        order = store.order_of(order_id)
        assert "ready" in order.tags
        assert {fo.status for fo in store._fos(order)} == {"OPEN"}
        assert [m.key for m in store.metafields_of(order_id)] == ["state"]
