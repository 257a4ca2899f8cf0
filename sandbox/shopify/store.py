"""`ShopifyStore`: the in-memory state of one emulated Shopify shop.

One re-entrant lock guards everything: scenario methods, GraphQL execution and bulk runs take
it, so every answer sees one consistent shop. Webhook announcements are handed to listeners
(the delivery thread) while the lock is held, but delivery itself happens outside it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sandbox.shopify import payloads
from sandbox.shopify.clock import utc_now
from sandbox.shopify.errors import NotFound, SandboxError
from sandbox.shopify.faults import Faults
from sandbox.shopify.ids import IdSource, parse_gid, topic_path_to_enum
from sandbox.shopify.models import (
    BulkOperation,
    FulfillmentOrder,
    InventoryLevel,
    Location,
    Metafield,
    Order,
    Product,
    Shop,
    Variant,
    WebhookEvent,
    WebhookSubscription,
)
from sandbox.shopify.order_edits import OrderEditScenarios, OrderEditSession
from sandbox.shopify.orders import OrderScenarios

Clock = Callable[[], datetime]
Listener = Callable[[WebhookEvent], None]

PRODUCT_FIELDS = {"title", "handle", "description", "productType", "vendor", "tags", "status"}
METAFIELD_OWNERS = {"Order", "Product", "ProductVariant"}
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")


class ShopifyStore(OrderScenarios, OrderEditScenarios):
    """State of ONE shop plus the scenario methods that change it as the merchant would."""

    def __init__(
        self,
        *,
        domain: str = "sandbox-outfitters.myshopify.com",
        name: str = "Sandbox Outfitters",
        currency: str = "USD",
        timezone: str = "America/New_York",
        clock: Clock = utc_now,
        id_base: int = 8_000_000_000_000,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.ids = IdSource(id_base)
        self.shop = Shop(
            self.ids.next(), name, domain, currency, timezone, f"owner@{domain.split('.')[0]}.test"
        )
        self.locations: dict[int, Location] = {}
        self.products: dict[int, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.item_to_variant: dict[int, int] = {}
        self.levels: dict[tuple[int, int], InventoryLevel] = {}
        self.orders: dict[int, Order] = {}
        self.line_to_order: dict[int, int] = {}
        self.fulfillment_orders: dict[int, FulfillmentOrder] = {}
        self.order_edits: dict[int, OrderEditSession] = {}  # CalculatedOrders by number
        self.metafields: dict[tuple[str, str, str], Metafield] = {}
        self.subscriptions: dict[int, WebhookSubscription] = {}
        self.bulk_operations: dict[int, BulkOperation] = {}
        self.current_bulk: int | None = None
        self.faults = Faults()
        self.listeners: list[Listener] = []
        self.events: list[WebhookEvent] = []
        self.dropped: list[WebhookEvent] = []
        self.installed = True
        self.compliance_url: str | None = None
        self.next_order_number = 1001

    # ----------------------------------------------------------------- building
    def add_location(self, name: str, *, primary: bool = False) -> Location:
        """Add a location; every existing inventory item gets a zero level there."""
        with self.lock:
            location = Location(self.ids.next(), name, primary, self.clock())
            self.locations[location.number] = location
            for item in self.item_to_variant:
                self._ensure_level(item, location.number)
            return location

    def add_product(
        self,
        title: str,
        *,
        product_type: str = "",
        vendor: str = "Sandbox",
        tags: Iterable[str] = (),
        status: str = "ACTIVE",
        description: str = "",
        handle: str | None = None,
        at: datetime | None = None,
    ) -> Product:
        """Create a product without announcing it (seeding and tests)."""
        when = at or self.clock()
        with self.lock:
            product = Product(
                self.ids.next(),
                title,
                handle or _handleize(title),
                description,
                product_type,
                vendor,
                list(tags),
                status,
                when,
                when,
            )
            self.products[product.number] = product
            return product

    def add_variant(
        self,
        product: Product,
        *,
        title: str,
        sku: str,
        price: str,
        options: list[dict[str, str]] | None = None,
        policy: str = "DENY",
        stock: dict[int, int] | None = None,
        incoming: int = 0,
        at: datetime | None = None,
    ) -> Variant:
        """Create a variant with its inventory item and a level at every location."""
        when = at or self.clock()
        with self.lock:
            variant = Variant(
                self.ids.next(),
                product.number,
                self.ids.next(),
                title,
                sku,
                price,
                options or [{"name": "Title", "value": title}],
                policy,
                len(product.variant_numbers) + 1,
                when,
                when,
            )
            self.variants[variant.number] = variant
            self.item_to_variant[variant.item_number] = variant.number
            product.variant_numbers.append(variant.number)
            primary = self.primary_location().number
            for location in self.locations:
                level = self._ensure_level(variant.item_number, location, when)
                level.available = (stock or {}).get(location, 0)
                level.incoming = incoming if location == primary else 0
            return variant

    def _ensure_level(self, item: int, location: int, at: datetime | None = None) -> InventoryLevel:
        key = (item, location)
        level = self.levels.get(key)
        if level is None:
            when = at or self.clock()
            level = InventoryLevel(item, location, 0, 0, 0, 0, when, when)
            self.levels[key] = level
        return level

    # ----------------------------------------------------------------- lookups
    def primary_location(self) -> Location:
        for location in self.locations.values():
            if location.isPrimary:
                return location
        if not self.locations:
            return self.add_location("Main warehouse", primary=True)
        return next(iter(self.locations.values()))

    def get(self, gid: str) -> Any:
        """Resolve any supported GID to its record, or None (as `node(id:)` does)."""
        try:
            kind, number = parse_gid(gid)
        except ValueError:
            return None
        if kind == "InventoryLevel":
            item = int(gid.rsplit("inventory_item_id=", 1)[-1]) if "=" in gid else 0
            return self.levels.get((item, number))
        if kind == "InventoryItem":
            return self.variants.get(self.item_to_variant.get(number, -1)) and _ItemRef(
                self, number
            )
        table: dict[str, dict[int, Any]] = {
            "Product": self.products,
            "ProductVariant": self.variants,
            "Order": self.orders,
            "Location": self.locations,
            "FulfillmentOrder": self.fulfillment_orders,
            "WebhookSubscription": self.subscriptions,
            "BulkOperation": self.bulk_operations,
        }
        if kind == "Shop":
            return self.shop if number == self.shop.number else None
        if kind == "LineItem":
            order = self.orders.get(self.line_to_order.get(number, -1))
            return next((li for li in order.lines if li.number == number), None) if order else None
        if kind == "Metafield":
            return next((m for m in self.metafields.values() if m.number == number), None)
        return table.get(kind, {}).get(number)

    def require(self, gid: str, kind: str) -> Any:
        """Like `get`, but only for `kind`, raising NotFound otherwise."""
        record = self.get(gid)
        if record is None or getattr(record, "typename", None) != kind:
            raise NotFound(f"{kind} {gid}")
        return record

    def variant_by_sku(self, sku: str) -> Variant | None:
        return next((v for v in self.variants.values() if v.sku == sku), None)

    def levels_of(self, item: int) -> list[InventoryLevel]:
        return [self.levels[(item, loc)] for loc in self.locations if (item, loc) in self.levels]

    def available(self, variant: Variant) -> int:
        """Sum of `available` over locations (the variant's inventoryQuantity)."""
        return sum(level.available for level in self.levels_of(variant.item_number))

    # ----------------------------------------------------------------- webhooks
    def announce(self, topic: str, body: dict[str, Any], event_id: str | None = None) -> None:
        """Fan a platform change out to the subscriptions on `topic` (as Shopify does)."""
        with self.lock:
            enum = topic_path_to_enum(topic)
            urls: list[tuple[int | None, str]] = [
                (s.number, s.callbackUrl) for s in self.subscriptions.values() if s.topic == enum
            ]
            event = WebhookEvent(topic, body, event_id or str(uuid.uuid4()), self.clock(), urls)
            if self.faults.take_drop():
                self.dropped.append(event)
                return
            self.events.append(event)
            for listener in list(self.listeners):
                listener(event)

    def subscribe(self, topic: str, callback_url: str) -> WebhookSubscription:
        """Create a subscription; `topic` is the enum (`ORDERS_CREATE`) or path form."""
        enum = topic_path_to_enum(topic) if "/" in topic else topic
        if not callback_url.startswith(("http://", "https://")):
            raise SandboxError("Address is invalid", field=["webhookSubscription", "callbackUrl"])
        with self.lock:
            for existing in self.subscriptions.values():
                if existing.topic == enum and existing.callbackUrl == callback_url:
                    raise SandboxError(
                        "Address for this topic has already been taken",
                        field=["webhookSubscription", "callbackUrl"],
                    )
            now = self.clock()
            sub = WebhookSubscription(self.ids.next(), enum, callback_url, now, now)
            self.subscriptions[sub.number] = sub
            return sub

    def unsubscribe(self, gid: str) -> None:
        with self.lock:
            sub = self.require(gid, "WebhookSubscription")
            del self.subscriptions[sub.number]

    def drop_subscription(self, number: int) -> None:
        """Called by the delivery thread after the last failed retry."""
        with self.lock:
            self.subscriptions.pop(number, None)

    # ----------------------------------------------------------------- catalogue
    def update_product(self, gid: str, **fields: Any) -> Product:
        """Merchant edits a product in the admin → `products/update`."""
        unknown = set(fields) - PRODUCT_FIELDS
        if unknown:
            raise SandboxError(f"Unknown product fields: {sorted(unknown)}")
        with self.lock:
            product = self.require(gid, "Product")
            for name, value in fields.items():
                setattr(product, name, list(value) if name == "tags" else value)
            product.updatedAt = self.clock()
            self.announce("products/update", payloads.product(self, product))
            return product

    def update_variants(self, product_gid: str, changes: list[dict[str, Any]]) -> list[Variant]:
        """`productVariantsBulkUpdate`: set `inventoryPolicy` on variants of one product (the
        only variant field the sandbox lets a client write) → one `products/update`."""
        with self.lock:
            product = self.require(product_gid, "Product")
            planned = []
            for change in changes:
                variant = self.get(str(change.get("id") or ""))
                if not isinstance(variant, Variant) or variant.product_number != product.number:
                    raise SandboxError(
                        f"Product variant {change.get('id')} does not exist on this product",
                        field=["variants", "id"],
                    )
                policy = change.get("inventoryPolicy")
                if policy not in (None, "CONTINUE", "DENY"):
                    raise SandboxError(f"Invalid inventory policy {policy}")
                planned.append((variant, policy))
            now = self.clock()
            for variant, policy in planned:
                if policy is not None:
                    variant.inventoryPolicy = policy
                variant.updatedAt = now
            product.updatedAt = now
            self.announce("products/update", payloads.product(self, product))
            return [variant for variant, _ in planned]

    def tags_add(self, gid: str, tags: Iterable[str]) -> Any:
        return self._retag(gid, tags, add=True)

    def tags_remove(self, gid: str, tags: Iterable[str]) -> Any:
        return self._retag(gid, tags, add=False)

    def _retag(self, gid: str, tags: Iterable[str], *, add: bool) -> Any:
        """Add or remove tags, keeping every other tag (unlike orderUpdate)."""
        wanted = [t.strip() for tag in tags for t in tag.split(",") if t.strip()]
        with self.lock:
            record = self.get(gid)
            if not isinstance(record, Order | Product):
                raise NotFound(f"Taggable {gid}")
            if add:
                record.tags = record.tags + [t for t in wanted if t not in record.tags]
            else:
                record.tags = [t for t in record.tags if t not in wanted]
            record.updatedAt = self.clock()
            if isinstance(record, Order):
                self.announce("orders/updated", payloads.order(self, record))
            else:
                self.announce("products/update", payloads.product(self, record))
            return record

    # ----------------------------------------------------------------- metafields
    def metafields_set(self, inputs: list[dict[str, Any]]) -> list[Metafield]:
        """Set metafields atomically: all are validated before any is written."""
        with self.lock:
            plans = [self._plan_metafield(index, entry) for index, entry in enumerate(inputs)]
            now = self.clock()
            written = []
            for key, entry, existing in plans:
                if existing is None:
                    existing = Metafield(
                        self.ids.next(), key[0], key[1], key[2], entry["type"], "", now, now
                    )
                    self.metafields[key] = existing
                existing.value = entry["value"]
                existing.type = entry.get("type") or existing.type
                existing.updatedAt = now
                written.append(existing)
            return written

    def _plan_metafield(
        self, index: int, entry: dict[str, Any]
    ) -> tuple[tuple[str, str, str], dict[str, Any], Metafield | None]:
        owner = self.get(entry["ownerId"])
        if owner is None or owner.typename not in METAFIELD_OWNERS:
            raise MetafieldError(index, "INVALID_VALUE", "ownerId", "Owner does not exist.")
        key = (entry["ownerId"], entry.get("namespace") or "$app", entry["key"])
        existing = self.metafields.get(key)
        kind = entry.get("type") or (existing.type if existing else None)
        if not kind:
            raise MetafieldError(index, "BLANK", "type", "Type can't be blank.")
        _check_metafield_value(index, kind, entry["value"])
        digest = entry.get("compareDigest")
        if digest is not None and (existing is None or metafield_digest(existing) != digest):
            raise MetafieldError(
                index,
                "STALE_OBJECT",
                "compareDigest",
                "The resource has been updated since it was loaded. Try again with an updated "
                "`compareDigest` value.",
            )
        return key, {**entry, "type": kind}, existing

    def metafields_of(self, owner_gid: str) -> list[Metafield]:
        return [m for m in self.metafields.values() if m.ownerId == owner_gid]

    # ----------------------------------------------------------------- failures & app
    def fail_next(self, n: int, status: int = 500) -> None:
        """The next `n` Admin API requests answer `status` (500, 502, 503…)."""
        with self.faults._lock:
            self.faults.fail_remaining, self.faults.fail_status = n, status

    def slow_answers(self, seconds: float) -> None:
        """Every Admin API answer waits `seconds` first (0 turns it off)."""
        self.faults.slow_seconds = seconds

    def throttle_storm(self) -> None:
        """Empty every cost bucket once, as when another app drains the shared budget."""
        self.faults.storm_pending = True

    def drop_next_webhook(self) -> None:
        """Lose the next webhook announcement entirely (Shopify does not guarantee delivery)."""
        with self.faults._lock:
            self.faults.drop_webhooks += 1

    def trigger_compliance(self, topic: str, url: str | None = None) -> WebhookEvent:
        """Send a mandatory compliance webhook to the app's configured compliance URL."""
        if topic not in COMPLIANCE_TOPICS:
            raise SandboxError(f"Unknown compliance topic {topic}")
        target = url or self.compliance_url
        if not target:
            raise SandboxError("No compliance URL configured (store.compliance_url)")
        with self.lock:
            body = payloads.compliance(self, topic)
            event = WebhookEvent(topic, body, str(uuid.uuid4()), self.clock(), [(None, target)])
            self.events.append(event)
            for listener in list(self.listeners):
                listener(event)
            return event

    def uninstall(self) -> None:
        """Merchant removes the app: `app/uninstalled`, tokens stop working, hooks are gone."""
        with self.lock:
            self.announce("app/uninstalled", payloads.shop(self))
            self.installed = False
            self.subscriptions.clear()

    def summary(self) -> dict[str, Any]:
        """Counts for GET /_sandbox/state."""
        with self.lock:
            return {
                "shop": self.shop.myshopifyDomain,
                "installed": self.installed,
                "locations": len(self.locations),
                "products": len(self.products),
                "variants": len(self.variants),
                "orders": len(self.orders),
                "open_orders": sum(
                    1 for o in self.orders.values() if o.cancelledAt is None and _is_open(o)
                ),
                "webhook_subscriptions": len(self.subscriptions),
                "webhooks_announced": len(self.events),
                "webhooks_dropped": len(self.dropped),
                "now": self.clock().isoformat(),
            }


class _ItemRef:
    """An InventoryItem: Shopify's separate object for the stock side of a variant."""

    typename = "InventoryItem"

    def __init__(self, store: ShopifyStore, number: int) -> None:
        self.store = store
        self.number = number

    @property
    def id(self) -> str:
        return f"gid://shopify/InventoryItem/{self.number}"

    @property
    def variant(self) -> Variant:
        return self.store.variants[self.store.item_to_variant[self.number]]


def inventory_item(store: ShopifyStore, variant: Variant) -> _ItemRef:
    return _ItemRef(store, variant.item_number)


class MetafieldError(SandboxError):
    """One invalid metafieldsSet input; the whole call is refused."""

    def __init__(self, index: int, code: str, field_name: str, message: str) -> None:
        super().__init__(message, code=code, field=["metafields", str(index), field_name])
        self.index = index


def metafield_digest(metafield: Metafield) -> str:
    """Opaque digest of a metafield's current value, for optimistic `compareDigest` checks."""
    raw = f"{metafield.type}\0{metafield.value}\0{metafield.updatedAt.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _check_metafield_value(index: int, kind: str, value: str) -> None:
    ok = True
    if kind == "number_integer":
        ok = value.lstrip("-").isdigit()
    elif kind == "boolean":
        ok = value in ("true", "false")
    elif kind == "json":
        try:
            json.loads(value)
        except ValueError:
            ok = False
    elif kind in ("date", "date_time"):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            ok = False
    elif kind == "list.variant_reference":
        # A JSON array of ProductVariant GIDs, as the Admin API requires for reference lists.
        try:
            items = json.loads(value)
        except ValueError:
            items = None
        ok = isinstance(items, list) and all(
            isinstance(i, str) and i.startswith("gid://shopify/ProductVariant/") for i in items
        )
    if not ok:
        raise MetafieldError(index, "INVALID_VALUE", "value", f"Value is invalid for {kind}.")


def _is_open(order: Order) -> bool:
    return any(li.fulfillableQuantity > 0 for li in order.lines)


def _handleize(title: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())
