"""Incoming stock recorded by the merchant (API, dashboard, CSV) or read from the platform."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.clock import Clock, shop_today
from connector.models import IncomingStock, Shop, Variant
from connector.services.errors import Invalid, NotFound

MAX_QUANTITY = 1_000_000


def find_variant(
    session: Session, shop_id: int | None, *, variant_id: int | None, sku: str | None
) -> Variant:
    """The variant a request names, by id or SKU, within the caller's shop only."""
    if variant_id is not None:
        variant = session.get(Variant, variant_id)
        if variant is None or (shop_id is not None and variant.shop_id != shop_id):
            raise NotFound(f"no variant with id {variant_id}", field="variant_id")
        return variant
    if shop_id is None:
        raise Invalid("shop_id is required to find a variant by SKU", field="shop_id")
    matches = session.scalars(
        select(Variant).where(Variant.shop_id == shop_id, Variant.sku == sku).limit(2)
    ).all()
    if not matches:
        raise Invalid(f"no variant with SKU {sku!r} in this shop", field="sku")
    if len(matches) > 1:
        raise Invalid(f"SKU {sku!r} names several variants; pass variant_id", field="sku")
    return matches[0]


def add_incoming(
    session: Session,
    clock: Clock,
    variant: Variant,
    *,
    quantity: int,
    expected_on: date,
    reference: str = "",
    source: str = "manual",
) -> IncomingStock:
    shop = session.get_one(Shop, variant.shop_id)
    if not 0 < quantity <= MAX_QUANTITY:
        raise Invalid(f"must be between 1 and {MAX_QUANTITY}", field="quantity")
    today = shop_today(clock, shop.timezone)
    if expected_on < today:
        raise Invalid(
            f"must be today ({today.isoformat()}, shop time) or later", field="expected_on"
        )
    incoming = IncomingStock(
        shop_id=variant.shop_id,
        variant_id=variant.id,
        quantity=quantity,
        expected_on=expected_on,
        reference=reference,
        source=source,
    )
    session.add(incoming)
    session.flush()
    return incoming
