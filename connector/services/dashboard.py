"""What the support dashboard shows: the shop at a glance, the backorders an agent looks for, and
one order with everything that happened to it. Read-only; actions go through the services the
API uses (connector/services/backorders.change_backorder).

Every query is scoped to the signed-in user's shop and bounded (counts and sums in the
database, lists paged), so a shop with 100,000 orders answers as fast as a small one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from connector.models import (
    Backorder,
    IncomingStock,
    Notification,
    Order,
    OrderLine,
    ReorderPoint,
    StoreWrite,
    Variant,
    WebhookEvent,
)
from connector.services import reads

CHART_DAYS = 30
PAGE = 50


@dataclass(frozen=True)
class Overview:
    waiting_lines: int
    customers_waiting: int
    revenue_on_backorder: Decimal
    average_wait_days: float
    longest_wait_days: int
    on_time_rate: float | None  # lines shipped by their first promised date, of those shipped
    late_incoming: int
    at_reorder_point: int
    opened: list[int]  # per day of the chart, oldest first
    resolved: list[int]
    chart_start: date


def _count(session: Session, statement: Any) -> int:
    return int(session.scalar(statement) or 0)


def overview(session: Session, shop_id: int, now: datetime, today: date) -> Overview:
    waiting = and_(Backorder.shop_id == shop_id, Backorder.status == "waiting")
    lines = (
        select(
            func.count(Backorder.id),
            func.count(func.distinct(OrderLine.order_id)),
            func.sum((Backorder.quantity - Backorder.allocated_quantity) * OrderLine.price),
            func.min(Backorder.placed_at),
        )
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .where(waiting)
    )
    count, customers, revenue, oldest = session.execute(lines).one()
    placed = session.scalars(select(Backorder.placed_at).where(waiting)).all()
    waits = [(now - at).total_seconds() / 86400 for at in placed]
    shipped = and_(
        Backorder.shop_id == shop_id,
        Backorder.status.in_(("ready", "fulfilled")),
        Backorder.first_promised_eta.is_not(None),
    )
    shipped_count = _count(session, select(func.count()).where(shipped))
    on_time = _count(
        session,
        select(func.count()).where(
            shipped,
            func.date(func.coalesce(Backorder.fulfilled_at, Backorder.ready_at))
            <= Backorder.first_promised_eta,
        ),
    )
    start = today - timedelta(days=CHART_DAYS - 1)
    since = now - timedelta(days=CHART_DAYS)
    opened, resolved = [0] * CHART_DAYS, [0] * CHART_DAYS
    for created, done in session.execute(
        select(
            Backorder.created_at, func.coalesce(Backorder.ready_at, Backorder.cancelled_at)
        ).where(
            Backorder.shop_id == shop_id,
            or_(Backorder.created_at >= since, Backorder.ready_at >= since),
        )
    ):
        for when, counts in ((created, opened), (done, resolved)):
            if when is not None and 0 <= (when.date() - start).days < CHART_DAYS:
                counts[(when.date() - start).days] += 1
    return Overview(
        waiting_lines=int(count or 0),
        customers_waiting=int(customers or 0),
        revenue_on_backorder=Decimal(revenue or 0).quantize(Decimal("0.01")),
        average_wait_days=round(sum(waits) / len(waits), 1) if waits else 0.0,
        longest_wait_days=int((now - oldest).days) if oldest else 0,
        on_time_rate=round(on_time / shipped_count, 3) if shipped_count else None,
        late_incoming=_count(
            session,
            select(func.count()).where(
                IncomingStock.shop_id == shop_id,
                IncomingStock.received_at.is_(None),
                IncomingStock.expected_on < today,
            ),
        ),
        at_reorder_point=_count(
            session,
            select(func.count()).where(
                ReorderPoint.shop_id == shop_id, ReorderPoint.at_or_below.is_(True)
            ),
        ),
        opened=opened,
        resolved=resolved,
        chart_start=start,
    )


def find_backorders(
    session: Session,
    shop_id: int,
    *,
    search: str = "",
    status: str | None = "waiting",
    late_before: date | None = None,
    page: int = 1,
) -> tuple[list[Any], bool]:
    """A page of backorders, oldest first; `search` matches an order name or id, a SKU, or a
    customer's e-mail or name (what a customer tells support). Returns rows and whether more."""
    statement = (
        select(Backorder, Order, OrderLine, Variant.sku)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Variant, Variant.id == Backorder.variant_id)
        .where(Backorder.shop_id == shop_id)
    )
    if status:
        statement = statement.where(Backorder.status == status)
    if late_before is not None:
        statement = statement.where(Backorder.eta < late_before)
    term = search.strip()
    if term:
        like = f"%{term.lower()}%"
        statement = statement.where(
            or_(
                reads.order_matches(term),
                func.lower(Variant.sku) == term.lower(),
                func.lower(Order.customer_email) == term.lower(),
                func.lower(Order.customer_name).like(like),
            )
        )
    rows = session.execute(
        statement.order_by(Backorder.placed_at, Backorder.id)
        .offset((page - 1) * PAGE)
        .limit(PAGE + 1)
    ).all()
    return rows[:PAGE], len(rows) > PAGE


@dataclass(frozen=True)
class OrderView:
    order: Order
    lines: list[dict[str, Any]]
    messages: list[Notification]
    writes: list[StoreWrite]


def order_view(session: Session, shop_id: int, order_id: int) -> OrderView | None:
    order = session.get(Order, order_id)
    if order is None or order.shop_id != shop_id:
        return None
    order_lines = session.scalars(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)
    ).all()
    backorders = {
        row.backorder.order_line_id: row
        for row in reads.list_backorders(
            session, shop_id, reads.PageRequest(limit=200), order=order.external_id
        )
        if row.order_external_id == order.external_id
    }
    lines = [{"line": line, "backorder": backorders.get(line.id)} for line in order_lines]
    messages = session.scalars(
        select(Notification)
        .where(Notification.shop_id == shop_id, Notification.order_id == order.id)
        .order_by(Notification.id)
    ).all()
    writes = session.scalars(
        select(StoreWrite)
        .where(StoreWrite.shop_id == shop_id, StoreWrite.order_id == order.id)
        .order_by(StoreWrite.id)
    ).all()
    return OrderView(order, lines, list(messages), list(writes))


def reorder_rows(session: Session, shop_id: int, limit: int = 200) -> list[Any]:
    """The reorder list's first rows, as the API orders them (revenue at risk)."""
    return list(
        session.execute(
            select(ReorderPoint, Variant.sku, Variant.title)
            .join(Variant, Variant.id == ReorderPoint.variant_id)
            .where(ReorderPoint.shop_id == shop_id)
            .order_by(ReorderPoint.revenue_at_risk.desc(), ReorderPoint.variant_id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class VariantDemand:
    point: ReorderPoint
    sku: str
    title: str
    start: date
    history: list[float]
    censored: list[bool]
    forecast: list[float]


def demand_of(
    session: Session, shop: Any, variant_id: int, today: date, days: int = 56
) -> VariantDemand | None:
    """One variant's last `days` days of demand (censored days marked) and its forecast."""
    from connector.services.demand_history import load_history

    found = session.execute(
        select(ReorderPoint, Variant.sku, Variant.title, Variant.created_at)
        .join(Variant, Variant.id == ReorderPoint.variant_id)
        .where(ReorderPoint.shop_id == shop.id, ReorderPoint.variant_id == variant_id)
    ).one_or_none()
    if found is None:
        return None
    point, sku, title, seen = found
    history = load_history(session, shop, [(variant_id, seen)], today, days=days)
    return VariantDemand(
        point,
        sku,
        title,
        history.start,
        [float(v) for v in history.demand[0]],
        [not bool(v) for v in history.observed[0]],
        [float(v) for v in (point.details or {}).get("next_days", [])],
    )


TROUBLE = ("failed", "rejected", "ignored")


def troubles(session: Session, shop_id: int, limit: int = 100) -> dict[str, list[Any]]:
    """What did not go through: webhook deliveries that failed, were rejected or ignored, and
    messages and store writes that failed, newest first."""
    return {
        "deliveries": list(
            session.scalars(
                select(WebhookEvent)
                .where(WebhookEvent.shop_id == shop_id, WebhookEvent.state.in_(TROUBLE))
                .order_by(WebhookEvent.id.desc())
                .limit(limit)
            )
        ),
        "messages": list(
            session.scalars(
                select(Notification)
                .where(Notification.shop_id == shop_id, Notification.status == "failed")
                .order_by(Notification.id.desc())
                .limit(limit)
            )
        ),
        "writes": list(
            session.scalars(
                select(StoreWrite)
                .where(StoreWrite.shop_id == shop_id, StoreWrite.status == "failed")
                .order_by(StoreWrite.id.desc())
                .limit(limit)
            )
        ),
    }
