"""Reorder points for a whole shop: load the facts, plan them in one vectorised call, keep the
result per variant, and raise `ReorderPointReached` for the variants newly at or below theirs.

The facts are each tracked variant of an active product: its daily demand history
(connector/services/demand_history.py), stock available now, incoming stock, the units its
waiting backorders are short, and the lead time to plan with (the merchant's, else learned from
receipts: connector/services/lead_times.py). The plan is connector/domain/demand.py.

Revenue at risk orders the list: the value of the waiting backorders plus what the forecast
says will be asked for before a reorder placed today can arrive and the stock cannot cover.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from connector.clock import shop_today
from connector.domain.demand import ReorderPlan, plan_reorders, reason
from connector.domain.events import ReorderPointReached
from connector.domain.lead_times import LeadTime
from connector.models import (
    Backorder,
    IncomingStock,
    InventoryLevel,
    Product,
    ReorderPoint,
    Shop,
    Variant,
)
from connector.services.backorders import record_events
from connector.services.demand_history import DemandHistory, load_history
from connector.services.lead_times import PlanningVariant, lead_times_for, suppliers_of

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

PATH_DAYS = 28  # the forecast path kept per variant, for a chart
_CHUNK = 2000


@dataclass(frozen=True)
class ReorderRun:
    shop_id: int
    variants: int
    at_or_below: int
    newly_reached: int


def _sums(session: Session, statement: Any) -> dict[int, int]:
    return {variant_id: int(total or 0) for variant_id, total in session.execute(statement)}


def _variants(session: Session, shop_id: int) -> list[Any]:
    return list(
        session.execute(
            select(
                Variant.id,
                Variant.created_at,
                Variant.sku,
                Variant.title,
                Variant.price,
                Variant.pack_size,
                Variant.min_order_quantity,
                Variant.lead_time_days,
                Product.product_type,
                Product.vendor,
                Product.title.label("product_title"),
            )
            .join(Product, Product.id == Variant.product_id)
            .where(
                Variant.shop_id == shop_id,
                Variant.track_inventory.is_(True),
                Product.status == "active",
            )
            .order_by(Variant.id)
        )
    )


def _stock(session: Session, shop_id: int) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Available now, incoming (open records), and units short on waiting lines, by variant."""
    available = _sums(
        session,
        select(InventoryLevel.variant_id, func.sum(InventoryLevel.available))
        .where(InventoryLevel.shop_id == shop_id)
        .group_by(InventoryLevel.variant_id),
    )
    incoming = _sums(
        session,
        select(IncomingStock.variant_id, func.sum(IncomingStock.quantity))
        .where(IncomingStock.shop_id == shop_id, IncomingStock.received_at.is_(None))
        .group_by(IncomingStock.variant_id),
    )
    waiting = _sums(
        session,
        select(Backorder.variant_id, func.sum(Backorder.quantity - Backorder.allocated_quantity))
        .where(Backorder.shop_id == shop_id, Backorder.status == "waiting")
        .group_by(Backorder.variant_id),
    )
    return available, incoming, waiting


@dataclass(frozen=True)
class ShopPlan:
    variants: list[Any]  # rows of _variants, in the plan's order
    plan: ReorderPlan
    history: DemandHistory
    leads: dict[int, LeadTime]


def plan_shop(session: Session, shop: Shop, today: date) -> ShopPlan:
    """Every tracked variant of the shop, planned in one call."""
    variants = _variants(session, shop.id)
    available, incoming, waiting = _stock(session, shop.id)
    suppliers = suppliers_of(session, shop.id)
    planning = [
        PlanningVariant(v.id, v.lead_time_days, suppliers.get(v.id) or v.vendor or "")
        for v in variants
    ]
    leads = lead_times_for(session, shop, planning)
    history = load_history(session, shop, [(v.id, v.created_at) for v in variants], today)
    groups: dict[str, int] = {}
    ids = [v.id for v in variants]
    plan = plan_reorders(
        history.demand,
        history.observed,
        lead_time_days=np.array([leads[i].mean_days for i in ids], dtype=float),
        lead_time_std_days=np.array([leads[i].std_days for i in ids], dtype=float),
        review_days=float(shop.review_days),
        # Shopify's available goes below zero by what it oversold: those units are the
        # waiting lines, counted once, below.
        on_hand=np.array([max(0, available.get(i, 0)) for i in ids], dtype=float),
        incoming=np.array([incoming.get(i, 0) for i in ids], dtype=float),
        waiting=np.array([waiting.get(i, 0) for i in ids], dtype=float),
        pack_size=np.array([v.pack_size or 0 for v in variants], dtype=np.int64),
        min_order_quantity=np.array([v.min_order_quantity or 0 for v in variants], dtype=np.int64),
        group=np.array(
            [groups.setdefault(v.product_type or "", len(groups)) for v in variants],
            dtype=np.int64,
        ),
        service_level=float(shop.service_level),
    )
    return ShopPlan(variants, plan, history, leads)


def _revenue_at_risk(plan: ReorderPlan, i: int, price: Decimal) -> Decimal:
    uncovered = max(0.0, plan.forecast_lead_time[i] - plan.on_hand[i] - plan.incoming[i])
    units = plan.waiting[i] + uncovered
    return (price * Decimal(str(round(units, 2)))).quantize(Decimal("0.01"))


def recompute_shop(runtime: Runtime, shop_id: int) -> ReorderRun:
    """One shop's reorder points, in one transaction; events for those newly at or below."""
    with runtime.db.transaction() as session:
        shop = session.get_one(Shop, shop_id)
        now = runtime.clock.now()
        today = shop_today(runtime.clock, shop.timezone)
        planned = plan_shop(session, shop, today)
        variants, plan, history, leads = (
            planned.variants,
            planned.plan,
            planned.history,
            planned.leads,
        )
        before = {
            variant_id: (at_or_below, reached_at)
            for variant_id, at_or_below, reached_at in session.execute(
                select(
                    ReorderPoint.variant_id, ReorderPoint.at_or_below, ReorderPoint.reached_at
                ).where(ReorderPoint.shop_id == shop_id)
            )
        }
        paths = plan.forecast_path(PATH_DAYS)
        rows, reached = [], []
        for i, v in enumerate(variants):
            line = plan.line(i)
            was_below, reached_at = before.get(v.id, (False, None))
            if line.at_or_below and not was_below:
                reached_at = now
                reached.append(v.id)
            elif not line.at_or_below:
                reached_at = None
            lead = leads[v.id]
            rows.append(
                {
                    "shop_id": shop_id,
                    "variant_id": v.id,
                    "computed_at": now,
                    "method": line.method,
                    "daily_demand": line.daily_demand,
                    "forecast_lead_time": line.forecast_lead_time,
                    "safety_stock": line.safety_stock,
                    "reorder_point": line.reorder_point,
                    "suggested_quantity": line.suggested_quantity,
                    "on_hand": int(line.on_hand),
                    "incoming": int(line.incoming),
                    "waiting": int(line.waiting),
                    "lead_time_days": lead.mean_days,
                    "lead_time_source": lead.source,
                    "revenue_at_risk": _revenue_at_risk(plan, i, v.price or Decimal("0")),
                    "at_or_below": line.at_or_below,
                    "reached_at": reached_at,
                    "reason": reason(line),
                    "details": {
                        "sigma_daily": round(line.sigma_daily, 4),
                        "service_level": float(shop.service_level),
                        "lead_time_std_days": round(lead.std_days, 2),
                        "review_days": shop.review_days,
                        "observed_days": line.observed_days,
                        "censored_days": int(history.stocked_out_days[i]),
                        "inventory_position": line.inventory_position,
                        "next_days": [round(float(x), 3) for x in paths[i]],
                    },
                }
            )
        session.execute(delete(ReorderPoint).where(ReorderPoint.shop_id == shop_id))
        for start in range(0, len(rows), _CHUNK):
            session.execute(insert(ReorderPoint), rows[start : start + _CHUNK])
        if reached:
            record_events(session, shop_id, [ReorderPointReached(v) for v in reached], now)
    runtime.bus.dispatch_pending(runtime.db)
    below = sum(1 for row in rows if row["at_or_below"])
    log.info(
        "reorder points of shop %s: %d variants, %d at or below (%d newly)",
        shop_id,
        len(rows),
        below,
        len(reached),
    )
    return ReorderRun(shop_id, len(rows), below, len(reached))


def queue_all(runtime: Runtime) -> int:
    """Daily: every active shop's recompute as a job of its own (any worker may take it)."""
    from connector.tasks import REORDER

    with runtime.db.transaction() as session:
        shop_ids = list(
            session.scalars(select(Shop.id).where(Shop.status == "active").order_by(Shop.id))
        )
    for shop_id in shop_ids:
        runtime.jobs.enqueue(REORDER, shop_id, key=f"{REORDER}:{shop_id}")
    return len(shop_ids)


def last_computed(session: Session, shop_id: int) -> datetime | None:
    return session.scalar(
        select(func.max(ReorderPoint.computed_at)).where(ReorderPoint.shop_id == shop_id)
    )
