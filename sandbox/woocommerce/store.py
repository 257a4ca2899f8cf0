"""`WooStore`: the in-memory state of one WooCommerce store and the scenarios that change it.

One re-entrant lock guards everything: REST handlers, the control surface, the webhook worker
and tests all take `store.lock` for each read or change, so every answer is a consistent
snapshot. Every change WooCommerce would announce calls `_emit(topic, id)`; subscribers (the
webhook dispatcher) only enqueue, so they never block while the lock is held.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .clock import Clock, utc_now
from .errors import OutOfStock, WooError, invalid_id
from .models import ApiKey, LineItem, Meta, Note, Order, Product, Refund, RefundItem, Webhook
from .stock import ALLOWING, is_on_backorder, shortfall_reason, stock_owner

Subscriber = Callable[[str, int], None]

# The "Backordered" item meta key is passed through __() in WooCommerce, so its key depends on
# the site language (class-wc-checkout.php, `woocommerce_backordered_item_meta_name`).
BACKORDERED_LABELS = {"en_US": "Backordered", "en_GB": "Backordered", "de_DE": "Nachbestellt"}

REDUCING = ("processing", "completed", "on-hold")
RESTORING = ("cancelled", "pending")
STATUS_LABELS = {
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
}
PRODUCT_FIELDS = (
    "name",
    "slug",
    "status",
    "description",
    "short_description",
    "sku",
    "regular_price",
    "sale_price",
    "manage_stock",
    "stock_quantity",
    "stock_status",
    "backorders",
    "categories",
    "tags",
    "attributes",
    "related_ids",
    "weight",
)


@dataclass
class Settings:
    """Store-wide settings that change what clients see (URLs, local dates, language)."""

    site_url: str = "http://127.0.0.1"
    timezone: str = "UTC"
    currency: str = "USD"
    language: str = "en_US"
    wc_version: str = "10.3.1"  # below 10.3 there is no `GET /variations` (404 rest_no_route)
    wp_version: str = "6.8.1"
    webhook_failure_limit: int = 5
    require_https_callback: bool = False
    backordered_label_override: str | None = None

    @property
    def backordered_label(self) -> str:
        """The translated meta key of backordered lines for the site language."""
        if self.backordered_label_override:
            return self.backordered_label_override
        return BACKORDERED_LABELS.get(self.language, "Backordered")

    @property
    def serves_variations_collection(self) -> bool:
        """`GET /wc/v3/variations` (every variation, with `parent_id`) exists since 10.3."""
        major, minor = (int(part) for part in self.wc_version.split(".")[:2])
        return (major, minor) >= (10, 3)

    @property
    def home_url(self) -> str:
        """`home_url('/')`: the X-WC-Webhook-Source value."""
        return self.site_url.rstrip("/") + "/"


@dataclass
class Faults:
    """Failure modes a scenario switches on; consumed by the HTTP layer and the webhook worker."""

    fail_next: list[int] = field(default_factory=list)
    delay: float = 0.0
    drop_webhooks: int = 0


class WooStore:
    """All state of one emulated WooCommerce store."""

    def __init__(
        self,
        *,
        clock: Clock = utc_now,
        auth_clock: Clock = utc_now,
        settings: Settings | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        # OAuth timestamps are checked against real time by default: clients sign with their
        # own wall clock, so moving the shop's business clock must not lock them out.
        self.auth_clock = auth_clock
        self.settings = settings or Settings()
        self.faults = Faults()
        self.products: dict[int, Product] = {}
        self.orders: dict[int, Order] = {}
        self.notes: dict[int, Note] = {}
        # E-mails the store sent to customers (WooCommerce's `customer_note` e-mail), oldest first.
        self.customer_emails: list[dict[str, Any]] = []
        self.refunds: dict[int, Refund] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.keys: dict[int, ApiKey] = {}
        self.ping_errors: dict[int, str] = {}
        self._subscribers: list[Subscriber] = []
        self._sku_index: dict[str, int] = {}
        self._seq = {
            "post": 10,
            "item": 0,
            "meta": 0,
            "note": 0,
            "webhook": 0,
            "key": 0,
            "delivery": 0,
        }

    # ---------------------------------------------------------------- ids, time, events
    def flat_rate_shipping(self) -> list[dict[str, Any]]:
        """The one shipping line every sandbox order carries (WooCommerce's default method)."""
        return [
            {
                "id": self.next_id("item"),
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "instance_id": "1",
                "total": "5.00",
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
            }
        ]

    def next_id(self, kind: str) -> int:
        """WordPress-like id sequences: posts (products, variations, orders, refunds) share one."""
        with self.lock:
            self._seq[kind] += 1
            return self._seq[kind]

    def now(self) -> datetime:
        """The store's current time (UTC-aware), from the injectable clock."""
        return self.clock().astimezone(UTC)

    def subscribe(self, subscriber: Subscriber) -> None:
        """Register a callable receiving (topic, resource id) for every announced change."""
        with self.lock:
            self._subscribers.append(subscriber)

    def _emit(self, topic: str, resource_id: int) -> None:
        for subscriber in list(self._subscribers):
            subscriber(topic, resource_id)

    def meta(self, key: str, value: Any) -> Meta:
        """A new meta row with a fresh id."""
        return Meta(self.next_id("meta"), key, value)

    # ---------------------------------------------------------------- failure modes
    def fail_next(self, n: int, status: int = 503) -> None:
        """The next `n` REST requests answer `status` (a host or firewall refusing)."""
        with self.lock:
            self.faults.fail_next.extend([status] * n)

    def slow_answers(self, seconds: float) -> None:
        """Every REST answer waits `seconds` first (0 turns it off)."""
        with self.lock:
            self.faults.delay = max(0.0, seconds)

    def drop_next_webhook(self, n: int = 1) -> None:
        """The next `n` webhook deliveries are lost without trace (as queued jobs sometimes are)."""
        with self.lock:
            self.faults.drop_webhooks += n

    def take_failure(self) -> int | None:
        """Consume one injected failure status, if any."""
        with self.lock:
            return self.faults.fail_next.pop(0) if self.faults.fail_next else None

    def take_webhook_drop(self) -> bool:
        """Consume one injected webhook drop, if any."""
        with self.lock:
            if self.faults.drop_webhooks > 0:
                self.faults.drop_webhooks -= 1
                return True
            return False

    # ---------------------------------------------------------------- API keys
    def create_key(
        self, permissions: str = "read_write", user_id: int = 1, description: str = ""
    ) -> ApiKey:
        """A REST API key as WooCommerce makes them: `ck_`/`cs_` + 40 hex (wc_rand_hash)."""
        if permissions not in ("read", "write", "read_write"):
            raise WooError("woocommerce_rest_invalid_permissions", "Invalid permissions.", 400)
        with self.lock:
            key = ApiKey(
                key_id=self.next_id("key"),
                user_id=user_id,
                description=description or f"Key {self._seq['key']}",
                permissions=permissions,
                consumer_key="ck_" + secrets.token_hex(20),
                consumer_secret="cs_" + secrets.token_hex(20),
            )
            self.keys[key.key_id] = key
            return key

    def delete_key(self, key_id: int) -> None:
        """Revoke a key (what WooCommerce does when the key-flow callback fails)."""
        with self.lock:
            self.keys.pop(key_id, None)

    def key_by_consumer_key(self, consumer_key: str) -> ApiKey | None:
        """Look a key up by its public half."""
        with self.lock:
            return next((k for k in self.keys.values() if k.consumer_key == consumer_key), None)

    # ---------------------------------------------------------------- products
    def product(self, product_id: int) -> Product:
        """A product that is not a variation, else woocommerce_rest_product_invalid_id."""
        p = self.products.get(product_id)
        if p is None or p.type == "variation":
            raise invalid_id("product")
        return p

    def variation(self, product_id: int, variation_id: int) -> Product:
        """A variation of `product_id`, else woocommerce_rest_product_variation_invalid_id."""
        v = self.products.get(variation_id)
        if v is None or v.type != "variation" or v.parent_id != product_id:
            raise invalid_id("product_variation")
        return v

    def add_product(self, product: Product, *, announce: bool = True) -> Product:
        """Insert a product or variation built elsewhere (seed, REST create)."""
        with self.lock:
            if product.sku:
                if product.sku in self._sku_index:
                    raise WooError(
                        "product_invalid_sku",
                        "Invalid or duplicated SKU.",
                        400,
                        unique_sku=product.sku,
                        resource_id=self._sku_index[product.sku],
                    )
                self._sku_index[product.sku] = product.id
            self.products[product.id] = product
            if product.type == "variation":
                parent = self.products[product.parent_id]
                parent.variations.append(product.id)
                if announce:
                    self._touch(parent)
                    self._emit("product.updated", parent.id)
            elif announce:
                self._emit("product.created", product.id)
            return product

    def new_product(self, **fields: Any) -> Product:
        """Create a product from REST-like fields, announce product.created."""
        with self.lock:
            now = self.now()
            pid = self.next_id("post")
            name = str(fields.get("name") or "Product")
            p = Product(
                id=pid,
                name=name,
                slug=str(fields.get("slug") or f"{slugify(name)}-{pid}"),
                type=str(fields.get("type") or "simple"),
                date_created=now,
                date_modified=now,
            )
            self._apply(p, {k: v for k, v in fields.items() if k not in ("name", "slug", "type")})
            return self.add_product(p)

    def new_variation(self, product_id: int, **fields: Any) -> Product:
        """Add a variation to a variable product, announced as product.updated on the parent."""
        with self.lock:
            parent = self.product(product_id)
            now = self.now()
            attrs = fields.get("attributes") or []
            label = ", ".join(str(a.get("option", "")) for a in attrs)
            v = Product(
                id=self.next_id("post"),
                name=f"{parent.name} - {label}" if label else parent.name,
                slug="",
                type="variation",
                parent_id=parent.id,
                date_created=now,
                date_modified=now,
            )
            self._apply(v, fields)
            return self.add_product(v)

    def update_product(self, product_id: int, **fields: Any) -> Product:
        """Change product or variation fields (REST names); announce product.updated."""
        with self.lock:
            p = self.products.get(product_id)
            if p is None:
                raise invalid_id("product")
            self._apply(p, fields)
            self._touch(p)
            self._announce_product(p)
            return p

    def delete_product(self, product_id: int, *, force: bool) -> Product:
        """Trash (or with force delete) a product; variations go with a deleted parent."""
        with self.lock:
            p = self.products.get(product_id)
            if p is None:
                raise invalid_id("product")
            if not force:
                p.status = "trash"
                self._touch(p)
                self._announce_product(p)
                return p
            for vid in [*p.variations, p.id]:
                gone = self.products.pop(vid, None)
                if gone is not None and gone.sku:
                    self._sku_index.pop(gone.sku, None)
            if p.type == "variation" and p.parent_id in self.products:
                parent = self.products[p.parent_id]
                parent.variations.remove(p.id)
                self._touch(parent)
                self._emit("product.updated", parent.id)
            else:
                self._emit("product.deleted", p.id)
            return p

    def restock(self, product_id: int, variation_id: int, quantity: int) -> Product:
        """Receive `quantity` units (stock += quantity) of a product or variation."""
        with self.lock:
            target = self.products.get(variation_id or product_id)
            if target is None:
                raise invalid_id("product")
            owner = stock_owner(target, self.products)
            if owner is None:
                raise WooError(
                    "woocommerce_rest_product_stock_unmanaged", "Stock is not managed.", 400
                )
            owner.stock_quantity = (owner.stock_quantity or 0) + quantity
            self._stock_changed(owner)
            return target

    def _apply(self, p: Product, fields: dict[str, Any]) -> None:
        """Set REST-named fields, keeping WooCommerce's invariants (sku index, stock status)."""
        for name, value in fields.items():
            if name == "meta_data":
                self._upsert_meta(p.meta_data, value)
            elif name == "sku":
                self._set_sku(p, str(value or ""))
            elif name == "manage_stock":
                p.manage_stock = value is True or value in ("true", "1", 1)
            elif name == "stock_quantity":
                p.stock_quantity = None if value is None else int(value)
            elif name == "backorders":
                if value not in ("no", "notify", "yes"):
                    raise invalid_param(
                        "backorders", "backorders is not one of no, notify, and yes."
                    )
                p.backorders = value
            elif name == "stock_status":
                if value not in ("instock", "outofstock", "onbackorder"):
                    raise invalid_param(
                        "stock_status",
                        "stock_status is not one of instock, outofstock, and onbackorder.",
                    )
                p.stock_status = value
            elif name in ("regular_price", "sale_price"):
                setattr(p, name, "" if value in (None, "") else str(value))
            elif name in PRODUCT_FIELDS:
                setattr(p, name, value)
        if p.manage_stock:
            p.stock_quantity = p.stock_quantity or 0
            p.stock_status = _status_for(p)
        else:
            p.stock_quantity = None

    def _set_sku(self, p: Product, sku: str) -> None:
        if sku == p.sku:
            return
        if sku and self._sku_index.get(sku, p.id) != p.id:
            raise WooError("product_invalid_sku", "Invalid or duplicated SKU.", 400)
        if p.sku and p.id in self.products:
            self._sku_index.pop(p.sku, None)
        if sku and p.id in self.products:
            self._sku_index[sku] = p.id
        p.sku = sku

    def _upsert_meta(self, rows: list[Meta], updates: Iterable[dict[str, Any]]) -> None:
        """WooCommerce's meta update: by id if given, else the first row with the key, else add."""
        for u in updates:
            row = None
            if u.get("id"):
                row = next((m for m in rows if m.id == int(u["id"])), None)
            if row is None:
                row = next((m for m in rows if m.key == u.get("key")), None)
            if u.get("value") is None and row is not None:
                rows.remove(row)
            elif row is not None:
                row.value = u.get("value")
            elif u.get("key"):
                rows.append(self.meta(str(u["key"]), u.get("value")))

    def _touch(self, p: Product) -> None:
        p.date_modified = self.now()
        if p.type == "variation" and p.parent_id in self.products:
            self.products[p.parent_id].date_modified = p.date_modified

    def _announce_product(self, p: Product) -> None:
        """Variations are announced as product.updated of their parent."""
        self._emit("product.updated", p.parent_id if p.type == "variation" else p.id)

    def _stock_changed(self, owner: Product) -> None:
        owner.stock_status = _status_for(owner)
        self._touch(owner)
        for vid in owner.variations:  # variations deferring to this parent changed too
            v = self.products.get(vid)
            if v is not None and not v.manage_stock:
                v.date_modified = owner.date_modified
        self._announce_product(owner)

    # ---------------------------------------------------------------- orders
    def order(self, order_id: int) -> Order:
        """An order, else woocommerce_rest_shop_order_invalid_id."""
        o = self.orders.get(order_id)
        if o is None:
            raise invalid_id("shop_order")
        return o

    def create_order(
        self,
        lines: Iterable[tuple[int, int, int]],
        *,
        status: str = "pending",
        email: str = "customer@example.com",
        billing: dict[str, str] | None = None,
        created_via: str = "rest-api",
        check_stock: bool = False,
        customer_note: str = "",
        announce: bool = True,
        date_created: datetime | None = None,
    ) -> Order:
        """Create an order (REST semantics: no stock check unless `check_stock`), then set status.

        The order is created pending and moved to `status`, as WooCommerce does, so stock is
        reduced through the same transition rule as any later status change.
        """
        with self.lock:
            items: list[LineItem] = []
            for product_id, variation_id, qty in lines:
                target = self.products.get(variation_id or product_id)
                if target is None or (variation_id and target.parent_id != product_id):
                    raise WooError(
                        "woocommerce_rest_invalid_product_id",
                        "Product ID provided is invalid.",
                        400,
                    )
                if check_stock:
                    reason = shortfall_reason(target, self.products, qty)
                    if reason:
                        raise OutOfStock(reason)
                items.append(self._line(target, product_id, variation_id, int(qty)))
            now = date_created or self.now()
            bill = {**_address(email), **(billing or {})}
            order = Order(
                id=self.next_id("post"),
                status="pending",
                currency=self.settings.currency,
                date_created=now,
                date_modified=now,
                order_key="wc_order_" + secrets.token_hex(7)[:13],
                billing=bill,
                shipping={k: v for k, v in bill.items() if k not in ("email", "phone")},
                line_items=items,
                shipping_lines=self.flat_rate_shipping(),
                customer_note=customer_note,
                created_via=created_via,
            )
            self.orders[order.id] = order
            if status != "pending":
                self._transition(order, status, announce=False)
            if announce:
                self._emit("order.created", order.id)
            return order

    def place_order(
        self,
        lines: Iterable[tuple[int, int, int]],
        status: str = "processing",
        email: str = "customer@example.com",
    ) -> int:
        """A storefront checkout: refuses what cannot be covered, returns the order id."""
        order = self.create_order(
            lines, status=status, email=email, created_via="checkout", check_stock=True
        )
        return order.id

    def set_status(self, order_id: int, status: str, note: str = "") -> Order:
        """Change an order's status (any slug: plugins register their own); announce it."""
        with self.lock:
            order = self.order(order_id)
            if status != order.status:
                self._transition(order, status, note=note)
                self._emit("order.updated", order.id)
            return order

    def cancel_order(self, order_id: int) -> Order:
        """Cancel: status cancelled, reduced stock goes back."""
        return self.set_status(order_id, "cancelled")

    def complete_order(self, order_id: int) -> Order:
        """Fulfil: status completed (stock reduced first if it was not yet)."""
        return self.set_status(order_id, "completed")

    def edit_order_quantity(
        self, order_id: int, line_item_id: int, quantity: int, *, adjust_stock: bool = True
    ) -> Order:
        """Admin edits a line's quantity (0 removes it); stock follows the difference.

        The admin screen adjusts stock (`wc_maybe_adjust_line_item_product_stock`); a REST
        update does not, hence `adjust_stock`.
        """
        with self.lock:
            order = self.order(order_id)
            item = next((i for i in order.line_items if i.id == line_item_id), None)
            if item is None:
                raise WooError(
                    "woocommerce_rest_invalid_item_id",
                    "Order item ID provided is not associated with order.",
                    400,
                )
            if adjust_stock and order.stock_reduced:
                target = self.products.get(item.variation_id or item.product_id)
                owner = stock_owner(target, self.products) if target else None
                if owner is not None:
                    diff = quantity - item.reduced_stock
                    owner.stock_quantity = (owner.stock_quantity or 0) - diff
                    item.reduced_stock = quantity
                    self._stock_changed(owner)
            if quantity <= 0:
                order.line_items.remove(item)
            else:
                item.quantity = quantity
            order.date_modified = self.now()
            self._emit("order.updated", order.id)
            return order

    def add_note(
        self, order_id: int, note: str, *, customer_note: bool = False, author: str = "system"
    ) -> Note:
        """Add an order note; a customer note is the one WooCommerce e-mails to the customer."""
        with self.lock:
            self.order(order_id)
            n = Note(self.next_id("note"), order_id, note, customer_note, author, self.now())
            self.notes[n.id] = n
            if customer_note:  # WC_Email_Customer_Note: "A note has been added to your order"
                self.customer_emails.append(
                    {
                        "order_id": order_id,
                        "to": self.orders[order_id].billing.get("email", ""),
                        "kind": "customer_note",
                        "subject": f"Note added to your order #{order_id}",
                        "body": note,
                        "sent_at": n.date_created,
                    }
                )
            return n

    def refund_order(
        self,
        order_id: int,
        amount: str | None = None,
        reason: str = "",
        *,
        restock: bool = False,
        lines: Mapping[int, int] | None = None,
    ) -> Refund:
        """Refund (default: the remainder, or the value of `lines`); a full refund sets status
        refunded (`wc_create_refund`).

        `lines` maps order line item ids to units refunded: the refund holds a copy of each
        such line with a negative quantity and the meta `_refunded_item_id`, and with `restock`
        those units go back to stock (`wc_restock_refunded_items`). Without `lines`, `restock`
        puts back everything the order took. As in WooCommerce, the order's own lines keep
        their quantities: what was refunded is read from the refunds.
        """
        with self.lock:
            order = self.order(order_id)
            remaining = float(order_total(order)) - sum(
                float(self.refunds[r].amount) for r in order.refunds
            )
            refunded = {
                item.id: (item, int(units))
                for item in order.line_items
                if (units := (lines or {}).get(item.id, 0)) and int(units) > 0
            }
            if amount is not None:
                value = float(amount)
            elif lines is not None:
                value = sum(item.price * units for item, units in refunded.values())
            else:
                value = remaining
            if value < 0 or value > remaining + 0.005:
                raise WooError(
                    "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", 500
                )
            refund = Refund(self.next_id("post"), order.id, f"{value:.2f}", reason, self.now())
            refund.line_items = [self._refund_item(i, n) for i, n in refunded.values()]
            self.refunds[refund.id] = refund
            order.refunds.append(refund.id)
            if restock and lines is not None:
                self._restock_refunded(order, refunded.values())
            elif restock and order.stock_reduced:
                self._restore_stock(order)
            if value >= remaining - 0.005:
                self._transition(order, "refunded")
            order.date_modified = self.now()
            self._emit("order.updated", order.id)
            return refund

    def _refund_item(self, item: LineItem, units: int) -> RefundItem:
        """`new $class( $item )` with the refund's quantity and `_refunded_item_id` meta."""
        meta = [self.meta(m.key, m.value) for m in item.meta_data]
        meta.append(self.meta("_refunded_item_id", str(item.id)))
        return RefundItem(
            id=self.next_id("item"),
            refunded_item_id=item.id,
            name=item.name,
            product_id=item.product_id,
            variation_id=item.variation_id,
            quantity=-units,
            price=item.price,
            sku=item.sku,
            meta_data=meta,
        )

    def _restock_refunded(self, order: Order, refunded: Iterable[tuple[LineItem, int]]) -> None:
        """Put refunded units back, as far as the order took them (`_reduced_stock`)."""
        for item, units in refunded:
            target = self.products.get(item.variation_id or item.product_id)
            owner = stock_owner(target, self.products) if target else None
            back = min(units, item.reduced_stock)
            if target is None or owner is None or back <= 0:
                continue
            before = owner.stock_quantity or 0
            owner.stock_quantity = before + back
            item.reduced_stock -= back
            self.add_note(
                order.id,
                f"Item #{item.id} stock increased from {before} to {owner.stock_quantity}.",
            )
            self._stock_changed(owner)

    def _line(self, target: Product, product_id: int, variation_id: int, qty: int) -> LineItem:
        price = float(target.sale_price or target.regular_price or 0)
        item = LineItem(
            id=self.next_id("item"),
            name=target.name,
            product_id=product_id,
            variation_id=variation_id,
            quantity=qty,
            price=price,
            sku=target.sku,
        )
        for attr in target.attributes if target.type == "variation" else ():
            key = "pa_" + slugify(str(attr.get("name", "")))
            item.meta_data.append(self.meta(key, slugify(str(attr.get("option", "")))))
        return item

    def _transition(
        self, order: Order, status: str, *, note: str = "", announce: bool = True
    ) -> None:
        """Status change with WooCommerce's stock hooks (wc_maybe_reduce/increase_stock_levels)."""
        old = order.status
        order.status = status
        now = self.now()
        order.date_modified = now
        if status in ("processing", "completed") and order.date_paid is None:
            order.date_paid = now
        if status == "completed":
            order.date_completed = now
        label = STATUS_LABELS.get(status, status)
        self.add_note(
            order.id,
            f"{note} Order status changed from {STATUS_LABELS.get(old, old)} to {label}.".strip(),
        )
        if status in REDUCING and not order.stock_reduced:
            self._reduce_stock(order)
        elif status in RESTORING and order.stock_reduced:
            self._restore_stock(order)

    def _reduce_stock(self, order: Order) -> None:
        changes = []
        label = self.settings.backordered_label
        for item in order.line_items:
            target = self.products.get(item.variation_id or item.product_id)
            owner = stock_owner(target, self.products) if target else None
            if target is None or owner is None:
                continue
            before = owner.stock_quantity or 0
            if (
                owner.backorders == "notify"
                and is_on_backorder(target, self.products, item.quantity)
                and not any(m.key == label for m in item.meta_data)
            ):
                item.meta_data.append(self.meta(label, item.quantity - max(0, before)))
            owner.stock_quantity = before - item.quantity
            owner.total_sales += item.quantity
            item.reduced_stock = item.quantity
            changes.append(
                f"{target.name} ({target.sku or target.id}) {before}&rarr;{owner.stock_quantity}"
            )
            self._stock_changed(owner)
        order.stock_reduced = True
        if changes:
            self.add_note(order.id, "Stock levels reduced: " + ", ".join(changes))

    def _restore_stock(self, order: Order) -> None:
        changes = []
        for item in order.line_items:
            target = self.products.get(item.variation_id or item.product_id)
            owner = stock_owner(target, self.products) if target else None
            if target is None or owner is None or item.reduced_stock <= 0:
                continue
            before = owner.stock_quantity or 0
            owner.stock_quantity = before + item.reduced_stock
            item.reduced_stock = 0
            changes.append(
                f"{target.name} ({target.sku or target.id}) {before}&rarr;{owner.stock_quantity}"
            )
            self._stock_changed(owner)
        order.stock_reduced = False
        if changes:
            self.add_note(order.id, "Stock levels increased: " + ", ".join(changes))

    # ---------------------------------------------------------------- webhooks
    def webhook(self, webhook_id: int) -> Webhook:
        """A webhook, else woocommerce_rest_webhook_invalid_id."""
        w = self.webhooks.get(webhook_id)
        if w is None:
            raise invalid_id("webhook")
        return w

    def add_webhook(
        self,
        topic: str,
        delivery_url: str,
        *,
        secret: str = "",
        name: str = "",
        status: str = "active",
    ) -> Webhook:
        """Register a webhook (the ping is the dispatcher's job, see webhooks.py)."""
        if "." not in topic:
            raise invalid_param("topic", "Webhook topic must be valid.")
        with self.lock:
            now = self.now()
            w = Webhook(
                id=self.next_id("webhook"),
                name=name or f"Webhook created on {now:%b %d, %Y @ %I:%M %p}",
                status=status,
                topic=topic,
                delivery_url=delivery_url,
                secret=secret or secrets.token_urlsafe(36).replace("-", "x").replace("_", "y"),
                date_created=now,
                date_modified=now,
            )
            self.webhooks[w.id] = w
            return w

    def update_webhook(self, webhook_id: int, **fields: Any) -> Webhook:
        """Edit a webhook; setting status active re-arms a disabled one (failures reset)."""
        with self.lock:
            w = self.webhook(webhook_id)
            for name in ("name", "topic", "delivery_url", "secret", "status"):
                if fields.get(name) is not None:
                    setattr(w, name, fields[name])
            if fields.get("status") == "active":
                w.failure_count = 0
            w.date_modified = self.now()
            return w

    def delivery_failed(self, webhook_id: int) -> None:
        """Count a failed delivery; at the limit the webhook is disabled (no retries, ever)."""
        with self.lock:
            w = self.webhooks.get(webhook_id)
            if w is None:
                return
            w.failure_count += 1
            if w.failure_count >= self.settings.webhook_failure_limit:
                w.status = "disabled"

    def delivery_succeeded(self, webhook_id: int) -> None:
        """A 200-302 answer resets the consecutive-failure count."""
        with self.lock:
            w = self.webhooks.get(webhook_id)
            if w is not None:
                w.failure_count = 0

    # ---------------------------------------------------------------- summary
    def state(self) -> dict[str, Any]:
        """Counts and switches, for /_sandbox/state and for humans."""
        with self.lock:
            return {
                "site_url": self.settings.site_url,
                "language": self.settings.language,
                "products": sum(1 for p in self.products.values() if p.type != "variation"),
                "variations": sum(1 for p in self.products.values() if p.type == "variation"),
                "orders": len(self.orders),
                "keys": len(self.keys),
                "webhooks": [
                    {
                        "id": w.id,
                        "topic": w.topic,
                        "status": w.status,
                        "failure_count": w.failure_count,
                        "ping_error": self.ping_errors.get(w.id),
                    }
                    for w in self.webhooks.values()
                ],
                "faults": {
                    "fail_next": len(self.faults.fail_next),
                    "delay": self.faults.delay,
                    "drop_webhooks": self.faults.drop_webhooks,
                },
            }


def _status_for(p: Product) -> str:
    """Managed stock decides the status; otherwise the stored one stands."""
    if not p.manage_stock:
        return p.stock_status
    if (p.stock_quantity or 0) > 0:
        return "instock"
    return "onbackorder" if p.backorders in ALLOWING else "outofstock"


def _address(email: str) -> dict[str, str]:
    local = email.split("@")[0].replace(".", " ").title().split()
    return {
        "first_name": local[0] if local else "",
        "last_name": local[1] if len(local) > 1 else "",
        "company": "",
        "address_1": "969 Market",
        "address_2": "",
        "city": "San Francisco",
        "state": "CA",
        "postcode": "94103",
        "country": "US",
        "email": email,
        "phone": "(555) 555-5555",
    }


def order_total(order: Order) -> str:
    """Lines plus shipping, two decimals (no tax in the sandbox)."""
    lines = sum(i.line_total for i in order.line_items)
    shipping = sum(float(s["total"]) for s in order.shipping_lines)
    return f"{lines + shipping:.2f}"


def slugify(text: str) -> str:
    """`sanitize_title` in brief: lower case, dashes between words."""
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in out.split("-") if part)


def invalid_param(name: str, why: str) -> WooError:
    """WordPress's argument validation error (rest_invalid_param)."""
    return WooError("rest_invalid_param", f"Invalid parameter(s): {name}", 400, params={name: why})
