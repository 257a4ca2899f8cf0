"""`backorder demo`: the product against the two sandbox stores, on a throw-away SQLite file.

Everything the demo shows goes through the real parts: both emulated stores start, each is
added as a shop (the custom-app path of `backorder shops add-…`), synced through its adapter,
then customers order more than is on the shelf, a delivery arrives short, an order is
cancelled, and the next sync feeds those platform-side events to the engine.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from cryptography.fernet import Fernet

from connector.clock import shop_today
from connector.commands import execute
from connector.migrate import upgrade
from connector.models import Shop, Variant
from connector.runtime import Runtime
from connector.services.shops import add_shop, add_woocommerce
from connector.services.stock import add_incoming
from connector.services.sync import run_sync_for
from connector.services.tokens import create_token

DEMO_DIR = Path(".demo")
VARIANTS = 200  # per store: a small shop
# The Shopify sandbox plays a Shopify Plus store (1,000 points/s restore, platform-notes.md),
# so the demo's syncs take seconds; the Standard plan's 100/s would take a minute and a half.
SHOPIFY_PLAN = {"restore_rate": 1000}


def demo_settings() -> dict[str, Any]:
    """A fresh database and throw-away keys, whatever the operator's .env says."""
    DEMO_DIR.mkdir(exist_ok=True)
    for leftover in DEMO_DIR.glob("backorder.db*"):
        leftover.unlink()
    return {
        "DATABASE_URL": f"sqlite:///{DEMO_DIR / 'backorder.db'}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOW_PRIVATE_STORE_URLS": True,  # the sandbox stores live on localhost
    }


@dataclass
class DemoShops:
    shopify_id: int
    woocommerce_id: int
    token: str


def _add_shops(runtime: Runtime, sandboxes: Any) -> DemoShops:
    shopify, woo = sandboxes.shopify, sandboxes.woocommerce

    def add(session: Any) -> DemoShops:
        one = add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform="shopify",
            domain=shopify.shop,
            name="Sandbox Outfitters (Shopify)",
            credentials={
                "access_token": shopify.access_token,
                "admin_base_url": shopify.admin_base_url,
            },
        )
        two = add_woocommerce(
            session,
            runtime.clock,
            runtime.vault,
            url=woo.url,
            consumer_key=woo.consumer_key,
            consumer_secret=woo.consumer_secret,
            allow_private=True,
        )
        return DemoShops(one.id, two.id, create_token(session, one.id, "demo"))

    return execute(runtime, add)


def _shopify_scenario(store: Any) -> dict[str, int]:
    """Three customers order more than is left of two oversellable variants; one cancels."""
    from sandbox.shopify.ids import gid

    sellable = [
        v
        for v in store.variants.values()
        if v.inventoryPolicy == "CONTINUE" and store.available(v) >= 0
    ][:2]
    placed = []
    for variant in sellable:
        target = gid("ProductVariant", variant.number)
        placed.append(store.place_order([(target, store.available(variant) + 2)]))
        placed.append(store.place_order([(target, 1)], shipping="Express"))
    store.cancel_order(placed[-1])
    store.restock(gid("ProductVariant", sellable[0].number), 1)  # a delivery arrives short
    return {"orders_placed": len(placed), "orders_cancelled": 1, "restocked_units": 1}


def _woocommerce_scenario(store: Any) -> dict[str, int]:
    """The same on WooCommerce: stock goes negative where backorders are allowed."""
    simple = [
        p
        for p in store.products.values()
        if p.type == "simple"
        and p.manage_stock
        and p.backorders in ("notify", "yes")
        and (p.stock_quantity or 0) >= 0
    ][:2]
    placed = []
    for product in simple:
        placed.append(store.place_order([(product.id, 0, (product.stock_quantity or 0) + 2)]))
        placed.append(store.place_order([(product.id, 0, 1)]))
    store.cancel_order(placed[-1])
    store.restock(simple[0].id, 0, 1)
    return {"orders_placed": len(placed), "orders_cancelled": 1, "restocked_units": 1}


def _purchase_order(runtime: Runtime, shop_id: int) -> str | None:
    """The merchant records a purchase order for the first backordered variant."""
    from sqlalchemy import select

    from connector.models import Backorder

    def record(session: Any) -> str | None:
        variant_id = session.scalar(
            select(Backorder.variant_id).where(Backorder.shop_id == shop_id).limit(1)
        )
        if variant_id is None:
            return None
        variant = session.get_one(Variant, variant_id)
        shop = session.get_one(Shop, shop_id)
        expected = shop_today(runtime.clock, shop.timezone) + timedelta(days=6)
        add_incoming(
            session, runtime.clock, variant, quantity=2, expected_on=expected, reference="PO-DEMO-1"
        )
        return variant.sku

    return execute(runtime, record)


def prepare(runtime: Runtime, sandboxes: Any) -> tuple[DemoShops, dict[str, Any]]:
    """Install, sync, play the scenario, sync again: what the dashboard and API then show."""
    upgrade(runtime.db.engine)
    shops = _add_shops(runtime, sandboxes)
    first = {
        "shopify": run_sync_for(runtime, shops.shopify_id, full=True).records,
        "woocommerce": run_sync_for(runtime, shops.woocommerce_id, full=True).records,
    }
    scenario = {
        "shopify": _shopify_scenario(sandboxes.shopify.store),
        "woocommerce": _woocommerce_scenario(sandboxes.woocommerce.store),
    }
    for shop_id in (shops.shopify_id, shops.woocommerce_id):
        run_sync_for(runtime, shop_id, full=True)  # stock changes need the product walk too
    po_for = _purchase_order(runtime, shops.shopify_id)
    return shops, {"first_sync": first, "scenario": scenario, "purchase_order_for": po_for}


def _check_api(runtime: Runtime, token: str) -> dict[str, Any]:
    from connector.web import create_app

    client = create_app(runtime).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    health = client.get("/healthz")
    backorders = client.get("/api/v1/backorders?status=waiting", headers=auth)
    items = backorders.get_json()["items"]
    return {
        "healthz": health.status_code,
        "backorders": backorders.status_code,
        "waiting_backorders": len(items),
        "queue": [
            {
                key: row[key]
                for key in ("order_name", "sku", "quantity", "queue_position", "eta", "eta_source")
            }
            for row in sorted(items, key=lambda r: (r["sku"], r["queue_position"]))
        ],
    }


def run_demo(
    runtime: Runtime,
    *,
    once: bool,
    host: str,
    port: int,
    serve: Callable[[Runtime, str, int, int, bool, bool], None],
) -> None:
    from sandbox.run import start_both

    sandboxes = start_both(host, variants=VARIANTS, seed=7, shopify_options=SHOPIFY_PLAN)
    try:
        shops, story = prepare(runtime, sandboxes)
        runtime.bus.dispatch_pending(runtime.db)
        if once:
            found = _check_api(runtime, shops.token)
            ok = found["healthz"] == 200 and found["waiting_backorders"] > 0
            click.echo(json.dumps({"did": story, "found": found, "ok": ok}))
            raise SystemExit(0 if ok else 1)
        url = f"http://{host}:{port}"
        click.echo(
            f"\nBackorder Connector demo — shops {shops.shopify_id} (Shopify sandbox) and "
            f"{shops.woocommerce_id} (WooCommerce sandbox)\n"
            f"  health:     {url}/healthz\n"
            f"  API:        {url}/api/v1/backorders   (token below sees the Shopify shop)\n"
            f"  OpenAPI:    {url}/api/v1/openapi.json\n"
            f"  API token:  {shops.token}\n"
            f"  try:        curl -H 'Authorization: Bearer {shops.token}' "
            f"{url}/api/v1/backorders\n"
            f"  stores:     {json.dumps(sandboxes.describe())}\n"
            f"Press Ctrl-C to stop.\n"
        )
        serve(runtime, host, port, 8, True, True)
    finally:
        sandboxes.stop()
