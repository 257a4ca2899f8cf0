"""Reorder points, judged by the stock they would have kept: `python -m bench.reorder`.

Why: a reorder point is only as good as the stock-outs it prevents and the stock it costs.
Issue 10's goals: (a) fewer stock-out days than the common baseline (30-day average daily sales
x lead time, no safety stock) at no more than 10 % more average stock; (b) 100,000 variants with
two years of history recomputed in under 60 s.

(a) Accuracy, simulated shops. VARIANTS variants of four kinds (steady, trending up or down,
weekly seasonal, intermittent), Poisson demand around a known mean, two years of history, then
EVAL_DAYS days played day by day under each policy: a weekly review orders up to the policy's
level, the order arrives after the lead time (14 days, a supplier that is 0-4 days late), sales
are what stock covers, the rest is lost, and a day that ends with lost sales is a stock-out day.
The history each review sees is what really sold, with the stock-out days marked censored for
ours (the product keeps them: connector/services/stock_outs.py) and counted as zeros by the
baseline (which is what a 30-day average does). Ours: connector/domain/demand.plan_reorders,
order-up-to = forecast over lead time + review + safety stock. Baseline: 30-day average x
(lead time + review). Forecast error: MASE of the lead-time-plus-review total at each review,
scaled by the in-sample one-step naive error. No installed package ships public retail demand
series (statsmodels, which does ship some data sets, is not installed), so only simulated shops.

(b) Speed, end to end through the database: a SQLite shop with SPEED_VARIANTS variants and
two years of orders (LINES_PER_VARIANT lines each on average, intermittent as most catalogues
are), then `connector.services.reorder.recompute_shop` timed: history read with one GROUP BY,
the plan, the rows written.

Progress on stderr; one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from bench.scratch import scratch_runtime
from connector.domain.demand import plan_reorders

VARIANTS = 2000
HISTORY_DAYS = 730
EVAL_DAYS = 182
LEAD = 14
REVIEW = 7
SPEED_VARIANTS = 100_000
LINES_PER_VARIANT = 40
SERVICE_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- (a) accuracy ------------------------------------------------------------------------------


def true_means(rng: np.random.Generator, n: int, days: int) -> tuple[np.ndarray, list[str]]:
    """Each variant's expected demand per day over history and evaluation, and its kind."""
    t = np.arange(days)[None, :]
    base = rng.gamma(2.0, 2.5, size=(n, 1)) + 0.5
    kinds = rng.choice(["steady", "trend", "seasonal", "intermittent"], size=n)
    means = np.repeat(base, days, axis=1)
    trend = kinds == "trend"
    slope = rng.uniform(-0.6, 1.2, size=(n, 1)) / days  # up to doubling, or down by half
    means[trend] = (base * np.maximum(0.2, 1 + slope * t))[trend]
    seasonal = kinds == "seasonal"
    weekly = np.array([0.7, 0.8, 0.9, 0.9, 1.1, 1.5, 1.1])
    means[seasonal] = (base * weekly[t % 7])[seasonal]
    sparse = kinds == "intermittent"
    means[sparse] = (base * 0.15)[sparse]
    return means, list(kinds)


def draw_demand(rng: np.random.Generator, means: np.ndarray, kinds: list[str]) -> np.ndarray:
    demand = rng.poisson(means).astype(float)
    sparse = np.array([k == "intermittent" for k in kinds])
    # Intermittent: rare orders of several units (a school buying a class set).
    occurs = rng.random(means.shape) < 0.08
    sizes = rng.poisson(np.maximum(means * 12, 1.0))
    demand[sparse] = (occurs * sizes)[sparse]
    return demand


def _history_with_stockouts(
    rng: np.random.Generator, demand: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """What sold and what could be seen: a third of the variants were out for 10-40 days."""
    sales, observed = demand.copy(), np.ones(demand.shape, dtype=bool)
    days = demand.shape[1]
    for i in np.flatnonzero(rng.random(len(demand)) < 1 / 3):
        length = int(rng.integers(10, 41))
        start = int(rng.integers(days // 2, days - length))
        sales[i, start : start + length] = 0
        observed[i, start : start + length] = False
    return sales, observed


def play(
    policy: str,
    sales: np.ndarray,
    observed: np.ndarray,
    future: np.ndarray,
    rng: np.random.Generator,
    service_level: float = 0.95,
    scale_level: float = 1.0,
) -> dict[str, Any]:
    """EVAL_DAYS days of one policy; returns stock-out days, average stock, forecast errors.
    `scale_level` below 1 orders up to less than our forecast (the matched-stock comparison)."""
    n = len(sales)
    history_sales, history_seen = sales.copy(), observed.copy()
    stock = np.full(n, 0.0)
    pipeline: list[tuple[int, np.ndarray]] = []  # (arrival day, units)
    out_days = np.zeros(n)
    on_hand_sum = np.zeros(n)
    errors: list[np.ndarray] = []
    bias = [0.0, 0.0]  # forecast minus actual, and actual, summed over every review
    scale = np.mean(np.abs(np.diff(sales, axis=1)), axis=1) + 1e-9
    first = True
    for day in range(EVAL_DAYS):
        for _arrival, units in [p for p in pipeline if p[0] == day]:
            stock += units
        pipeline = [p for p in pipeline if p[0] > day]
        if day % REVIEW == 0:
            incoming = sum((units for _, units in pipeline), np.zeros(n))
            if policy == "ours":
                plan = plan_reorders(
                    history_sales,
                    history_seen,
                    lead_time_days=float(LEAD),
                    lead_time_std_days=1.4,
                    review_days=float(REVIEW),
                    on_hand=stock,
                    incoming=incoming,
                    service_level=service_level,
                )
                level = plan.order_up_to * scale_level
                forecast_total = plan.daily_demand * (LEAD + REVIEW)
            else:
                recent = history_sales[:, -30:].mean(axis=1)
                level = recent * (LEAD + REVIEW)
                forecast_total = recent * (LEAD + REVIEW)
            if first:  # both start full, at their own level
                stock, first = np.ceil(level), False
                incoming = np.zeros(n)
            order = np.maximum(0.0, np.ceil(level - stock - incoming))
            late = rng.integers(0, 5, size=n)
            for delay in np.unique(late):
                pipeline.append((day + LEAD + int(delay), np.where(late == delay, order, 0.0)))
            horizon = future[:, day : day + LEAD + REVIEW]
            if horizon.shape[1] == LEAD + REVIEW:
                actual = horizon.sum(axis=1)
                errors.append(np.abs(forecast_total - actual) / (LEAD + REVIEW) / scale)
                bias[0] += float((forecast_total - actual).sum())
                bias[1] += float(actual.sum())
        wanted = future[:, day]
        sold = np.minimum(wanted, stock)
        short = wanted > stock
        stock -= sold
        out_days += short
        on_hand_sum += stock
        history_sales = np.concatenate([history_sales[:, 1:], sold[:, None]], axis=1)
        seen = ~short if policy == "ours" else np.ones(n, dtype=bool)
        history_seen = np.concatenate([history_seen[:, 1:], seen[:, None]], axis=1)
    return {
        "stockout_days_per_variant": float(out_days.mean()),
        "average_stock": float((on_hand_sum / EVAL_DAYS).mean()),
        "mase": float(np.mean(np.concatenate(errors))) if errors else None,
        "bias": round(bias[0] / max(bias[1], 1e-9), 3),
    }


def accuracy(variants: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    means, kinds = true_means(rng, variants, HISTORY_DAYS + EVAL_DAYS)
    demand = draw_demand(rng, means, kinds)
    past, future = demand[:, :HISTORY_DAYS], demand[:, HISTORY_DAYS:]
    sales, observed = _history_with_stockouts(rng, past)
    results: dict[str, Any] = {}
    base = play("baseline", sales, observed, future, np.random.default_rng(seed + 1))
    results["baseline"] = base
    log(f"accuracy, baseline: {base}")
    # The shop's service level sets the trade-off: each is played, and the goal is judged at
    # the highest level whose average stock stays within 10 % of the baseline's.
    results["ours"] = {}
    for level in SERVICE_LEVELS:
        ours = play("ours", sales, observed, future, np.random.default_rng(seed + 1), level)
        ours["stock_ratio"] = round(ours["average_stock"] / max(base["average_stock"], 1e-9), 3)
        ours["stockout_ratio"] = round(
            ours["stockout_days_per_variant"] / max(base["stockout_days_per_variant"], 1e-9), 3
        )
        results["ours"][str(level)] = ours
        log(f"accuracy, ours at service level {level}: {ours}")
    within = [o for o in results["ours"].values() if o["stock_ratio"] <= 1.10]
    results["best_within_10pct_stock"] = (
        min(within, key=lambda o: o["stockout_ratio"]) if within else None
    )
    results["matched_stock"] = matched_stock(sales, observed, future, seed, base)
    return results


def matched_stock(
    sales: np.ndarray, observed: np.ndarray, future: np.ndarray, seed: int, base: dict[str, Any]
) -> dict[str, Any]:
    """Ours held to the baseline's stock + 10 %: the order-up-to level (no safety stock) scaled
    down until the average stock fits, found by bisection. That is a service level under 50 %,
    which the product does not offer; it answers whether the better forecast alone, at the
    baseline's stock, stocks out less."""
    low, high, found = 0.3, 1.0, None
    for _ in range(7):
        scale = (low + high) / 2
        ours = play("ours", sales, observed, future, np.random.default_rng(seed + 1), 0.5, scale)
        ours["stock_ratio"] = round(ours["average_stock"] / base["average_stock"], 3)
        ours["stockout_ratio"] = round(
            ours["stockout_days_per_variant"] / base["stockout_days_per_variant"], 3
        )
        ours["scale"] = round(scale, 3)
        log(f"accuracy, ours scaled by {scale:.3f}: {ours}")
        if ours["stock_ratio"] <= 1.10:
            found, low = ours, scale
        else:
            high = scale
    return found or {}


# ---- (b) speed ---------------------------------------------------------------------------------


def _seed_shop(runtime: Any, variants: int, lines_per_variant: int, seed: int) -> int:
    """A shop of `variants` variants and two years of shipped orders, written set-based."""
    from sqlalchemy import insert

    from connector.models import InventoryLevel, Order, OrderLine, Product, Shop, Variant

    rng = np.random.default_rng(seed)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        shop = Shop(
            platform="shopify",
            domain="bench-reorder.myshopify.com",
            installed_at=now,
            credentials=runtime.vault.seal({"access_token": "x"}),
            created_at=now,
            updated_at=now,
        )
        session.add(shop)
        session.flush()
        shop_id = shop.id
        stamp = {"shop_id": shop_id, "created_at": now, "updated_at": now}
        types = [f"type-{k}" for k in range(40)]
        session.execute(
            insert(Product),
            [
                {
                    **stamp,
                    "external_id": f"p{i}",
                    "title": f"Product {i}",
                    "product_type": types[i % 40],
                }
                for i in range(variants // 4)
            ],
        )
        first_product = session.query(Product.id).filter_by(shop_id=shop_id).order_by(Product.id)
        product_ids = [row.id for row in first_product]
        seen = now - timedelta(days=HISTORY_DAYS + 30)
        session.execute(
            insert(Variant),
            [
                {
                    **stamp,
                    "created_at": seen,
                    "product_id": product_ids[i // 4],
                    "external_id": f"v{i}",
                    "sku": f"SKU-{i:06d}",
                    "title": f"Variant {i}",
                    "price": Decimal("19.90"),
                }
                for i in range(variants)
            ],
        )
        variant_ids = [row.id for row in session.query(Variant.id).filter_by(shop_id=shop_id)]
        session.execute(
            insert(InventoryLevel),
            [
                {
                    **stamp,
                    "variant_id": v,
                    "location_external_id": "1",
                    "on_hand": int(k),
                    "available": int(k),
                }
                for v, k in zip(variant_ids, rng.integers(0, 60, variants), strict=True)
            ],
        )
    # Orders of 10 lines each, spread over two years, popular variants more often.
    total = variants * lines_per_variant
    weights = rng.pareto(1.2, variants) + 0.05
    picks = rng.choice(len(variant_ids), size=total, p=weights / weights.sum())
    ages = rng.uniform(1, HISTORY_DAYS, size=total // 10)
    chunk = 50_000
    for start in range(0, total // 10, chunk):
        with runtime.db.transaction() as session:
            orders = [
                {
                    **stamp,
                    "external_id": f"o{n}",
                    "name": f"#{n}",
                    "placed_at": now - timedelta(days=float(ages[n])),
                    "platform_updated_at": now,
                }
                for n in range(start, min(start + chunk, total // 10))
            ]
            ids = session.scalars(
                insert(Order).returning(Order.id, sort_by_parameter_order=True), orders
            ).all()
            lines = [
                {
                    **stamp,
                    "order_id": order_id,
                    "external_id": f"l{n}-{k}",
                    "variant_id": variant_ids[picks[n * 10 + k]],
                    "quantity": 1,
                    "fulfilled_quantity": 1,
                }
                for n, order_id in zip(range(start, start + len(ids)), ids, strict=True)
                for k in range(10)
            ]
            session.execute(insert(OrderLine), lines)
        log(f"  seeded {min(start + chunk, total // 10):,} of {total // 10:,} orders")
    return shop_id


def speed(variants: int, lines_per_variant: int, seed: int) -> dict[str, Any]:
    from connector.services.reorder import recompute_shop

    with scratch_runtime() as runtime:
        started = time.perf_counter()
        shop_id = _seed_shop(runtime, variants, lines_per_variant, seed)
        log(f"speed: shop seeded in {time.perf_counter() - started:.0f} s")
        timings = []
        for _ in range(2):  # the first run writes every row new; the second replaces them
            started = time.perf_counter()
            run = recompute_shop(runtime, shop_id)
            timings.append(time.perf_counter() - started)
            log(f"speed: recompute of {run.variants:,} variants in {timings[-1]:.1f} s")
    return {
        "variants": variants,
        "order_lines": variants * lines_per_variant // 10 * 10,
        "history_days": HISTORY_DAYS,
        "recompute_s": [round(t, 1) for t in timings],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=VARIANTS, help="accuracy backtest")
    parser.add_argument("--speed-variants", type=int, default=SPEED_VARIANTS)
    parser.add_argument("--lines-per-variant", type=int, default=LINES_PER_VARIANT)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip-speed", action="store_true")
    options = parser.parse_args()
    figures: dict[str, Any] = {"bench": "reorder"}
    figures["accuracy"] = accuracy(options.variants, options.seed)
    if not options.skip_speed:
        figures["speed"] = speed(options.speed_variants, options.lines_per_variant, options.seed)
    best = figures["accuracy"]["best_within_10pct_stock"]
    figures["goals"] = {
        "fewer_stockout_days_at_most_10pct_more_stock": best is not None
        and best["stockout_ratio"] < 1,
        **(
            {"recompute_100k_under_60s": max(figures["speed"]["recompute_s"]) < 60}
            if "speed" in figures and options.speed_variants >= 100_000
            else {}
        ),
    }
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
