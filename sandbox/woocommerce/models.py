"""Plain records of one WooCommerce store's state.

They mirror WooCommerce's own objects (WC_Product, WC_Product_Variation, WC_Order, order items,
comments used as notes, WC_Webhook, rows of `woocommerce_api_keys`) closely enough that the REST
representation in `rest.py` can be derived from them. Times are always UTC-aware; conversion to
the site's timezone happens only when rendering, as WooCommerce does with `*_gmt` twins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class Meta:
    """One `meta_data` entry; WooCommerce gives every meta row its own id."""

    id: int
    key: str
    value: Any


@dataclass(slots=True)
class Product:
    """A product or a variation (WooCommerce stores both as posts; variations have a parent)."""

    id: int
    name: str
    slug: str
    type: str  # simple | variable | variation
    date_created: datetime
    date_modified: datetime
    parent_id: int = 0
    status: str = "publish"
    description: str = ""
    short_description: str = ""
    sku: str = ""
    regular_price: str = ""
    sale_price: str = ""
    manage_stock: bool = False  # a variation with False defers to a managing parent ("parent")
    stock_quantity: int | None = None
    stock_status: str = "instock"
    backorders: str = "no"
    categories: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    meta_data: list[Meta] = field(default_factory=list)
    related_ids: list[int] = field(default_factory=list)
    variations: list[int] = field(default_factory=list)
    total_sales: int = 0
    weight: str = ""


@dataclass(slots=True)
class LineItem:
    """An order line; `reduced_stock` plays WooCommerce's hidden `_reduced_stock` item meta."""

    id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int
    price: float
    sku: str = ""
    meta_data: list[Meta] = field(default_factory=list)
    reduced_stock: int = 0
    # Stored line totals, as WooCommerce keeps them: set when the line is made (price x quantity)
    # and only rewritten when a client sends them; a REST quantity change leaves them alone.
    subtotal: float | None = None
    total: float | None = None

    @property
    def line_subtotal(self) -> float:
        return self.price * self.quantity if self.subtotal is None else self.subtotal

    @property
    def line_total(self) -> float:
        return self.price * self.quantity if self.total is None else self.total


@dataclass(slots=True)
class Order:
    """A shop order; `stock_reduced` plays the `_order_stock_reduced` flag WooCommerce keeps."""

    id: int
    status: str
    currency: str
    date_created: datetime
    date_modified: datetime
    order_key: str
    billing: dict[str, str]
    shipping: dict[str, str]
    line_items: list[LineItem] = field(default_factory=list)
    shipping_lines: list[dict[str, Any]] = field(default_factory=list)
    meta_data: list[Meta] = field(default_factory=list)
    customer_id: int = 0
    customer_note: str = ""
    payment_method: str = "bacs"
    payment_method_title: str = "Direct bank transfer"
    created_via: str = "checkout"
    date_paid: datetime | None = None
    date_completed: datetime | None = None
    stock_reduced: bool = False
    refunds: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Note:
    """An order note (a WordPress comment); `customer_note` makes WooCommerce e-mail it."""

    id: int
    order_id: int
    note: str
    customer_note: bool
    author: str
    date_created: datetime


@dataclass(slots=True)
class RefundItem:
    """A refunded line: WooCommerce copies the order line into the refund with a negative
    quantity and total, and the item meta `_refunded_item_id` naming the order line."""

    id: int
    refunded_item_id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int  # negative, as WooCommerce stores it
    price: float
    sku: str = ""
    meta_data: list[Meta] = field(default_factory=list)


@dataclass(slots=True)
class Refund:
    """A refund of part or all of an order."""

    id: int
    order_id: int
    amount: str
    reason: str
    date_created: datetime
    line_items: list[RefundItem] = field(default_factory=list)


@dataclass(slots=True)
class Webhook:
    """A webhook subscription; `failure_count` counts consecutive failed deliveries."""

    id: int
    name: str
    status: str
    topic: str
    delivery_url: str
    secret: str
    date_created: datetime
    date_modified: datetime
    api_version: str = "wp_api_v3"
    failure_count: int = 0
    user_id: int = 1
    pending_delivery: bool = True


@dataclass(slots=True)
class ApiKey:
    """A REST API key; `nonces` maps OAuth timestamp → nonce, exactly as WooCommerce stores them.

    Keyed by timestamp, so a second request in the same second forgets the first one's nonce:
    that quirk of `check_oauth_timestamp_and_nonce` is kept on purpose.
    """

    key_id: int
    user_id: int
    description: str
    permissions: str  # read | write | read_write
    consumer_key: str
    consumer_secret: str
    nonces: dict[int, str] = field(default_factory=dict)
