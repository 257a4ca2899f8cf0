"""Dashboard pages on a large shop: `python -m bench.dashboard`.

Why: a support agent answers "when will my order ship?" while the customer waits; every page
must come back at once however large the shop. Issue 11's goal: each page under 300 ms server
time on a shop with 100,000 orders.

How: a SQLite shop of VARIANTS variants and ORDERS orders over a year: the shipped ones written
set-based, the newest OPEN_SHARE stored through the same `ingest_orders` webhooks and syncs use,
so the engine made their backorders (those beyond stock wait); reorder points computed. Then each
page is requested RUNS times through the WSGI app in this process, signed in as the shop's owner
(the time is the server's: routing, queries, rendering; no network).
Progress on stderr; one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from adapters.base import StoreOrder, StoreOrderLine
from bench.scratch import scratch_runtime

VARIANTS = 2000
ORDERS = 100_000
OPEN_SHARE = 0.05
RUNS = 20
PAGE = 500
GOAL_MS = 300.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _catalogue(runtime: Any, variants: int, rng: np.random.Generator) -> tuple[int, list[str]]:
    from sqlalchemy import insert

    from connector.models import InventoryLevel, Product, Variant
    from connector.services.shops import add_shop

    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        shop = add_shop(
            session,
            runtime.clock,
            runtime.vault,
            platform="shopify",
            domain="bench-dashboard.myshopify.com",
            credentials={"access_token": "x"},
            name="Bench Outfitters",
        )
        stamp = {"shop_id": shop.id, "created_at": now, "updated_at": now}
        session.execute(
            insert(Product),
            [
                {**stamp, "external_id": f"p{i}", "title": f"Product {i}", "product_type": "gear"}
                for i in range(variants // 4)
            ],
        )
        products = [p.id for p in session.query(Product.id).order_by(Product.id)]
        session.execute(
            insert(Variant),
            [
                {
                    **stamp,
                    "created_at": now - timedelta(days=400),
                    "product_id": products[i // 4],
                    "external_id": f"v{i}",
                    "sku": f"SKU-{i:05d}",
                    "title": f"Variant {i}",
                    "price": Decimal("29.90"),
                    "inventory_policy": "continue",
                }
                for i in range(variants)
            ],
        )
        ids = [v.id for v in session.query(Variant.id).order_by(Variant.id)]
        session.execute(
            insert(InventoryLevel),
            [
                {
                    **stamp,
                    "variant_id": v,
                    "location_external_id": "1",
                    "on_hand": k,
                    "available": k,
                }
                for v, k in zip(ids, rng.integers(0, 4, len(ids)).tolist(), strict=True)
            ],
        )
        return shop.id, [f"v{i}" for i in range(variants)]


def _shipped(runtime: Any, shop_id: int, count: int, rng: np.random.Generator) -> None:
    """The year's orders that have shipped, written set-based (the engine plans nothing for a
    shipped line, and storing them one page at a time through it is issue 5's benchmark)."""
    from sqlalchemy import insert, select

    from connector.models import Order, OrderLine, Variant

    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        variant_ids = list(session.scalars(select(Variant.id).order_by(Variant.id)))
    weights = rng.pareto(1.3, len(variant_ids)) + 0.05
    stamp = {"shop_id": shop_id, "created_at": now, "updated_at": now}
    for start in range(0, count, 10_000):
        with runtime.db.transaction() as session:
            rows = [
                {
                    **stamp,
                    "external_id": str(n),
                    "name": f"#{n}",
                    "placed_at": now - timedelta(days=float(rng.uniform(1, 365))),
                    "platform_updated_at": now,
                    "customer_email": f"customer{n}@example.com",
                    "customer_name": f"Customer {n}",
                    "fulfillment_status": "fulfilled",
                }
                for n in range(start, min(start + 10_000, count))
            ]
            ids = session.scalars(
                insert(Order).returning(Order.id, sort_by_parameter_order=True), rows
            ).all()
            picks = rng.choice(len(variant_ids), size=len(ids), p=weights / weights.sum())
            session.execute(
                insert(OrderLine),
                [
                    {
                        **stamp,
                        "order_id": order_id,
                        "external_id": f"{order_id}-1",
                        "variant_id": variant_ids[pick],
                        "variant_external_id": f"v{pick}",
                        "sku": f"SKU-{pick:05d}",
                        "title": f"Variant {pick}",
                        "quantity": 1,
                        "fulfilled_quantity": 1,
                        "price": Decimal("29.90"),
                    }
                    for order_id, pick in zip(ids, picks.tolist(), strict=True)
                ],
            )
        log(f"  {start + len(ids):,} of {count:,} shipped orders stored")


def _orders(runtime: Any, shop_id: int, variants: list[str], count: int, seed: int) -> None:
    """The open orders, through the engine as webhooks bring them: beyond stock, they wait."""
    from connector.commands import execute
    from connector.models import Shop
    from connector.services.orders import ingest_orders

    rng = np.random.default_rng(seed)
    now = runtime.clock.now()
    ages = np.sort(rng.uniform(0, 30, count))[::-1]  # oldest first
    weights = rng.pareto(1.3, len(variants)) + 0.05
    for start in range(0, count, PAGE):
        page = []
        for n in range(start, min(start + PAGE, count)):
            placed = now - timedelta(days=float(ages[n]))
            picks = rng.choice(
                len(variants), size=int(rng.integers(1, 4)), p=weights / weights.sum()
            )
            lines = tuple(
                StoreOrderLine(
                    external_id=f"{n}-{k}",
                    variant_external_id=variants[v],
                    quantity=1,
                    sku=f"SKU-{v:05d}",
                    title=f"Variant {v}",
                    price=Decimal("29.90"),
                )
                for k, v in enumerate(sorted(set(picks.tolist())))
            )
            page.append(
                StoreOrder(
                    external_id=str(1_000_000 + n),
                    name=f"#{1_000_000 + n}",
                    placed_at=placed,
                    updated_at=placed,
                    lines=lines,
                    customer_email=f"customer{n}@example.com",
                    customer_name=f"Customer {n}",
                )
            )
        execute(
            runtime,
            lambda s, page=page: ingest_orders(s, runtime.clock, s.get_one(Shop, shop_id), page),
        )
    log(f"  {count:,} open orders stored through the engine")


def _timed(client: Any, path: str, runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{path} answered {answer.status_code}")
    ordered = sorted(times)
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1),
        "max_ms": round(max(times), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=ORDERS)
    parser.add_argument("--variants", type=int, default=VARIANTS)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--seed", type=int, default=2026)
    options = parser.parse_args()

    from sqlalchemy import select

    from connector.models import Backorder, Order, OrderLine
    from connector.services.reorder import recompute_shop
    from connector.services.users import add_user
    from connector.web import create_app

    with scratch_runtime() as runtime:
        clock = runtime.clock
        rng = np.random.default_rng(options.seed)
        started = time.perf_counter()
        shop_id, variants = _catalogue(runtime, options.variants, rng)
        opened = int(options.orders * OPEN_SHARE)
        _shipped(runtime, shop_id, options.orders - opened, rng)
        _orders(runtime, shop_id, variants, opened, options.seed)
        recompute_shop(runtime, shop_id)
        log(f"shop stored in {time.perf_counter() - started:.0f} s")
        with runtime.db.transaction() as session:
            add_user(session, clock, shop_id, "owner@bench.example", "bench password", "owner")
            waiting = session.execute(
                select(Backorder.variant_id, Order.id, Order.customer_email)
                .join(OrderLine, OrderLine.id == Backorder.order_line_id)
                .join(Order, Order.id == OrderLine.order_id)
                .where(Backorder.status == "waiting")
                .order_by(Backorder.id.desc())
                .limit(1)
            ).one()
            backorders = session.query(Backorder).count()
        client = create_app(runtime).test_client()
        client.get("/app/login")
        with client.session_transaction() as session:
            session["csrf"] = "bench"
        client.post(
            "/app/login",
            data={"email": "owner@bench.example", "password": "bench password", "csrf": "bench"},
        )
        variant_id, order_id, email = waiting
        pages = {
            "overview": "/app/",
            "backorders": "/app/backorders",
            "search_by_email": f"/app/backorders?q={email}&status=",
            "order": f"/app/orders/{order_id}",
            "reorder": "/app/reorder",
            "reorder_variant": f"/app/reorder/{variant_id}",
            "problems": "/app/inbox",
        }
        figures: dict[str, Any] = {"bench": "dashboard", "orders": options.orders}
        figures["backorders"] = backorders
        figures["pages"] = {}
        for name, path in pages.items():
            figures["pages"][name] = _timed(client, path, options.runs)
            log(f"{name}: {figures['pages'][name]}")
    worst = max(page["p95_ms"] for page in figures["pages"].values())
    figures["goals"] = {"every_page_p95_under_300ms": worst < GOAL_MS}
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
