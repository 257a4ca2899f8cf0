"""A message's content, read from the database when it is sent, not when it was recorded.

An e-mail held for an hour by a dead SMTP server still says today's ETA, what it rests on
(the incoming shipment's reference and date) and alternatives that are in stock now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.links import product_url
from connector.clock import Clock, shop_today
from connector.domain import notify as rules
from connector.mail import formats
from connector.models import (
    Backorder,
    IncomingStock,
    MailTemplate,
    Order,
    OrderLine,
    Product,
    Shop,
    Variant,
)
from connector.services.status_links import status_url

if TYPE_CHECKING:
    from connector.config import Settings

log = logging.getLogger(__name__)

ALTERNATIVES_SHOWN = 3


def shop_context(shop: Shop) -> dict[str, Any]:
    return {
        "name": shop.name or shop.domain,
        "brand_color": shop.brand_color,
        "logo_url": shop.logo_url,
        "support_email": shop.support_email,
    }


def locales(shop: Shop, order: Order | None) -> list[str]:
    """The customer's language where the order says it, else the shop's, else English."""
    preferred = [order.locale if order is not None else None, shop.locale, "en"]
    return [tag for tag in dict.fromkeys(preferred) if tag]


def overrides(session: Session, shop_id: int, kind: str) -> dict[tuple[str, str], dict[str, str]]:
    """The merchant's own parts of `kind`, in the shape `connector.mail.render` takes."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for row in session.scalars(
        select(MailTemplate).where(MailTemplate.shop_id == shop_id, MailTemplate.kind == kind)
    ):
        found.setdefault((row.kind, row.locale), {})[row.part] = row.body
    return found


def _incoming(session: Session, variant_id: int | None, reference: str | None) -> date | None:
    if variant_id is None or not reference:
        return None
    return session.scalar(
        select(IncomingStock.expected_on)
        .where(
            IncomingStock.variant_id == variant_id,
            IncomingStock.reference == reference,
            IncomingStock.received_at.is_(None),
        )
        .order_by(IncomingStock.expected_on)
        .limit(1)
    )


def _ranked(session: Session, backorder: Backorder) -> list[dict[str, Any]]:
    """The alternatives stored with the backorder; ranked now if they were not stored yet."""
    if backorder.alternatives:
        return list(backorder.alternatives.get("items", ()))
    from connector.services.alternatives import alternatives_for
    from connector.services.errors import NotFound

    try:
        found = alternatives_for(
            session,
            None,
            backorder.variant_id,
            quantity=backorder.quantity,
            limit=ALTERNATIVES_SHOWN,
        )
    except NotFound:
        return []
    return [
        {"variant_id": s.variant_id, "sku": s.sku, "title": s.title, "price": str(s.price)}
        for s in found
    ]


def alternatives(
    session: Session, shop: Shop, backorder: Backorder, locale: str | None
) -> list[dict[str, Any]]:
    items = _ranked(session, backorder)[:ALTERNATIVES_SHOWN]
    ids = [int(item["variant_id"]) for item in items]
    pages = {
        v.id: (v.external_id, p.handle)
        for v, p in session.execute(
            select(Variant, Product)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.id.in_(ids), Variant.shop_id == shop.id)
        )
    }
    shown = []
    for item in items:
        external_id, handle = pages.get(int(item["variant_id"]), ("", ""))
        shown.append(
            {
                "title": item.get("title", ""),
                "sku": item.get("sku", ""),
                "url": product_url(shop.platform, shop.domain, handle, external_id)
                if external_id
                else None,
                "price": formats.money(item.get("price"), shop.currency, locale) or None,
            }
        )
    return shown


def line_context(
    session: Session, shop: Shop, backorder: Backorder, line: OrderLine, locale: str | None
) -> dict[str, Any]:
    kind, reference = rules.source_kind(backorder.eta_source)
    return {
        "title": line.title or line.sku,
        "sku": line.sku,
        "quantity": backorder.quantity,
        "eta": backorder.eta,
        "eta_source_kind": kind,
        "incoming_reference": reference,
        "incoming_expected_on": _incoming(session, backorder.variant_id, reference)
        if kind == "incoming"
        else None,
        "alternatives": Lazy(lambda: alternatives(session, shop, backorder, locale)),
    }


class Lazy(Sequence[Any]):
    """A list made on first use. The alternatives cost a ranking per line, and only the
    templates that offer them ("placed", "late", or a merchant's own) ever read them."""

    def __init__(self, make: Callable[[], list[Any]]) -> None:
        self._make = make
        self._items: list[Any] | None = None

    @property
    def used(self) -> bool:
        """Whether anything read the list: what a message showed is what it recorded."""
        return self._items is not None

    def _list(self) -> list[Any]:
        if self._items is None:
            self._items = list(self._make())
        return self._items

    def __getitem__(self, index: Any) -> Any:
        return self._list()[index]

    def __len__(self) -> int:
        return len(self._list())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._list())

    def __bool__(self) -> bool:
        return bool(self._list())


def customer_context(
    session: Session,
    settings: Settings,
    shop: Shop,
    order: Order,
    backorder: Backorder | None,
    payload: Mapping[str, Any],
    *,
    clock: Clock,
) -> dict[str, Any]:
    """Everything a customer template may name; the row's own facts (`payload`) fill the
    kind-specific names (the alternative chosen, the refund note, ...)."""
    locale = locales(shop, order)[0]
    today = shop_today(clock, shop.timezone)
    lines: list[dict[str, Any]] = []
    waited: int | None = None
    if backorder is not None:
        line = session.get_one(OrderLine, backorder.order_line_id)
        lines.append(line_context(session, shop, backorder, line, locale))
        waited = (today - backorder.placed_at.date()).days
    told = formats.as_date(payload.get("told_eta"))
    return {
        "shop": shop_context(shop),
        "customer_name": order.customer_name or "",
        "order_name": order.name or order.external_id,
        "status_url": status_url(settings, shop.id, order.id, clock=clock),
        "lines": lines,
        "old_eta": told,
        "new_eta": backorder.eta if backorder is not None else None,
        "waited_days": payload.get("waited_days", waited),
        "alternative_title": payload.get("alternative_title"),
        "refund_note": payload.get("refund_note"),
        "line_title": payload.get("line_title") or (lines[0]["title"] if lines else None),
    }


def merchant_context(shop: Shop, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A merchant message says what was true when it was recorded (`payload["context"]`)."""
    return {"shop": shop_context(shop), **dict(payload.get("context") or {})}
