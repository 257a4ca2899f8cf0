"""Availability as a use case: what a new order of a variant would get if placed now.

The storefront widget shows it to shoppers ("Ships by 12 Dec") and the selling-on-backorder
rules decide with it whether a short variant may still be sold. Both must say what the engine
will do when the order arrives, so the facts are loaded exactly as the engine loads them
(`backorders.load_facts`, the whole stock pool) and the promise comes from the engine's own plan
(`domain.quote`). Nothing is written and nothing is locked: a quote is a read, and a quote that
races an order is simply a moment older.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.clock import Clock, shop_today, shop_zone
from connector.domain.quote import quote_new_line
from connector.models import Product, Shop, Variant
from connector.services.alternatives import Suggestion, alternatives_for
from connector.services.backorders import load_facts, stock_pool
from connector.services.errors import Invalid, NotFound

STOREFRONT_TIER = 0  # an order from the product page ships standard: the expedited tier is 1
DEFAULT_ALTERNATIVES = 3
MAX_QUANTITY = 10_000


@dataclass(frozen=True)
class Quote:
    variant_id: int
    quantity: int
    in_stock: bool  # the whole quantity ships from stock on hand
    available: int  # units for sale now (on hand, not waited for by any open line)
    waiting: int  # backordered units ahead of this order in the variant's queue
    eta: date | None  # the date the order would ship by (stock: today + handling days)
    eta_source: str | None  # "in_stock", "incoming:<reference>" or "lead_time"
    alternatives: tuple[Suggestion, ...] = ()  # in-stock substitutes, when the order would wait


def quote(
    session: Session,
    clock: Clock,
    variant_id: int,
    quantity: int = 1,
    *,
    alternatives: int = DEFAULT_ALTERNATIVES,
) -> Quote:
    """The promise a new order of `quantity` units of the variant would get now.

    `alternatives` caps how many substitutes are ranked; they are ranked only when the order
    would wait (an in-stock variant needs none), and 0 skips them (the selling rules need none).
    """
    if not 1 <= quantity <= MAX_QUANTITY:
        raise Invalid(f"quantity must be between 1 and {MAX_QUANTITY}", field="quantity")
    variant = session.get(Variant, variant_id)
    if variant is None:
        raise NotFound(f"no variant with id {variant_id}")
    shop = session.get_one(Shop, variant.shop_id)
    pool = stock_pool(session, variant)
    now = clock.now()
    found = quote_new_line(
        load_facts(session, variant, shop, pool),
        quantity,
        placed_at=now,
        placed_on=now.astimezone(shop_zone(shop.timezone)).date(),
        today=shop_today(clock, shop.timezone),
        priority=STOREFRONT_TIER,
        tracked=any(member.track_inventory for member in pool),
    )
    ranked: tuple[Suggestion, ...] = ()
    if alternatives > 0 and not found.in_stock:
        ranked = tuple(
            alternatives_for(session, shop.id, variant.id, quantity=quantity, limit=alternatives)
        )
    return Quote(
        variant_id=variant.id,
        quantity=quantity,
        in_stock=found.in_stock,
        available=found.available,
        waiting=found.waiting,
        eta=found.eta,
        eta_source=found.eta_source,
        alternatives=ranked,
    )


# ---- the product page's view: platform ids and titles, never anything about customers -----------


@dataclass(frozen=True)
class Listing:
    """An alternative as a product page shows it: what a shopper can click and buy instead."""

    external_id: str
    sku: str
    title: str
    price: Decimal
    available: int
    product_handle: str  # the store's product slug/handle ("" when the store gave none)
    product_external_id: str


@dataclass(frozen=True)
class ProductPageQuote:
    external_id: str
    sku: str
    quote: Quote
    alternatives: tuple[Listing, ...]


def active_shop(
    session: Session, *, shop_id: int | None = None, shopify_domain: str | None = None
) -> Shop:
    """An installed, active shop by id or by its myshopify domain; NotFound otherwise."""
    statement = select(Shop).where(Shop.status == "active")
    if shop_id is not None:
        statement = statement.where(Shop.id == shop_id)
    else:
        statement = statement.where(Shop.platform == "shopify", Shop.domain == shopify_domain)
    shop = session.scalar(statement)
    if shop is None:
        raise NotFound("no such shop")
    return shop


def for_product_page(
    session: Session,
    clock: Clock,
    shop: Shop,
    external_id: str,
    quantity: int = 1,
    *,
    alternatives: int = DEFAULT_ALTERNATIVES,
) -> ProductPageQuote:
    """The quote for the shop's variant with this platform id, as a product page names it."""
    variant = session.scalar(
        select(Variant).where(Variant.shop_id == shop.id, Variant.external_id == external_id)
    )
    if variant is None:
        raise NotFound(f"no variant {external_id!r} in this shop")
    found = quote(session, clock, variant.id, quantity, alternatives=alternatives)
    rows = {
        v.id: (v, p)
        for v, p in session.execute(
            select(Variant, Product)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.id.in_([s.variant_id for s in found.alternatives]))
        )
    }
    listed = tuple(
        Listing(
            external_id=rows[s.variant_id][0].external_id,
            sku=s.sku,
            title=s.title,
            price=s.price,
            available=s.available,
            product_handle=rows[s.variant_id][1].handle,
            product_external_id=rows[s.variant_id][1].external_id,
        )
        for s in found.alternatives
        if s.variant_id in rows
    )
    return ProductPageQuote(variant.external_id, variant.sku, found, listed)
