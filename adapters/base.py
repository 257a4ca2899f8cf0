"""The common-model values every platform adapter returns: never a platform dictionary.

The core consumes these; adapters produce them. Shopify's GIDs and WooCommerce's ids alike are
carried as strings (`external_id`), because Shopify ids exceed 2^53 and must not pass through
a float anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class StoreOrderLine:
    external_id: str
    variant_external_id: str | None  # None for custom items
    quantity: int
    sku: str = ""
    title: str = ""
    price: Decimal = Decimal("0")
    fulfilled_quantity: int = 0
    refunded_quantity: int = 0


@dataclass(frozen=True, slots=True)
class StoreOrder:
    external_id: str
    name: str
    placed_at: datetime
    updated_at: datetime
    lines: tuple[StoreOrderLine, ...] = field(default_factory=tuple)
    customer_external_id: str | None = None
    customer_email: str | None = None
    customer_name: str = ""
    locale: str | None = None
    shipping_method: str = ""
    financial_status: str = ""
    fulfillment_status: str = ""
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoreInventoryLevel:
    """Stock of one variant at one location. `on_hand` is physical units not yet shipped."""

    variant_external_id: str
    location_external_id: str
    on_hand: int
    available: int
    updated_at: datetime
    committed: int = 0
    incoming: int = 0
    location_name: str = ""
