"""The common-model values every platform adapter returns, and the one interface they share.

The core consumes these; adapters produce them, never a platform dictionary. Shopify's GIDs and
WooCommerce's ids alike are carried as strings (`external_id`): Shopify ids exceed 2^53 and must
not pass through a float anywhere. Times are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoreShop:
    domain: str
    name: str
    timezone: str  # IANA name, e.g. "America/Chicago"
    currency: str


@dataclass(frozen=True, slots=True)
class StoreInventoryLevel:
    """Stock of one variant at one location.

    `on_hand` is physical units not yet shipped (Shopify's `on_hand`); a platform that only
    reports what is left to sell (WooCommerce's `stock_quantity`) gives `on_hand=None`, and the
    core derives it from `available` and the open orders it knows.
    """

    variant_external_id: str
    location_external_id: str
    on_hand: int | None
    available: int
    updated_at: datetime
    committed: int = 0
    incoming: int = 0
    location_name: str = ""


@dataclass(frozen=True, slots=True)
class StoreVariant:
    external_id: str
    sku: str
    title: str
    price: Decimal
    options: dict[str, str]
    inventory_policy: str  # "deny" or "continue" (may be sold when out of stock)
    updated_at: datetime
    inventory_item_external_id: str | None = None  # Shopify keeps stock on an InventoryItem
    managed: bool = True  # False: the store does not track this variant's stock
    levels: tuple[StoreInventoryLevel, ...] = ()


@dataclass(frozen=True, slots=True)
class StoreProduct:
    external_id: str
    title: str
    updated_at: datetime
    handle: str = ""
    description: str = ""
    product_type: str = ""
    vendor: str = ""
    tags: tuple[str, ...] = ()
    status: str = "active"  # "active", "draft" or "archived"
    variants: tuple[StoreVariant, ...] = ()


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
class StoreWebhook:
    external_id: str
    topic: str
    address: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; `next_cursor` resumes right after it (None: the last page)."""

    items: tuple[T, ...]
    next_cursor: str | None


# ---------------------------------------------------------------- webhook changes
# What one webhook delivery means in the common model. Adapters produce these from a topic and a
# body (`read_webhook`); the core applies them with the same services a sync uses.


@dataclass(frozen=True, slots=True)
class OrderChanged:
    order: StoreOrder


@dataclass(frozen=True, slots=True)
class OrderDeleted:
    external_id: str


@dataclass(frozen=True, slots=True)
class ProductChanged:
    """A product as the store holds it now.

    `stock_included=False`: the payload said nothing about stock (Shopify's `products/*` bodies
    carry neither per-location levels nor whether an item is tracked), so every variant has
    `levels=()` and `managed=True` as placeholders: keep the levels and tracking flag we hold.
    """

    product: StoreProduct
    stock_included: bool = True


@dataclass(frozen=True, slots=True)
class ProductDeleted:
    external_id: str


@dataclass(frozen=True, slots=True)
class InventoryChanged:
    """Every level of the variants it names, read from the store after the change."""

    levels: tuple[StoreInventoryLevel, ...]


@dataclass(frozen=True, slots=True)
class AppUninstalled:
    pass


@dataclass(frozen=True, slots=True)
class CustomerDataRequest:
    customer_external_id: str | None
    email: str | None
    order_external_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CustomerRedact:
    customer_external_id: str | None
    email: str | None
    order_external_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShopRedact:
    pass


@dataclass(frozen=True, slots=True)
class Ignored:
    """A topic we do not act on, or a change with nothing for us in it (`reason` says which)."""

    reason: str


WebhookChange = (
    OrderChanged
    | OrderDeleted
    | ProductChanged
    | ProductDeleted
    | InventoryChanged
    | AppUninstalled
    | CustomerDataRequest
    | CustomerRedact
    | ShopRedact
    | Ignored
)


@dataclass(frozen=True, slots=True)
class WebhookFacts:
    """What intake needs before processing: the resource's external id and its own
    modification time (None when the body does not say or says it oddly)."""

    resource_id: str | None
    updated_at: datetime | None


class StoreError(Exception):
    """The store answered, but not with what we asked for (after retries)."""


class NeedsReauthorization(StoreError):
    """401/403: the credentials no longer work; retrying would only hammer the store."""


class NotSupported(StoreError):
    """The platform has no such operation (say so instead of pretending)."""


@dataclass(frozen=True, slots=True)
class OrderPush:
    """What one order's store state must change by, as the core worked it out: only what differs
    from the last write, so a retry repeats nothing that is already there."""

    order_external_id: str
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    data_key: str = ""
    data: dict[str, Any] | None = None  # None: the order's data did not change
    release_holds: bool = False  # ours only; a changed set of held lines is held afresh
    hold_lines: tuple[str, ...] = ()
    hold_note: str = ""
    note: str = ""  # a private order note, where the store keeps notes apart from the merchant's


class StoreAdapter(Protocol):
    """Everything the core asks of a store. Reads return pages so syncs can checkpoint."""

    platform: str
    # How many orders `push_orders` takes at once to gain from it; 1: none (one by one).
    order_push_batch: int

    def shop(self) -> StoreShop: ...

    def product_pages(
        self,
        *,
        updated_since: datetime | None = None,
        updated_before: datetime | None = None,
        cursor: str | None = None,
    ) -> Iterator[Page[StoreProduct]]: ...

    def order_pages(
        self,
        *,
        updated_since: datetime | None = None,
        updated_before: datetime | None = None,
        cursor: str | None = None,
    ) -> Iterator[Page[StoreOrder]]: ...

    def add_order_tags(self, order_external_id: str, tags: Sequence[str]) -> None: ...

    def remove_order_tags(self, order_external_id: str, tags: Sequence[str]) -> None: ...

    def add_order_note(self, order_external_id: str, note: str) -> None: ...

    def set_order_data(self, order_external_id: str, key: str, value: dict[str, Any]) -> None: ...

    def set_variant_data(
        self,
        variant_external_id: str,
        key: str,
        value: dict[str, Any],
        *,
        references: dict[str, Sequence[str]] | None = None,
    ) -> None:
        """Variant data `key` = value; `references` name lists of variants (by external id) the
        store should keep as references where it has the type (Shopify's variant references)."""
        ...

    def hold_lines(
        self, order_external_id: str, line_external_ids: Sequence[str], note: str
    ) -> None: ...

    def release_holds(self, order_external_id: str) -> None: ...

    def push_orders(self, pushes: Sequence[OrderPush]) -> dict[str, Exception | None]:
        """Apply many orders' pushes; each order's failure (or None) by its external id, so one
        order refused does not fail the others. NeedsReauthorization is raised, not returned:
        it fails them all."""
        ...

    def set_inventory_policy(
        self, product_external_id: str, variant_external_id: str, policy: str
    ) -> None:
        """Whether the store keeps selling the variant when out of stock: "continue" or "deny"
        (Shopify `inventoryPolicy`; WooCommerce `backorders` notify / no). The product's id
        comes along because both platforms address a variant through its product."""
        ...

    def get_order(self, order_external_id: str) -> StoreOrder:
        """The order as the store has it now (the same StoreOrder values the order walk returns)."""
        ...

    def change_line(
        self,
        order_external_id: str,
        line_external_id: str,
        *,
        keep_quantity: int,
        add_variant_external_id: str | None = None,
        add_quantity: int = 0,
        staff_note: str = "",
    ) -> StoreOrder:
        """One edit of one order: the line reduced to keep_quantity (0 removes it), and optionally
        another variant added (a customer switching to an alternative). The units taken off were
        never shipped; they go back to stock where the platform tracks it. The customer is NOT
        notified by the platform (we tell them). Returns the order as the store now has it.
        Raises NotSupported where the platform cannot make this edit (the line is already
        fulfilled, the order is in a state that cannot be edited) with a reason a merchant can
        read; StoreError for other refusals."""
        ...

    def add_customer_note(self, order_external_id: str, note: str) -> None:
        """A note the platform itself e-mails to the customer (WooCommerce: an order note with
        customer_note true). Shopify has none: NotSupported."""
        ...

    def register_webhook(self, topic: str, address: str) -> StoreWebhook: ...

    def list_webhooks(self) -> list[StoreWebhook]: ...

    def read_webhook(self, topic: str, body: dict[str, Any]) -> WebhookChange:
        """One delivery as a common-model change; may read the store when the body is not
        enough. Raises ValueError (malformed body) or StoreError (the store failed us)."""
        ...


def push_one(adapter: StoreAdapter, push: OrderPush) -> None:
    """One order's push through the single-order calls, in an order a retry may repeat: tags,
    data, holds (ours released, then placed afresh), the note last (a note is not idempotent)."""
    order = push.order_external_id
    if push.add_tags:
        adapter.add_order_tags(order, list(push.add_tags))
    if push.remove_tags:
        adapter.remove_order_tags(order, list(push.remove_tags))
    if push.data is not None:
        adapter.set_order_data(order, push.data_key, push.data)
    if push.release_holds:
        adapter.release_holds(order)
    if push.hold_lines:
        adapter.hold_lines(order, list(push.hold_lines), push.hold_note)
    if push.note:
        with suppress(NotSupported):  # e.g. Shopify: its one note field is the merchant's
            adapter.add_order_note(order, push.note)


def push_each(adapter: StoreAdapter, pushes: Sequence[OrderPush]) -> dict[str, Exception | None]:
    """`push_orders` for a store with no batch writes: one order after another."""
    outcome: dict[str, Exception | None] = {}
    for push in pushes:
        try:
            push_one(adapter, push)
        except NeedsReauthorization:
            raise
        except Exception as exc:  # this order's failure; the others go on
            outcome[push.order_external_id] = exc
        else:
            outcome[push.order_external_id] = None
    return outcome
