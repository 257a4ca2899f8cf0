"""Stock levels and incoming stock: each change re-plans the variant's queue at once.

Both are stored against the variant they were reported for. Where variants share one stock (a
stock pool: WooCommerce variations whose parent manages stock), the engine reads them as the
pool's: the newest level per location counts once, and incoming stock recorded against any
variant of the pool is supply for the whole pool's queue.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import StoreInventoryLevel
from connector.clock import Clock, shop_today
from connector.domain.events import Event, IncomingStockChanged
from connector.models import IncomingStock, InventoryLevel, Shop, Variant
from connector.services.backorders import lock_variants, reconcile, record_events
from connector.services.dates import require_not_past
from connector.services.errors import Invalid, NotFound
from connector.services.lead_times import note_receipt

MAX_QUANTITY = 1_000_000


def record_level(
    session: Session, clock: Clock, shop: Shop, level: StoreInventoryLevel
) -> list[Event]:
    """Store a stock level from the platform; an older reading than ours is ignored."""
    variant_id = session.scalar(
        select(Variant.id).where(
            Variant.shop_id == shop.id, Variant.external_id == level.variant_external_id
        )
    )
    if variant_id is None:
        raise NotFound(f"no variant {level.variant_external_id} in shop {shop.id}")
    lock_variants(session, [variant_id])
    if not upsert_level(session, shop.id, variant_id, level):
        return []
    session.flush()
    return reconcile(session, clock, [variant_id])


def upsert_level(
    session: Session, shop_id: int, variant_id: int, level: StoreInventoryLevel
) -> bool:
    """Store one reading; False when we already hold a newer one (it arrived out of order)."""
    row = session.scalar(
        select(InventoryLevel).where(
            InventoryLevel.variant_id == variant_id,
            InventoryLevel.location_external_id == level.location_external_id,
        )
    )
    if row is None:
        row = InventoryLevel(
            shop_id=shop_id, variant_id=variant_id, location_external_id=level.location_external_id
        )
        session.add(row)
    elif row.platform_updated_at and level.updated_at < row.platform_updated_at:
        return False
    # None: the store reports only what is left to sell; the engine derives on-hand.
    row.on_hand = level.on_hand
    row.available = level.available
    row.committed = level.committed
    row.incoming = level.incoming
    row.location_name = level.location_name or row.location_name
    row.platform_updated_at = level.updated_at
    return True


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
    supplier: str = "",
    ordered_on: date | None = None,
) -> IncomingStock:
    shop = session.get_one(Shop, variant.shop_id)
    if not 0 < quantity <= MAX_QUANTITY:
        raise Invalid(f"must be between 1 and {MAX_QUANTITY}", field="quantity")
    require_not_past(clock, shop.timezone, expected_on, "expected_on")
    lock_variants(session, [variant.id])
    incoming = IncomingStock(
        shop_id=variant.shop_id,
        variant_id=variant.id,
        quantity=quantity,
        expected_on=expected_on,
        reference=reference,
        source=source,
        supplier=supplier.strip(),
        ordered_on=ordered_on or shop_today(clock, shop.timezone),
    )
    session.add(incoming)
    session.flush()
    reconcile(session, clock, [variant.id])
    record_events(session, shop.id, [IncomingStockChanged(variant.id)], clock.now())
    return incoming


def receive_incoming(
    session: Session,
    clock: Clock,
    shop_id: int | None,
    incoming_id: int,
    quantity: int | None = None,
) -> IncomingStock:
    """Mark stock as arrived: it stops counting as incoming (the store's on-hand now holds it)."""
    incoming = session.get(IncomingStock, incoming_id)
    if incoming is None or (shop_id is not None and incoming.shop_id != shop_id):
        raise NotFound(f"no incoming stock with id {incoming_id}")
    lock_variants(session, [incoming.variant_id])
    if incoming.received_at is None:
        incoming.received_at = clock.now()
        incoming.received_quantity = incoming.quantity if quantity is None else quantity
        session.flush()
        note_receipt(session, clock, session.get_one(Shop, incoming.shop_id), incoming)
        reconcile(session, clock, [incoming.variant_id])
        record_events(
            session, incoming.shop_id, [IncomingStockChanged(incoming.variant_id)], clock.now()
        )
    return incoming
