"""What the calendar sends on its own: the late-promise check and the merchant's daily digest.

No event says "a promised date has passed" or "it is eight in the morning in Berlin", so the
scheduler runs both hourly (connector/scheduler.py); their dedupe keys make a run twice, or a
run after a missed hour, record each message once.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.clock import shop_today, shop_zone
from connector.domain import notify as rules
from connector.models import (
    Backorder,
    IncomingStock,
    Notification,
    Order,
    OrderLine,
    ReorderPoint,
    Shop,
    Variant,
)
from connector.models.backorders import QUEUED_STATUSES
from connector.services.notify.record import (
    CHUNK,
    insert_rows,
    knowledge_of,
    merchant_recipients,
    outbox_row,
    reachable,
    tell_merchant,
)
from connector.services.reorder_alerts import variant_facts

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

DIGEST_LIST_LIMIT = 200  # rows per digest section; the dashboard has the rest


def _active_shops(runtime: Runtime) -> list[int]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(select(Shop.id).where(Shop.status == "active").order_by(Shop.id))
        )


def _each_shop(runtime: Runtime, work: Any, what: str) -> int:
    done = 0
    for shop_id in _active_shops(runtime):
        try:
            with runtime.db.transaction() as session:
                done += work(runtime, session, session.get_one(Shop, shop_id))
        except Exception:  # one shop's failure must not stop the others; it is logged
            log.exception("%s failed for shop %s", what, shop_id)
    return done


# ---- late promises -----------------------------------------------------------------------------


def late_check(runtime: Runtime) -> int:
    """Record a "late" message for every waiting line whose told date has passed; how many."""
    return _each_shop(runtime, _late_for_shop, "late check")


def _late_for_shop(runtime: Runtime, session: Session, shop: Shop) -> int:
    if rules.channel_for(rules.Kind.LATE, shop.mail_kinds) == rules.OFF:
        return 0
    today = shop_today(runtime.clock, shop.timezone)
    channel = rules.channel_for(rules.Kind.LATE, shop.mail_kinds)
    waiting = session.execute(
        select(Backorder, OrderLine, Order)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Backorder.shop_id == shop.id, Backorder.status.in_(QUEUED_STATUSES))
        .order_by(Backorder.id)
    )
    found = [(b, line, order) for b, line, order in waiting if reachable(shop, order)]
    rows = []
    for start in range(0, len(found), CHUNK):
        chunk = found[start : start + CHUNK]
        knowledge = knowledge_of(session, [b.id for b, _, _ in chunk])
        for backorder, line, order in chunk:
            known = knowledge.get(backorder.id)
            if known is None or known.underway or known.told is None:
                continue
            if not rules.late_due(known.told.eta, backorder.eta, today=today):
                continue
            told = known.told
            rows.append(
                outbox_row(
                    order_id=order.id,
                    backorder_id=backorder.id,
                    kind=rules.Kind.LATE,
                    channel=channel,
                    recipient=order.customer_email or "",
                    key=rules.dedupe_key(rules.Kind.LATE, backorder.id, told),
                    payload={
                        "order": order.name or order.external_id,
                        "line": line.external_id,
                        "sku": line.sku,
                        "told_eta": told.eta.isoformat() if told.eta else None,
                    },
                )
            )
    before = len(rows)
    insert_rows(runtime, session, shop.id, rows)
    return before


# ---- the merchant's digest ---------------------------------------------------------------------


def send_digests(runtime: Runtime) -> int:
    """Record each shop's digest once its 08:00 has come, if there is anything to report."""
    return _each_shop(runtime, _digest_for_shop, "digest")


def _digest_for_shop(runtime: Runtime, session: Session, shop: Shop) -> int:
    if not merchant_recipients(shop):
        return 0
    local = runtime.clock.now().astimezone(shop_zone(shop.timezone))
    if not rules.digest_due(local.hour):
        return 0
    key = f"digest:{local.date().isoformat()}"
    if _digest_recorded(session, shop.id, key):
        return 0
    context = digest_context(runtime, session, shop, local.date())
    if not any(
        context[name] for name in ("new_backorders", "late_incoming", "long_waits", "reorder")
    ):
        return 0
    return len(
        tell_merchant(
            runtime,
            session,
            shop=shop,
            kind=rules.Kind.DIGEST,
            dedupe_key=key,
            payload={"context": context},
        )
    )


def _digest_recorded(session: Session, shop_id: int, key: str) -> bool:
    return (
        session.scalar(
            select(Notification.id)
            .where(Notification.shop_id == shop_id, Notification.dedupe_key.startswith(key + ":"))
            .limit(1)
        )
        is not None
    )


def _since(runtime: Runtime, session: Session, shop_id: int) -> datetime:
    last = session.scalar(
        select(func.max(Notification.created_at)).where(
            Notification.shop_id == shop_id, Notification.kind == rules.Kind.DIGEST
        )
    )
    return last or runtime.clock.now() - timedelta(hours=24)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def digest_context(runtime: Runtime, session: Session, shop: Shop, day: date) -> dict[str, Any]:
    """New backorders since the last digest (else the last 24 h), incoming stock past its
    grace days and still not received, lines waiting longer than the shop's limit."""
    now = runtime.clock.now()
    today = shop_today(runtime.clock, shop.timezone)
    lines = (
        select(Backorder, OrderLine, Order)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Backorder.shop_id == shop.id)
    )
    new = session.execute(
        lines.where(Backorder.created_at > _since(runtime, session, shop.id))
        .order_by(Backorder.id)
        .limit(DIGEST_LIST_LIMIT)
    )
    cutoff = now - timedelta(days=shop.digest_wait_days)
    waits = session.execute(
        lines.where(Backorder.status.in_(QUEUED_STATUSES), Backorder.placed_at < cutoff)
        .order_by(Backorder.placed_at, Backorder.id)
        .limit(DIGEST_LIST_LIMIT)
    )
    late = session.execute(
        select(IncomingStock, Variant.sku)
        .join(Variant, Variant.id == IncomingStock.variant_id)
        .where(
            IncomingStock.shop_id == shop.id,
            IncomingStock.received_at.is_(None),
            IncomingStock.expected_on < today - timedelta(days=shop.late_grace_days),
        )
        .order_by(IncomingStock.expected_on, IncomingStock.id)
        .limit(DIGEST_LIST_LIMIT)
    )
    since = _since(runtime, session, shop.id)
    reached = session.scalars(
        select(ReorderPoint.variant_id)
        .where(
            ReorderPoint.shop_id == shop.id,
            ReorderPoint.at_or_below.is_(True),
            ReorderPoint.reached_at > since,
        )
        .order_by(ReorderPoint.revenue_at_risk.desc(), ReorderPoint.variant_id)
        .limit(DIGEST_LIST_LIMIT)
    ).all()
    return {
        "day": day.isoformat(),
        "reorder": variant_facts(session, shop.id, list(reached)),
        "new_backorders": [
            {
                "order_name": o.name or o.external_id,
                "sku": line.sku,
                "title": line.title,
                "quantity": b.quantity,
                "eta": _iso(b.eta),
            }
            for b, line, o in new
        ],
        "late_incoming": [
            {
                "sku": sku,
                "reference": i.reference,
                "expected_on": i.expected_on.isoformat(),
                "quantity": i.quantity,
            }
            for i, sku in late
        ],
        "long_waits": [
            {
                "order_name": o.name or o.external_id,
                "sku": line.sku,
                "title": line.title,
                "waited_days": (now - b.placed_at).days,
                "eta": _iso(b.eta),
            }
            for b, line, o in waits
        ],
        "wait_days": shop.digest_wait_days,
        "dashboard_url": f"{runtime.settings.APP_URL}/app/",
    }
