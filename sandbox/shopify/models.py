"""In-memory records of one Shopify shop, shaped after the Admin GraphQL objects.

Plain dataclasses: the store mutates them under its lock and the GraphQL resolvers read them.
Field names follow the GraphQL field names where the resolver can read them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from sandbox.shopify.ids import gid

QUANTITY_NAMES = ("available", "committed", "incoming", "on_hand", "reserved")


@dataclass
class Shop:
    number: int
    name: str
    myshopifyDomain: str
    currencyCode: str
    ianaTimezone: str
    email: str
    typename: ClassVar[str] = "Shop"

    @property
    def id(self) -> str:
        return gid("Shop", self.number)


@dataclass
class Location:
    number: int
    name: str
    isPrimary: bool
    createdAt: datetime
    typename: ClassVar[str] = "Location"

    @property
    def id(self) -> str:
        return gid("Location", self.number)


@dataclass
class Metafield:
    number: int
    ownerId: str
    namespace: str
    key: str
    type: str
    value: str
    createdAt: datetime
    updatedAt: datetime
    typename: ClassVar[str] = "Metafield"

    @property
    def id(self) -> str:
        return gid("Metafield", self.number)


@dataclass
class Product:
    number: int
    title: str
    handle: str
    description: str
    productType: str
    vendor: str
    tags: list[str]
    status: str
    createdAt: datetime
    updatedAt: datetime
    variant_numbers: list[int] = field(default_factory=list)
    typename: ClassVar[str] = "Product"

    @property
    def id(self) -> str:
        return gid("Product", self.number)


@dataclass
class InventoryLevel:
    """Stock of one item at one location; on_hand is derived as Shopify's sum of states."""

    item_number: int
    location_number: int
    available: int
    committed: int
    incoming: int
    reserved: int
    createdAt: datetime
    updatedAt: datetime
    typename: ClassVar[str] = "InventoryLevel"

    @property
    def id(self) -> str:
        return f"gid://shopify/InventoryLevel/{self.location_number}?inventory_item_id={self.item_number}"

    @property
    def on_hand(self) -> int:
        return self.available + self.committed + self.reserved

    def quantity(self, name: str) -> int:
        return int(getattr(self, name))


@dataclass
class Variant:
    number: int
    product_number: int
    item_number: int
    title: str
    sku: str
    price: str
    selectedOptions: list[dict[str, str]]
    inventoryPolicy: str
    position: int
    createdAt: datetime
    updatedAt: datetime
    typename: ClassVar[str] = "ProductVariant"

    @property
    def id(self) -> str:
        return gid("ProductVariant", self.number)


@dataclass
class LineItem:
    number: int
    variant_number: int
    product_number: int
    title: str
    variantTitle: str
    sku: str
    price: str
    quantity: int
    currentQuantity: int
    fulfilled: int = 0
    location_number: int = 0
    typename: ClassVar[str] = "LineItem"

    @property
    def id(self) -> str:
        return gid("LineItem", self.number)

    @property
    def fulfillableQuantity(self) -> int:
        return max(self.currentQuantity - self.fulfilled, 0)

    @property
    def name(self) -> str:
        return f"{self.title} - {self.variantTitle}" if self.variantTitle else self.title


@dataclass
class FulfillmentHold:
    number: int
    reason: str
    reasonNotes: str | None
    handle: str | None
    typename: ClassVar[str] = "FulfillmentHold"

    @property
    def id(self) -> str:
        return gid("FulfillmentHold", self.number)


@dataclass
class FulfillmentOrderLineItem:
    number: int
    line_number: int
    totalQuantity: int
    remainingQuantity: int
    typename: ClassVar[str] = "FulfillmentOrderLineItem"

    @property
    def id(self) -> str:
        return gid("FulfillmentOrderLineItem", self.number)


@dataclass
class FulfillmentOrder:
    number: int
    order_number: int
    location_number: int
    status: str
    lines: list[FulfillmentOrderLineItem]
    createdAt: datetime
    updatedAt: datetime
    holds: list[FulfillmentHold] = field(default_factory=list)
    typename: ClassVar[str] = "FulfillmentOrder"

    @property
    def id(self) -> str:
        return gid("FulfillmentOrder", self.number)


@dataclass
class Order:
    number: int
    name: str
    order_number: int
    email: str
    customer_number: int
    lines: list[LineItem]
    shipping_title: str
    createdAt: datetime
    updatedAt: datetime
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    cancelledAt: datetime | None = None
    cancelReason: str | None = None
    staff_note: str | None = None  # the cancellation's staff note (not shown to customers)
    displayFinancialStatus: str = "PAID"
    customerLocale: str = "en"  # the buyer's checkout locale (webhooks: customer_locale)
    fulfillment_order_numbers: list[int] = field(default_factory=list)
    typename: ClassVar[str] = "Order"

    @property
    def id(self) -> str:
        return gid("Order", self.number)


@dataclass
class WebhookSubscription:
    number: int
    topic: str
    callbackUrl: str
    createdAt: datetime
    updatedAt: datetime
    format: str = "JSON"
    typename: ClassVar[str] = "WebhookSubscription"

    @property
    def id(self) -> str:
        return gid("WebhookSubscription", self.number)


@dataclass
class BulkOperation:
    number: int
    query: str
    status: str
    createdAt: datetime
    completedAt: datetime | None = None
    objectCount: int = 0
    rootObjectCount: int = 0
    fileSize: int | None = None
    url: str | None = None
    errorCode: str | None = None
    partialDataUrl: str | None = None
    type: str = "QUERY"
    typename: ClassVar[str] = "BulkOperation"

    @property
    def id(self) -> str:
        return gid("BulkOperation", self.number)


@dataclass
class WebhookEvent:
    """One merchant action announced on one topic, fanned out to the subscriptions it had."""

    topic: str
    body: dict[str, object]
    event_id: str
    triggered_at: datetime
    callback_urls: list[tuple[int | None, str]]
