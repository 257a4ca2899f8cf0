"""`ShopifyAdapter`: the `StoreAdapter` protocol over Shopify's Admin GraphQL API.

Reads walk `updated_at`-sorted connections and hand out one `Page` per GraphQL page, so the
sync can checkpoint on `Page.next_cursor` (Shopify's `endCursor`). Nested connections are kept
small to stay under Shopify's 1000-point query cost limit and are completed with follow-up
queries, so a page is always whole. Writes use only additive mutations: tagsAdd/tagsRemove
(never orderUpdate, which overwrites the merchant's tags and note), app-owned metafields,
fulfillment-order holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import requests

from adapters.base import (
    NotSupported,
    Page,
    StoreError,
    StoreOrder,
    StoreProduct,
    StoreShop,
    StoreWebhook,
)
from adapters.shopify import parse, queries
from adapters.shopify.clock import real_sleep, utc_now
from adapters.shopify.transport import GraphQLTransport, admin_base_url

METAFIELD_NAMESPACE = "$app:backorder"
HOLD_HANDLE = "backorder-connector"
HOLD_REASON = "INVENTORY_OUT_OF_STOCK"
OPEN_FULFILLMENT_STATES = ("OPEN", "IN_PROGRESS")


class ShopifyAdapter:
    """One shop's Admin API; settings come in as arguments (adapters never read config)."""

    platform = "shopify"

    def __init__(
        self,
        shop: str,
        access_token: str,
        *,
        admin_base_url: str = "https://{shop}/admin/api/{version}",
        api_version: str = queries.API_VERSION,
        session: requests.Session | None = None,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = real_sleep,
        max_attempts: int = 6,
    ) -> None:
        self.shop_domain = shop
        self.transport = GraphQLTransport(
            _admin_url(admin_base_url, shop, api_version),
            access_token,
            session=session,
            now=now,
            sleep=sleep,
            max_attempts=max_attempts,
        )

    # ------------------------------------------------------------------ reads
    def shop(self) -> StoreShop:
        return parse.shop(self._run(queries.SHOP)["shop"])

    def product_pages(
        self,
        *,
        updated_since: datetime | None = None,
        updated_before: datetime | None = None,
        cursor: str | None = None,
    ) -> Iterator[Page[StoreProduct]]:
        search = parse.updated_query(updated_since, updated_before)
        while True:
            data = self._run(
                queries.PRODUCTS,
                first=queries.PRODUCTS_PER_PAGE,
                after=cursor,
                query=search,
                variants=queries.VARIANTS_PER_PRODUCT,
                levels=queries.LEVELS_PER_VARIANT,
            )["products"]
            items = tuple(self._product(node) for node in data["nodes"])
            cursor = _next(data)
            yield Page(items, cursor)
            if cursor is None:
                return

    def _product(self, node: dict[str, Any]) -> StoreProduct:
        variant_nodes = self._drain(
            node["variants"],
            lambda after: self._run(
                queries.PRODUCT_VARIANTS,
                id=node["id"],
                first=queries.FOLLOW_UP_PAGE,
                after=after,
                levels=queries.LEVELS_PER_VARIANT,
            )["product"]["variants"],
        )
        variants = [parse.variant(v, self._levels(v)) for v in variant_nodes]
        return parse.product(node, variants)

    def _levels(self, variant: dict[str, Any]) -> list[dict[str, Any]]:
        item = variant.get("inventoryItem")
        if not item:
            return []
        return self._drain(
            item["inventoryLevels"],
            lambda after: self._run(
                queries.INVENTORY_LEVELS, id=item["id"], first=queries.FOLLOW_UP_PAGE, after=after
            )["inventoryItem"]["inventoryLevels"],
        )

    def order_pages(
        self,
        *,
        updated_since: datetime | None = None,
        updated_before: datetime | None = None,
        cursor: str | None = None,
    ) -> Iterator[Page[StoreOrder]]:
        search = parse.updated_query(updated_since, updated_before)
        while True:
            data = self._run(
                queries.ORDERS,
                first=queries.ORDERS_PER_PAGE,
                after=cursor,
                query=search,
                lines=queries.LINES_PER_ORDER,
            )["orders"]
            items = tuple(self._order(node) for node in data["nodes"])
            cursor = _next(data)
            yield Page(items, cursor)
            if cursor is None:
                return

    def _order(self, node: dict[str, Any]) -> StoreOrder:
        lines = self._drain(
            node["lineItems"],
            lambda after: self._run(
                queries.ORDER_LINE_ITEMS, id=node["id"], first=queries.FOLLOW_UP_PAGE, after=after
            )["order"]["lineItems"],
        )
        return parse.order(node, lines)

    def _drain(
        self, first: dict[str, Any], fetch: Callable[[str], dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """All nodes of a nested connection: the embedded first page, then follow-ups."""
        nodes = list(first["nodes"])
        after = _next(first)
        while after is not None:
            page = fetch(after)
            nodes.extend(page["nodes"])
            after = _next(page)
        return nodes

    # ------------------------------------------------------------------ writes
    def add_order_tags(self, order_external_id: str, tags: Sequence[str]) -> None:
        data = self._run(queries.TAGS_ADD, id=order_external_id, tags=list(tags))
        _user_errors(data["tagsAdd"])

    def remove_order_tags(self, order_external_id: str, tags: Sequence[str]) -> None:
        data = self._run(queries.TAGS_REMOVE, id=order_external_id, tags=list(tags))
        _user_errors(data["tagsRemove"])

    def add_order_note(self, order_external_id: str, note: str) -> None:
        """Shopify's order note is one field: writing it would overwrite the merchant's note."""
        raise NotSupported(
            "Shopify orders have a single note field that we would overwrite; "
            "use set_order_data (metafields) and tags instead"
        )

    def set_order_data(self, order_external_id: str, key: str, value: dict[str, Any]) -> None:
        self._set_metafield(order_external_id, key, value)

    def set_variant_data(self, variant_external_id: str, key: str, value: dict[str, Any]) -> None:
        self._set_metafield(variant_external_id, key, value)

    def _set_metafield(self, owner_id: str, key: str, value: dict[str, Any]) -> None:
        entry = {
            "ownerId": owner_id,
            "namespace": METAFIELD_NAMESPACE,
            "key": key,
            "type": "json",
            "value": json.dumps(value, sort_keys=True, default=str),
        }
        _user_errors(self._run(queries.METAFIELDS_SET, metafields=[entry])["metafieldsSet"])

    def hold_lines(
        self, order_external_id: str, line_external_ids: Sequence[str], note: str
    ) -> None:
        """Hold the open fulfillment-order lines of these order lines (the rest stays open)."""
        wanted = set(line_external_ids)
        for fo in self._fulfillment_orders(order_external_id):
            if fo["status"] not in OPEN_FULFILLMENT_STATES:
                continue
            held = [
                {"id": li["id"], "quantity": li["remainingQuantity"]}
                for li in fo["lineItems"]["nodes"]
                if li["lineItem"]["id"] in wanted and li["remainingQuantity"] > 0
            ]
            if not held:
                continue
            hold = {
                "reason": HOLD_REASON,
                "reasonNotes": note,
                "handle": HOLD_HANDLE,
                "fulfillmentOrderLineItems": held,
            }
            data = self._run(queries.FULFILLMENT_ORDER_HOLD, id=fo["id"], hold=hold)
            _user_errors(data["fulfillmentOrderHold"])

    def release_holds(self, order_external_id: str) -> None:
        """Release only the holds we placed (our handle); a merchant's own holds stay."""
        for fo in self._fulfillment_orders(order_external_id):
            ours = [h["id"] for h in fo.get("fulfillmentHolds") or () if h["handle"] == HOLD_HANDLE]
            if fo["status"] != "ON_HOLD" or not ours:
                continue
            data = self._run(queries.FULFILLMENT_ORDER_RELEASE_HOLD, id=fo["id"], holdIds=ours)
            _user_errors(data["fulfillmentOrderReleaseHold"])

    def _fulfillment_orders(self, order_external_id: str) -> list[dict[str, Any]]:
        data = self._run(
            queries.ORDER_FULFILLMENT_ORDERS,
            id=order_external_id,
            first=queries.FULFILLMENT_ORDERS_PER_ORDER,
            lines=queries.LINES_PER_FULFILLMENT_ORDER,
        )
        if data.get("order") is None:
            raise StoreError(f"order {order_external_id} not found")
        return list(data["order"]["fulfillmentOrders"]["nodes"])

    def register_webhook(self, topic: str, address: str) -> StoreWebhook:
        data = self._run(
            queries.WEBHOOK_SUBSCRIPTION_CREATE,
            topic=parse.topic_enum(topic),
            subscription={"callbackUrl": address, "format": "JSON"},
        )["webhookSubscriptionCreate"]
        _user_errors(data)
        return parse.webhook(data["webhookSubscription"])

    def list_webhooks(self) -> list[StoreWebhook]:
        hooks: list[StoreWebhook] = []
        after: str | None = None
        while True:
            data = self._run(
                queries.WEBHOOK_SUBSCRIPTIONS, first=queries.FOLLOW_UP_PAGE, after=after
            )["webhookSubscriptions"]
            hooks.extend(parse.webhook(node) for node in data["nodes"])
            after = _next(data)
            if after is None:
                return hooks

    # ------------------------------------------------------------------ plumbing
    def _run(self, document: str, **variables: Any) -> dict[str, Any]:
        return self.transport.execute(document, variables)


def _admin_url(template: str, shop: str, version: str) -> str:
    return admin_base_url(template, shop, version)


def _next(connection: dict[str, Any]) -> str | None:
    info = connection.get("pageInfo") or {}
    return info.get("endCursor") if info.get("hasNextPage") else None


def _user_errors(payload: dict[str, Any] | None) -> None:
    """Shopify reports refused mutations as `userErrors` in an HTTP 200 answer."""
    errors = (payload or {}).get("userErrors") or []
    if errors:
        raise StoreError("; ".join(str(e.get("message")) for e in errors))
