"""Alternatives: the substitute a shopper would take ranks first, only what is in stock is offered,
merchants' pins and exclusions hold, and an index kept current by events ranks as a fresh one."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from connector.commands import execute
from connector.domain.alternatives import AlternativesIndex, brute_force
from connector.models import AlternativeIndex, Backorder, Shop, Variant
from connector.runtime import Runtime
from connector.services import alternatives as service
from connector.services.alternatives import alternatives_for, set_rules, shop_index
from connector.services.catalog import apply_products
from tests.catalogues import APPAREL, AT, ELECTRONICS, GROCERY, P, V, load_shop, store_product
from tests.engine_helpers import ingest, snapshot, stock
from tests.shops import ShopFixture


def ranked(runtime: Runtime, shop: ShopFixture, sku: str, **kwargs: int) -> list:
    with runtime.db.transaction() as session:
        return alternatives_for(session, shop.shop_id, shop.variants[sku], **kwargs)


def skus(found: list) -> list[str]:
    return [a.sku for a in found]


@pytest.fixture
def apparel(runtime: Runtime) -> ShopFixture:
    return load_shop(runtime, "Northwind Trail", "northwind-trail.myshopify.com", APPAREL)


@pytest.fixture
def electronics(runtime: Runtime) -> ShopFixture:
    return load_shop(runtime, "Volt Hub", "volt-hub.myshopify.com", ELECTRONICS)


@pytest.fixture
def grocery(runtime: Runtime) -> ShopFixture:
    return load_shop(runtime, "Green Basket", "green-basket.myshopify.com", GROCERY)


def test_the_other_colour_in_the_same_size_ranks_first(runtime, apparel) -> None:
    found = ranked(runtime, apparel, "TRAIL-BLU-42", limit=10)
    assert found[0].sku == "TRAIL-BLA-42"
    assert found[0].reasons[:2] == ("same style, colour Black", "same size 42")
    # Fit before taste: another shoe in 42 beats the same shoe in 43.
    assert skus(found).index("SUMMIT-RED-42") < skus(found).index("TRAIL-BLU-43")
    assert "same style, size 43" in found[skus(found).index("TRAIL-BLU-43")].reasons
    assert all(b.score <= a.score for a, b in itertools.pairwise(found))


def test_never_the_variant_itself_nor_out_of_stock_archived_or_draft(runtime, apparel) -> None:
    found = skus(ranked(runtime, apparel, "TRAIL-BLU-42", limit=50))
    assert "TRAIL-BLU-42" not in found
    assert "TRAIL-BLA-43" not in found  # no stock
    assert not any(s.startswith(("OLD-", "KIDS-")) for s in found)  # archived, draft


def test_short_items_never_appear_for_the_quantity_needed(runtime, apparel) -> None:
    found = ranked(runtime, apparel, "TRAIL-BLU-42", limit=50, quantity=4)
    assert "TRAIL-BLA-42" not in skus(found)  # 3 in stock, 4 needed
    assert all(a.available >= 4 for a in found)
    assert skus(found)[0] == "SUMMIT-RED-42"


def test_price_band_respected(runtime, electronics) -> None:
    found = ranked(runtime, electronics, "ANK65-US", limit=10)
    assert found[0].sku == "BEL65-US"  # same plug, same wattage, in the price band
    by_sku = {a.sku: a for a in found}
    assert "price within 25% of the original" not in by_sku["ANK100-US"].reasons
    assert "price within 25% of the original" in by_sku["BEL65-US"].reasons
    # The EU plug is the same product but does not fit: below every US-plug charger.
    assert skus(found).index("ANK65-EU") > skus(found).index("ANK100-US")
    with runtime.db.transaction() as session:
        session.get_one(Shop, electronics.shop_id).price_band_pct = 100
    widened = {a.sku: a for a in ranked(runtime, electronics, "ANK65-US", limit=10)}
    assert "price within 100% of the original" in widened["ANK100-US"].reasons


def test_grocery_substitute_and_the_shops_own_name_weighs_nothing(runtime, grocery) -> None:
    found = ranked(runtime, grocery, "MILK-WHOLE", limit=10)
    assert found[0].sku == "MILK-SEMI"
    assert "shared tags: fresh, milk, organic" in found[0].reasons
    with runtime.db.transaction() as session:
        index = shop_index(session, session.get_one(Shop, grocery.shop_id))
    assert "green" not in index.idf() and "basket" not in index.idf()
    assert "favourite" in index.idf()
    # Sharing only the shop's boilerplate is no reason to offer a loaf of bread for milk.
    assert (
        "SOURDOUGH" not in skus(found)
        or "similar title and description"
        not in next(a for a in found if a.sku == "SOURDOUGH").reasons
    )


def test_pins_come_first_in_order_and_exclusions_never_appear(runtime, apparel) -> None:
    v = apparel.variants
    with runtime.db.transaction() as session:
        product_id = session.get_one(Variant, v["TRAIL-BLU-42"]).product_id
        set_rules(
            session,
            apparel.shop_id,
            product_id,
            pinned=[v["SOCKS-M"], v["TRAIL-BLA-43"], v["STORM-GRE-L"]],  # BLA-43 has no stock
            excluded=[v["SUMMIT-RED-42"]],
        )
    found = ranked(runtime, apparel, "TRAIL-BLU-42", limit=10)
    assert skus(found)[:2] == ["SOCKS-M", "STORM-GRE-L"]
    assert found[0].reasons[0] == "recommended by the shop"
    assert "TRAIL-BLA-43" not in skus(found) and "SUMMIT-RED-42" not in skus(found)
    assert skus(found)[2] == "TRAIL-BLA-42"
    assert skus(ranked(runtime, apparel, "TRAIL-BLU-42", limit=1)) == ["SOCKS-M"]


def test_rules_refuse_variants_of_another_shop(runtime, apparel, grocery) -> None:
    from connector.services.errors import Invalid

    with runtime.db.transaction() as session:
        product_id = session.get_one(Variant, apparel.variants["TRAIL-BLU-42"]).product_id
        with pytest.raises(Invalid):
            set_rules(
                session,
                apparel.shop_id,
                product_id,
                pinned=[grocery.variants["MILK-SEMI"]],
                excluded=[],
            )


def test_stock_and_catalogue_changes_apply_incrementally(runtime, apparel) -> None:
    assert "TRAIL-BLA-43" not in skus(ranked(runtime, apparel, "TRAIL-BLU-43", limit=10))
    with runtime.db.transaction() as session:
        generation = session.scalar(select(AlternativeIndex.generation))
    stock(runtime, apparel.shop_id, "TRAIL-BLA-43", 5)  # a restock webhook
    assert skus(ranked(runtime, apparel, "TRAIL-BLU-43", limit=10))[0] == "TRAIL-BLA-43"
    stock(runtime, apparel.shop_id, "TRAIL-BLA-42", 0)
    assert "TRAIL-BLA-42" not in skus(ranked(runtime, apparel, "TRAIL-BLU-42", limit=10))
    retired = P(
        "Summit Trail Shoe", "Running Shoes", "Ridgeline", ("trail",), [], status="archived"
    )
    retired.external_id = "p-1"
    execute(
        runtime,
        lambda s: apply_products(
            s,
            runtime.clock,
            s.get_one(Shop, apparel.shop_id),
            [store_product(retired, 1, AT + timedelta(hours=1))],
        ),
    )
    assert not any(s.startswith("SUMMIT") for s in skus(ranked(runtime, apparel, "TRAIL-BLU-42")))
    with runtime.db.transaction() as session:
        assert session.scalar(select(AlternativeIndex.generation)) == generation  # no rebuild


def test_identical_results_after_an_index_rebuild(runtime, apparel, electronics) -> None:
    stock(runtime, apparel.shop_id, "TRAIL-BLA-43", 5)
    stock(runtime, apparel.shop_id, "SUMMIT-RED-43", 0)
    queries = [(apparel, s) for s in apparel.variants] + [
        (electronics, s) for s in electronics.variants
    ]
    before = [ranked(runtime, shop, sku, limit=10) for shop, sku in queries]
    service.forget_cache()
    with runtime.db.transaction() as session:
        for shop in (apparel, electronics):
            service.start_index(session, shop.shop_id)
    assert [ranked(runtime, shop, sku, limit=10) for shop, sku in queries] == before


@pytest.mark.parametrize("catalogue", [APPAREL, ELECTRONICS, GROCERY])
def test_index_agrees_with_the_brute_force_scan(runtime, catalogue) -> None:
    shop = load_shop(runtime, "Any Shop", "any-shop.myshopify.com", catalogue)
    with runtime.db.transaction() as session:
        index = shop_index(session, session.get_one(Shop, shop.shop_id))
    rebuilt = AlternativesIndex.build(index.items, ignore=index.ignore)
    for variant_id in shop.variants.values():
        query = index.item(variant_id)
        expected = brute_force(
            index.items,
            query,
            quantity=1,
            limit=10,
            idf=index.idf(),
            band_pct=25,
            ignore=index.ignore,
        )
        got = [(a.variant_id, a.score) for a in index.rank(variant_id, limit=10)]
        assert got == expected
        assert [(a.variant_id, a.score) for a in rebuilt.rank(variant_id, limit=10)] == expected


def test_a_shared_stock_pool_is_one_candidate_with_the_pools_stock(runtime) -> None:
    pooled = [
        P(
            "Linen Tea Towel",
            "Kitchen Textiles",
            "Homely",
            ("linen", "kitchen"),
            [
                V("TOWEL-RED", {"Colour": "Red"}, "12.00", 0, pool="parent-1"),
                V("TOWEL-BLUE", {"Colour": "Blue"}, "12.00", 0, pool="parent-1"),
            ],
            "Stonewashed linen tea towel.",
        ),
        P(
            "Cotton Tea Towel",
            "Kitchen Textiles",
            "Homely",
            ("cotton", "kitchen"),
            [V("COTTON-TOWEL", {}, "9.00", 7)],
            "Soft cotton tea towel.",
        ),
    ]
    shop = load_shop(runtime, "Homely", "homely.myshopify.com", pooled)
    found = skus(ranked(runtime, shop, "TOWEL-RED", limit=10))
    assert found == ["COTTON-TOWEL"]  # the blue towel sells from the same (empty) stock


def test_a_new_backorder_gets_its_alternatives_stored_once(runtime, apparel, clock) -> None:
    ingest(
        runtime,
        apparel.shop_id,
        snapshot("5001", [("TRAIL-BLU-42", 1)], placed_at=clock.now(), updated_at=clock.now()),
    )
    with runtime.db.transaction() as session:
        backorder = session.scalars(select(Backorder)).one()
        assert backorder.alternatives is None
    assert runtime.jobs.drain() >= 1
    with runtime.db.transaction() as session:
        stored = session.get_one(Backorder, backorder.id).alternatives
    assert stored["quantity"] == 1
    assert stored["items"][0]["sku"] == "TRAIL-BLA-42"
    assert stored["items"][0]["reasons"][0] == "same style, colour Black"
    assert stored["computed_at"] == clock.now().isoformat()
    clock.advance(timedelta(hours=1))
    from connector.tasks import alternatives_job

    alternatives_job(runtime, backorder.id)  # a replayed job changes nothing
    with runtime.db.transaction() as session:
        assert session.get_one(Backorder, backorder.id).alternatives == stored


def test_what_customers_bought_instead_is_a_reason(runtime, apparel, clock) -> None:
    first = snapshot("6001", [("TRAIL-BLU-42", 1)], placed_at=clock.now(), updated_at=clock.now())
    ingest(runtime, apparel.shop_id, replace(first, customer_email="jo@example.com"))
    later = clock.now() + timedelta(days=1)
    second = snapshot("6002", [("ROAD-WHI-42", 1)], placed_at=later, updated_at=later)
    ingest(runtime, apparel.shop_id, replace(second, customer_email="jo@example.com"))
    ingest(runtime, apparel.shop_id, replace(second, customer_email="jo@example.com"))  # replay
    found = {a.sku: a for a in ranked(runtime, apparel, "TRAIL-BLU-42", limit=10)}
    assert "chosen instead by 1 customer who waited" in found["ROAD-WHI-42"].reasons
