"""`WooCommerceAdapter`: the `StoreAdapter` protocol over WooCommerce's REST API (wc/v3).

Where WooCommerce lacks a concept of the common model, this adapter emulates it and says so:
- order tags: WooCommerce orders have none; kept as order meta `backorder_tags` (a JSON list);
- holding lines: WooCommerce cannot hold single lines; a *processing* order is put on-hold as a
  whole (meta `backorder_held_from` remembers the status) and `release_holds` puts it back;
- data on orders and variants: meta `_backorder_<key>` (the underscore hides it from the shop's
  customers and admin screens; we never need to read it back).
Keys we must read back (tags, held status) are *not* underscored: WooCommerce's REST answers
omit protected `_` meta, so a read-modify-write on them would always start from nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import requests

from adapters.base import (
    Ignored,
    OrderPush,
    Page,
    ProductChanged,
    StoreError,
    StoreOrder,
    StoreProduct,
    StoreShop,
    StoreWebhook,
    WebhookChange,
    push_each,
)
from adapters.woocommerce import webhooks
from adapters.woocommerce.client import WooClient, WooRequestError
from adapters.woocommerce.clock import utc_now
from adapters.woocommerce.order_edits import OrderEdits
from adapters.woocommerce.orders import refunds_needed, store_order
from adapters.woocommerce.products import store_product
from adapters.woocommerce.retry import Backoff
from adapters.woocommerce.walk import Variations, walk, with_variations

OVERLAP = timedelta(minutes=5)  # re-read changes near the window start (clock skew, late commits)
TAGS_KEY = "backorder_tags"
HELD_KEY = "backorder_held_from"
DATA_PREFIX = "_backorder_"
SECRET_RE = re.compile(r"^[A-Za-z0-9]{16,}$")


class WooCommerceAdapter:
    """One WooCommerce store, reached with a REST API key (read_write for write-backs)."""

    platform = "woocommerce"
    # No order batch that carries meta, notes and status together: one order at a time.
    order_push_batch = 1

    def __init__(
        self,
        url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        session: requests.Session | None = None,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        webhook_secret: str | None = None,
        max_attempts: int = 6,
        query_string_auth: bool = False,
        overlap: timedelta = OVERLAP,
        allow_private: bool = False,
    ) -> None:
        """`allow_private=False` (the default; ALLOW_PRIVATE_STORE_URLS off): https to public
        addresses only, re-checked on every connection and redirect (see `adapters.netguard`).
        Pass `allow_private=True` to reach a local or private store (development, the sandbox)."""
        self.url = url.rstrip("/")
        self.now = now
        self.overlap = overlap
        self.webhook_secret = webhook_secret
        self.client = WooClient(
            url,
            consumer_key,
            consumer_secret,
            session=session,
            sleep=sleep,
            now=now,
            backoff=Backoff(max_attempts=max_attempts),
            query_string_auth=query_string_auth,
            allow_private=allow_private,
        )
        # variation id → parent product id, learnt while walking products: writing to a
        # variation needs its parent (PUT /products/<parent>/variations/<id>).
        self._parents: dict[str, str] = {}
        self._variations = Variations(self.client)
        self.edits = OrderEdits(self.client, self._parent_of)

    # ------------------------------------------------------------------ reads
    def shop(self) -> StoreShop:
        """From `system_status` where served; else host, "UTC" and the latest order's currency.

        The fallback's timezone is a guess: callers should let the merchant correct it.
        """
        host = urlparse(self.url).hostname or self.url
        try:
            status = self.client.get("system_status")
        except WooRequestError as exc:
            if exc.status != 404:
                raise
            status = None
        if isinstance(status, dict):
            env = status.get("environment") or {}
            settings = status.get("settings") or {}
            return StoreShop(
                domain=urlparse(str(env.get("home_url") or self.url)).hostname or host,
                name=str(env.get("site_title") or host),
                timezone=str(env.get("timezone") or settings.get("timezone") or "UTC"),
                currency=str(settings.get("currency") or self._order_currency()),
            )
        return StoreShop(domain=host, name=host, timezone="UTC", currency=self._order_currency())

    def _order_currency(self) -> str:
        latest = self.client.get("orders", {"per_page": 1, "orderby": "date", "order": "desc"})
        return str(latest[0].get("currency", "")) if latest else ""

    def product_pages(
        self,
        *,
        updated_since: datetime | None = None,
        updated_before: datetime | None = None,
        cursor: str | None = None,
    ) -> Iterator[Page[StoreProduct]]:
        """Products changed in the window, oldest change first, 100 a page, with variations.

        Trashed products are not listed (WooCommerce's `status=any` leaves them out): their
        removal reaches us by the `product.deleted` webhook only.
        """
        after = updated_since - self.overlap if updated_since else None
        products = walk(self.client, "products", after=after, before=updated_before, cursor=cursor)
        # Variations a few pages at a time (`GET /variations`, WooCommerce 10.3+) where served.
        for items, variations, next_cursor in with_variations(products, self._variations):
            yield Page(tuple(self._product(p, variations.get(p["id"])) for p in items), next_cursor)

    def _product(
        self, product: dict[str, Any], variations: list[dict[str, Any]] | None = None
    ) -> StoreProduct:
        """A product with its variations (read from the store unless given)."""
        if product.get("type") != "variable":
            return store_product(product, [])
        if variations is None:
            variations = self.client.all(f"products/{product['id']}/variations")
        for v in variations:
            self._parents[str(v["id"])] = str(product["id"])
        return store_product(product, variations)

    def order_pages(
        self,
        *,
        updated_since: datetime | None = None,
        updated_before: datetime | None = None,
        cursor: str | None = None,
    ) -> Iterator[Page[StoreOrder]]:
        """Orders changed in the window, oldest change first, 100 a page.

        Trashed and checkout-draft orders are not listed by WooCommerce's `status=any`; an order
        trashed after we saw it reaches us by the `order.deleted` webhook only.
        """
        after = updated_since - self.overlap if updated_since else None
        for items, next_cursor in walk(
            self.client, "orders", after=after, before=updated_before, cursor=cursor
        ):
            yield Page(tuple(self.read_order(o) for o in items), next_cursor)

    def read_order(self, order: dict[str, Any]) -> StoreOrder:
        """An order's JSON (from a listing or a webhook) with its per-line refunds.

        The order JSON does not say which lines a refund covered: for an order that lists
        refunds and still holds stock, one more request reads them (`GET /orders/<id>/refunds`).
        """
        refunds: list[dict[str, Any]] = []
        if refunds_needed(order):
            refunds = self.client.all(f"orders/{order['id']}/refunds")
        return store_order(order, refunds)

    def get_order(self, order_external_id: str) -> StoreOrder:
        order = self.client.get(f"orders/{order_external_id}")
        if not isinstance(order, dict):
            raise StoreError(f"orders/{order_external_id}: expected a JSON object")
        return self.read_order(order)

    # ------------------------------------------------------------------ order changes
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
        """`PUT orders/<id>` line items (see `adapters.woocommerce.order_edits`)."""
        order = self.client.get(f"orders/{order_external_id}")
        updated = self.edits.change(
            order,
            line_external_id,
            keep_quantity=keep_quantity,
            add_variant_external_id=add_variant_external_id,
            add_quantity=add_quantity,
            staff_note=staff_note,
        )
        return self.read_order(updated if updated is not None else order)

    def add_customer_note(self, order_external_id: str, note: str) -> None:
        """A customer note: WooCommerce e-mails it to the order's billing address itself."""
        body = {"note": note, "customer_note": True}
        self.client.post(f"orders/{order_external_id}/notes", body)

    # ------------------------------------------------------------------ order write-backs
    def add_order_note(self, order_external_id: str, note: str) -> None:
        """A private note: `customer_note: true` would make WooCommerce e-mail the customer."""
        body = {"note": note, "customer_note": False}
        self.client.post(f"orders/{order_external_id}/notes", body)

    def set_order_data(self, order_external_id: str, key: str, value: dict[str, Any]) -> None:
        """Order meta `_backorder_<key>` = value."""
        self._order_meta(order_external_id, {DATA_PREFIX + key: value})

    def add_order_tags(self, order_external_id: str, tags: Sequence[str]) -> None:
        """Order meta `backorder_tags` gains `tags` (WooCommerce orders have no tags)."""
        current = self._tags(order_external_id)
        merged = current + [t for t in dict.fromkeys(tags) if t not in current]
        if merged != current:
            self._order_meta(order_external_id, {TAGS_KEY: merged})

    def remove_order_tags(self, order_external_id: str, tags: Sequence[str]) -> None:
        """Order meta `backorder_tags` loses `tags`."""
        current = self._tags(order_external_id)
        kept = [t for t in current if t not in set(tags)]
        if kept != current:
            self._order_meta(order_external_id, {TAGS_KEY: kept})

    def hold_lines(
        self, order_external_id: str, line_external_ids: Sequence[str], note: str
    ) -> None:
        """Put a processing order on-hold (whole order: WooCommerce has no line holds) + note.

        Only a processing order is moved: on-hold from pending would reduce stock, and a
        completed or cancelled order has nothing to hold. The note names the held lines.
        """
        order = self.client.get(f"orders/{order_external_id}")
        if order.get("status") == "processing":
            self.client.put(
                f"orders/{order_external_id}",
                {
                    "status": "on-hold",
                    "meta_data": [{"key": HELD_KEY, "value": "processing"}],
                },
            )
        lines = ", ".join(line_external_ids)
        self.add_order_note(order_external_id, f"{note} (lines {lines})" if lines else note)

    def push_orders(self, pushes: Sequence[OrderPush]) -> dict[str, Exception | None]:
        return push_each(self, pushes)

    def release_holds(self, order_external_id: str) -> None:
        """Restore the status our hold replaced; an on-hold set by the merchant stays."""
        order = self.client.get(f"orders/{order_external_id}")
        held_from = _meta(order, HELD_KEY)
        if order.get("status") == "on-hold" and held_from:
            self.client.put(
                f"orders/{order_external_id}",
                {"status": str(held_from), "meta_data": [{"key": HELD_KEY, "value": ""}]},
            )

    def _tags(self, order_external_id: str) -> list[str]:
        value = _meta(self.client.get(f"orders/{order_external_id}"), TAGS_KEY)
        return [str(t) for t in value] if isinstance(value, list) else []

    def _order_meta(self, order_external_id: str, values: dict[str, Any]) -> None:
        meta = [{"key": k, "value": v} for k, v in values.items()]
        self.client.put(f"orders/{order_external_id}", {"meta_data": meta})

    # ------------------------------------------------------------------ variant write-backs
    def set_variant_data(
        self,
        variant_external_id: str,
        key: str,
        value: dict[str, Any],
        *,
        references: dict[str, Sequence[str]] | None = None,
    ) -> None:
        """Variant meta `_backorder_<key>`: on the variation, or the simple product; each of
        `references` as meta `_backorder_<name>` (a list of product/variation ids), same call."""
        rows = [{"key": DATA_PREFIX + key, "value": value}] + [
            {"key": DATA_PREFIX + name, "value": list(ids)}
            for name, ids in sorted((references or {}).items())
        ]
        meta = {"meta_data": rows}
        parent = self._parent_of(variant_external_id)
        if parent is None:
            self.client.put(f"products/{variant_external_id}", meta)
        else:
            self.client.put(f"products/{parent}/variations/{variant_external_id}", meta)

    def _parent_of(self, variant_external_id: str) -> str | None:
        """The parent of a variation (None: a simple product), from the walk or the store.

        `GET /variations?include=` exists since WooCommerce 10.3; on older stores an id not
        seen in a product walk is taken for a simple product (a 4xx then says otherwise).
        """
        if variant_external_id in self._parents:
            return self._parents[variant_external_id]
        try:
            found = self.client.get("variations", {"include": variant_external_id})
        except WooRequestError as exc:
            if exc.status != 404:
                raise
            found = []
        if found:
            self._parents[variant_external_id] = str(found[0]["parent_id"])
            return self._parents[variant_external_id]
        return None

    # ------------------------------------------------------------------ webhooks
    def register_webhook(self, topic: str, address: str) -> StoreWebhook:
        """Subscribe `address` to `topic`, signed with the adapter's `webhook_secret`."""
        if not self.webhook_secret or not SECRET_RE.match(self.webhook_secret):
            raise StoreError("webhook_secret must be set: at least 16 letters and digits")
        created = self.client.post(
            "webhooks",
            {
                "name": f"Backorder Connector {topic}",
                "topic": topic,
                "delivery_url": address,
                "secret": self.webhook_secret,
                "status": "active",
            },
        )
        return _webhook(created)

    def update_webhook(self, external_id: str) -> StoreWebhook:
        """Re-sign an existing webhook with the adapter's `webhook_secret` and (re)activate it.

        WooCommerce signs each delivery with the secret stored on the webhook: after a reinstall
        with a new secret, webhooks subscribed before keep the old one until updated
        (`PUT webhooks/<id>`; status "active" also re-arms one disabled by failed deliveries).
        """
        if not self.webhook_secret or not SECRET_RE.match(self.webhook_secret):
            raise StoreError("webhook_secret must be set: at least 16 letters and digits")
        updated = self.client.put(
            f"webhooks/{external_id}", {"secret": self.webhook_secret, "status": "active"}
        )
        return _webhook(updated)

    def list_webhooks(self) -> list[StoreWebhook]:
        """Every webhook of the store (any status, any owner)."""
        return [_webhook(w) for w in self.client.all("webhooks")]

    def read_webhook(self, topic: str, body: dict[str, Any]) -> WebhookChange:
        """One delivery as a common-model change (`adapters.woocommerce.webhooks` reads it).

        Orders are mapped like the order listing (`read_order`). A product body is mapped like
        the product listing, stock at "default" included; a variable product's variations are
        read from the store, and a variation's body (variations fire product.updated with
        `parent_id`) is replaced by its parent's product read from the store. Raises
        ValueError for a malformed body, StoreError when the store fails us.
        """
        if topic not in webhooks.PRODUCT_TOPICS:
            return webhooks.read(topic, body, self.read_order)
        if not isinstance(body, dict):
            raise ValueError(f"{topic}: the body is {type(body).__name__}, not a JSON object")
        webhooks.check_product(body)
        product = body
        parent_id = webhooks.variation_parent(body)
        if parent_id is not None:
            try:
                product = self.client.get(f"products/{parent_id}")
            except WooRequestError as exc:
                if exc.status != 404:
                    raise
                return Ignored(f"variation {body['id']}: its product {parent_id} is gone")
            if not isinstance(product, dict):
                raise StoreError(f"products/{parent_id}: expected a JSON object")
        return ProductChanged(webhooks.mapped(topic, lambda: self._product(product)))

    # ------------------------------------------------------------------ selling on backorder
    def set_inventory_policy(
        self, product_external_id: str, variant_external_id: str, policy: str
    ) -> None:
        """`backorders` "notify" (sell when out of stock, and tell the customer) or "no".

        A simple product is its own variant (same id); anything else is a variation. A
        variation whose parent manages its stock takes the parent's setting in WooCommerce, so
        that is written on the parent.
        """
        if policy not in ("continue", "deny"):
            raise ValueError(f"inventory policy {policy!r}")
        body = {"backorders": "notify" if policy == "continue" else "no"}
        if product_external_id == variant_external_id:
            self.client.put(f"products/{product_external_id}", body)
            return
        path = f"products/{product_external_id}/variations/{variant_external_id}"
        updated = self.client.put(path, body)
        if isinstance(updated, dict) and updated.get("manage_stock") == "parent":
            self.client.put(f"products/{product_external_id}", body)


def _webhook(data: dict[str, Any]) -> StoreWebhook:
    return StoreWebhook(
        external_id=str(data["id"]),
        topic=str(data.get("topic", "")),
        address=str(data.get("delivery_url", "")),
    )


def _meta(record: dict[str, Any], key: str) -> Any:
    rows = record.get("meta_data") or []
    return next((m.get("value") for m in rows if m.get("key") == key), None)
