"""What the customer's status page shows: each backordered line of one order, in plain words.

Read only, and only what the customer already knows or may know: their items, the dates, how
many orders wait before theirs, the shop's offered alternatives that are in stock right now.
Never another customer's order, a supplier's reference or a purchase order number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.models import QUEUED_STATUSES, Backorder, Order, OrderChange, OrderLine, Shop
from connector.runtime import Runtime
from connector.services.errors import NotFound
from connector.services.reads import get_backorder
from connector.services.self_service import (
    alternative_in_stock,
    offered_alternatives,
    short_quantity,
)

DEFAULT_BRAND = "#1f4e79"
_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")

_BASIS = {
    "in_stock": "stock the shop has now",
    "incoming": "a delivery the shop is expecting",
    "lead_time": "the supplier's usual delivery time",
    "manual": "a date the shop set",
}
_STATUS_WORDS = {
    "ready": "In stock: ready to ship",
    "fulfilled": "Shipped",
    "cancelled": "Cancelled",
}


@dataclass(frozen=True)
class Choice:
    variant_id: int
    title: str
    price: str


@dataclass(frozen=True)
class LineView:
    backorder_id: int
    title: str
    waiting_units: int
    eta: date | None
    basis: str
    ahead: int | None  # orders before this one in the item's queue
    state: str | None  # a change or a closed line, in plain words; None while it waits
    can_change: bool
    alternatives: list[Choice] = field(default_factory=list)


@dataclass(frozen=True)
class ShopView:
    name: str
    brand_color: str
    support_email: str | None
    logo_url: str | None
    currency: str


@dataclass(frozen=True)
class OrderView:
    shop: ShopView
    order_name: str
    lines: list[LineView]


def shop_view(shop: Shop) -> ShopView:
    colour = shop.brand_color if _COLOUR.match(shop.brand_color or "") else DEFAULT_BRAND
    logo = shop.logo_url if (shop.logo_url or "").startswith("https://") else None
    return ShopView(
        name=shop.name or shop.domain,
        brand_color=colour,
        support_email=shop.support_email,
        logo_url=logo,
        currency=shop.currency,
    )


def basis_words(source: str | None) -> str:
    """ "incoming:PO-77" → "a delivery the shop is expecting": the kind, never the reference."""
    if source is None:
        return "no date yet"
    return _BASIS.get(source.split(":", 1)[0], "the shop's own estimate")


def change_words(change: OrderChange, alternative_title: str | None) -> str:
    if change.status == "pending":
        return (
            f"Being switched to {alternative_title}…" if alternative_title else "Being cancelled…"
        )
    if change.status == "done":
        return f"Switched to {alternative_title}" if alternative_title else "Cancelled"
    return "The shop will finish this by hand"


def active_shop_of(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status != "active":
        raise NotFound("no such order")
    return shop


def order_view(session: Session, runtime: Runtime, shop_id: int, order_id: int) -> OrderView:
    shop = active_shop_of(session, shop_id)
    order = session.get(Order, order_id)
    if order is None or order.shop_id != shop.id:
        raise NotFound("no such order")
    rows = session.execute(
        select(Backorder, OrderLine)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .where(Backorder.shop_id == shop.id, OrderLine.order_id == order.id)
        .order_by(OrderLine.id)
    ).all()
    changes = {
        change.backorder_id: change
        for change in session.scalars(
            select(OrderChange).where(
                OrderChange.shop_id == shop.id, OrderChange.order_id == order.id
            )
        )
    }
    lines = [
        _line_view(session, runtime, shop, backorder, line, changes.get(backorder.id))
        for backorder, line in rows
    ]
    return OrderView(shop_view(shop), order.name or order.external_id, lines)


def _line_view(
    session: Session,
    runtime: Runtime,
    shop: Shop,
    backorder: Backorder,
    line: OrderLine,
    change: OrderChange | None,
) -> LineView:
    waiting = backorder.status in QUEUED_STATUSES
    units = short_quantity(backorder)
    state = None
    if change is not None:
        chosen = _title_of(backorder, change.variant_id)
        state = change_words(change, chosen)
    elif not waiting:
        state = _STATUS_WORDS.get(backorder.status, backorder.status)
    ahead = None
    if waiting:
        row = get_backorder(session, shop.id, backorder.id)
        if row is not None and row.queue_position is not None:
            ahead = row.queue_position - 1
    can_change = waiting and change is None and units > 0
    return LineView(
        backorder_id=backorder.id,
        title=line.title or line.sku or "Item",
        waiting_units=units if waiting else 0,
        eta=backorder.eta if waiting else None,
        basis=basis_words(backorder.eta_source),
        ahead=ahead,
        state=state,
        can_change=can_change,
        alternatives=_choices(session, runtime, backorder, units) if can_change else [],
    )


def _title_of(backorder: Backorder, variant_id: int | None) -> str | None:
    if variant_id is None:
        return None
    for item in offered_alternatives(backorder):
        if item.get("variant_id") == variant_id:
            return str(item.get("title") or item.get("sku") or "the alternative")
    return "the alternative"


def _choices(session: Session, runtime: Runtime, backorder: Backorder, units: int) -> list[Choice]:
    """The stored alternatives that would ship from stock now for the waiting units."""
    found = []
    for item in offered_alternatives(backorder):
        variant_id = item.get("variant_id")
        if not isinstance(variant_id, int):
            continue
        try:
            in_stock = alternative_in_stock(session, runtime, variant_id, units)
        except NotFound:  # deleted from the store since it was offered
            continue
        if in_stock:
            title = str(item.get("title") or item.get("sku") or "")
            found.append(Choice(variant_id, title, str(item.get("price") or "")))
    return found
