"""Telling the merchant that variants reached their reorder point: one signed post to their own
webhook per reorder run (the digest lists them too: connector/services/notify/periodic.py).

A first run over a large catalogue can find thousands of variants at once; one post carries
them all (the largest first, up to MAX_VARIANTS, with the full count), rather than thousands of
requests.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from connector.bus import PublishedEvent, event_transaction
from connector.domain import notify as rules
from connector.models import ReorderPoint, Shop, Variant
from connector.services.notify.record import insert_rows, outbox_row

if TYPE_CHECKING:
    from connector.runtime import Runtime

EVENTS = ("ReorderPointReached",)
MAX_VARIANTS = 1000


def variant_facts(session: Any, shop_id: int, variant_ids: list[int]) -> list[dict[str, Any]]:
    """What the merchant is told of each variant, largest revenue at risk first."""
    rows = session.execute(
        select(ReorderPoint, Variant.sku, Variant.title)
        .join(Variant, Variant.id == ReorderPoint.variant_id)
        .where(ReorderPoint.shop_id == shop_id, ReorderPoint.variant_id.in_(variant_ids))
        .order_by(ReorderPoint.revenue_at_risk.desc(), ReorderPoint.variant_id)
        .limit(MAX_VARIANTS)
    )
    return [
        {
            "variant_id": point.variant_id,
            "sku": sku,
            "title": title,
            "on_hand": point.on_hand,
            "incoming": point.incoming,
            "waiting": point.waiting,
            "daily_demand": round(point.daily_demand, 3),
            "reorder_point": round(point.reorder_point, 2),
            "suggested_quantity": point.suggested_quantity,
            "revenue_at_risk": str(point.revenue_at_risk),
            "reason": point.reason,
        }
        for point, sku, title in rows
    ]


def on_events(runtime: Runtime, events: list[PublishedEvent]) -> None:
    by_run: dict[tuple[int, int], list[int]] = defaultdict(list)
    for event in events:
        by_run[(event.shop_id, event.record_id)].append(int(event.payload["variant_id"]))
    with event_transaction(runtime.db, events[0]) as session:
        for (shop_id, record_id), variant_ids in by_run.items():
            shop = session.get(Shop, shop_id)
            if shop is None or shop.status != "active" or not shop.reorder_webhook_url:
                continue
            facts = variant_facts(session, shop_id, variant_ids)
            context = {
                "shop": {"id": shop.id, "domain": shop.domain, "name": shop.name},
                "at": runtime.clock.now().isoformat(),
                "count": len(variant_ids),
                "variants": facts,
            }
            row = outbox_row(
                order_id=None,
                backorder_id=None,
                kind=rules.Kind.REORDER_ALERT,
                channel=rules.WEBHOOK,
                recipient=shop.reorder_webhook_url,
                key=f"reorder:{record_id}",
                payload={"context": context},
            )
            insert_rows(runtime, session, shop_id, [row])


def subscribe(runtime: Runtime) -> None:
    runtime.bus.subscribe_batch(EVENTS, lambda events: on_events(runtime, events))
