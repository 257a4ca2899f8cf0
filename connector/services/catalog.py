"""The catalogue from the store: products, variants and the stock levels they carry.

Syncs and webhooks both end here, so a product update missed by one is applied by the other.
A reading older than the one we hold (a webhook that lost a race with a sync page) changes
nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from adapters.base import StoreProduct, StoreVariant
from connector.clock import Clock
from connector.domain.events import Event
from connector.models import OrderLine, Product, Shop, Variant
from connector.services.backorders import lock_variants, reconcile
from connector.services.stock import upsert_level

log = logging.getLogger(__name__)


def require_aware(value: object, what: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{what} is missing or has no time zone")


def _check_product(product: StoreProduct) -> None:
    if not product.external_id:
        raise ValueError("no product id")
    require_aware(product.updated_at, "updated_at")
    for variant in product.variants:
        require_aware(variant.updated_at, f"variant {variant.external_id} updated_at")
        if variant.inventory_policy not in ("deny", "continue"):
            raise ValueError(f"variant {variant.external_id} policy {variant.inventory_policy!r}")


def apply_products(
    session: Session,
    clock: Clock,
    shop: Shop,
    products: Sequence[StoreProduct],
    *,
    stock_included: bool = True,
) -> tuple[int, int, list[Event]]:
    """Upsert products, their variants and the levels they carry; re-plan what changed.

    `stock_included=False`: the store said nothing about stock (Shopify's product webhooks),
    so whether stock is tracked, and the levels, stay as we hold them.
    Returns (stored, skipped, events). A malformed product is skipped with a logged reason.
    """
    touched: list[int] = []
    skipped = 0
    for product in products:
        try:
            _check_product(product)
            with session.begin_nested():
                touched += _upsert_product(session, shop, product, stock_included)
        except (ValueError, TypeError, ArithmeticError) as exc:
            skipped += 1
            log.warning("skipped product %s of shop %s: %s", product.external_id, shop.id, exc)
    lock_variants(session, touched)
    return len(products) - skipped, skipped, reconcile(session, clock, touched)


def _upsert_product(
    session: Session, shop: Shop, product: StoreProduct, stock_included: bool
) -> list[int]:
    row = session.scalar(
        select(Product).where(
            Product.shop_id == shop.id, Product.external_id == product.external_id
        )
    )
    if row is None:
        row = Product(shop_id=shop.id, external_id=product.external_id)
        session.add(row)
    elif row.platform_updated_at and product.updated_at < row.platform_updated_at:
        return []  # we hold a newer reading (a webhook beat this page)
    row.title = product.title
    row.handle = product.handle
    row.description = product.description
    row.product_type = product.product_type
    row.vendor = product.vendor
    row.tags = list(product.tags)
    row.status = product.status
    row.platform_updated_at = product.updated_at
    session.flush()
    return [
        _upsert_variant(session, shop, row, variant, stock_included) for variant in product.variants
    ]


def _upsert_variant(
    session: Session, shop: Shop, product: Product, variant: StoreVariant, stock_included: bool
) -> int:
    row = session.scalar(
        select(Variant).where(
            Variant.shop_id == shop.id, Variant.external_id == variant.external_id
        )
    )
    if row is None:
        row = Variant(shop_id=shop.id, external_id=variant.external_id)
        session.add(row)
    row.product_id = product.id
    row.inventory_item_external_id = variant.inventory_item_external_id
    row.sku = variant.sku
    row.title = variant.title
    row.price = variant.price
    row.options = dict(variant.options)
    row.inventory_policy = variant.inventory_policy
    if stock_included or row.track_inventory is None:
        row.track_inventory = variant.managed
    row.platform_updated_at = variant.updated_at
    session.flush()
    # Lines that arrived (by webhook) before their variant was known join it now.
    session.execute(
        update(OrderLine)
        .where(
            OrderLine.shop_id == shop.id,
            OrderLine.variant_id.is_(None),
            OrderLine.variant_external_id == variant.external_id,
        )
        .values(variant_id=row.id)
    )
    for level in variant.levels:
        upsert_level(session, shop.id, row.id, level)
    return row.id


def archive_product(session: Session, shop: Shop, external_id: str) -> bool:
    """The store deleted a product: keep it (its lines still wait) but never offer it again."""
    product = session.scalar(
        select(Product).where(Product.shop_id == shop.id, Product.external_id == external_id)
    )
    if product is None:
        return False
    product.status = "archived"
    return True
