"""`ShopifyAdapter`: the `StoreAdapter` protocol over Shopify's Admin GraphQL API.

Reads walk `updated_at`-sorted connections and hand out one `Page` per GraphQL page, so the
sync can checkpoint on `Page.next_cursor` (Shopify's `endCursor`). Nested connections are kept
small to stay under Shopify's 1000-point query cost limit and are completed with follow-up
queries, so a page is always whole. A full walk of a large store (at least `bulk_threshold`
products, or orders, counted first) is one bulk export instead (`adapters/shopify/bulk.py`): the
same `Page`s of the same values, with cursors that resume inside the export's file. Writes use
only additive mutations: tagsAdd/tagsRemove (never orderUpdate, which overwrites the merchant's
tags and note), app-owned metafields, fulfillment-order holds. Changing what the customer ordered
(a line reduced, removed or switched) is an order edit (`adapters/shopify/order_edits.py`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from adapters.base import (
    Ignored,
    InventoryChanged,
    NotSupported,
    OrderChanged,
    OrderPush,
    Page,
    ProductChanged,
    StoreError,
    StoreOrder,
    StoreProduct,
    StoreShop,
    StoreWebhook,
    WebhookChange,
)
from adapters.netguard import guard_session, is_shopify_host
from adapters.shopify import bulk, parse, queries, webhooks
from adapters.shopify.bulk_mutations import BulkMutations
from adapters.shopify.clock import real_sleep, utc_now
from adapters.shopify.oauth import OfflineToken, TokenKeeper, TokenRefresh, token_url
from adapters.shopify.order_edits import OrderEdits
from adapters.shopify.order_pushes import OrderPushes
from adapters.shopify.transport import CostBucket, GraphQLTransport, admin_base_url

METAFIELD_NAMESPACE = "$app:backorder"
HOLD_HANDLE = "backorder-connector"
HOLD_REASON = "INVENTORY_OUT_OF_STOCK"
OPEN_FULFILLMENT_STATES = ("OPEN", "IN_PROGRESS")

log = logging.getLogger(__name__)


class ShopifyAdapter:
    """One shop's Admin API; settings come in as arguments (adapters never read config)."""

    platform = "shopify"
    order_push_batch = 1000  # bulk mutations: see adapters/shopify/order_pushes.py

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
        refresh: TokenRefresh | None = None,
        allow_private: bool = False,
        bulk_threshold: int | None = queries.BULK_THRESHOLD,
        bulk_page_size: int = queries.BULK_RECORDS_PER_PAGE,
        bulk_poll: float = bulk.POLL_FIRST,
        bucket: CostBucket | None = None,
    ) -> None:
        """`refresh`: an expiring token's refresh token, expiry and where to store a new pair.

        `allow_private=False` (the default; ALLOW_PRIVATE_STORE_URLS off) sends requests to an
        admin URL that is not Shopify's own `*.myshopify.com` only over https and only if its host
        resolves to public addresses. Pass `allow_private=True` to reach a local or private admin
        URL (development, the sandbox). `bucket`: the shop's rate-limit bucket as the other
        adapters of this process for the same shop share it (see `transport.CostBucket`).
        """
        self.shop_domain = shop
        url = _admin_url(admin_base_url, shop, api_version)
        guarded = not allow_private and not is_shopify_host(urlsplit(url).hostname or "")
        session = session or requests.Session()
        token_session = requests.Session() if refresh else None
        for http in (session, token_session) if guarded else ():
            if http is not None:
                guard_session(http)
        token = OfflineToken(
            access_token,
            refresh.refresh_token if refresh else None,
            refresh.expires_at if refresh else None,
        )
        self.transport = GraphQLTransport(
            url,
            access_token,
            session=session,
            now=now,
            sleep=sleep,
            max_attempts=max_attempts,
            tokens=TokenKeeper(
                token, refresh=refresh, url=token_url(url), session=token_session, sleep=sleep
            ),
            bucket=bucket,
        )
        # A full walk of at least `bulk_threshold` products (or orders) is a bulk export; None:
        # always page. The export's file is fetched through the same session, without the token.
        self.bulk_threshold = bulk_threshold
        self.bulk_page_size = bulk_page_size
        self._sizes: dict[str, int] = {}  # productsCount / ordersCount as `shop()` last read them
        self.bulk = bulk.BulkExport(self._run, self.transport.session, sleep, poll_first=bulk_poll)
        self.edits = OrderEdits(self._run, sleep)
        self.bulk_mutations = BulkMutations(
            self._run, self.transport.session, sleep, poll_first=bulk_poll
        )
        self.pushes = OrderPushes(
            self,
            self._run,
            self.bulk_mutations,
            metafield=_metafield_input,
            hold_handle=HOLD_HANDLE,
        )

    # ------------------------------------------------------------------ reads
    def shop(self) -> StoreShop:
        data = self._run(queries.SHOP, limit=self.bulk_threshold or 1)
        self._sizes = {
            name: int(data[name]["count"])
            for name in ("productsCount", "ordersCount")
            if isinstance(data.get(name), dict)
        }
        return parse.shop(data["shop"])

    def product_pages(
        self,
        *,
        updated_since: datetime | None = None,
        updated_before: datetime | None = None,
        cursor: str | None = None,
    ) -> Iterator[Page[StoreProduct]]:
        search = parse.updated_query(updated_since, updated_before)
        return self._walk(
            _Listing(
                queries.PRODUCTS_COUNT,
                "productsCount",
                queries.bulk_products(search),
                bulk.product_of,
                lambda after: self._product_pages(search, after),
            ),
            search,
            updated_since,
            cursor,
        )

    def _product_pages(self, search: str | None, cursor: str | None) -> Iterator[Page[Any]]:
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
        return self._walk(
            _Listing(
                queries.ORDERS_COUNT,
                "ordersCount",
                queries.bulk_orders(search),
                bulk.order_of,
                lambda after: self._order_pages(search, after),
            ),
            search,
            updated_since,
            cursor,
        )

    def _order_pages(self, search: str | None, cursor: str | None) -> Iterator[Page[Any]]:
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

    # ------------------------------------------------------------------ bulk or paged
    def _walk(
        self, listing: _Listing, search: str | None, since: datetime | None, cursor: str | None
    ) -> Iterator[Page[Any]]:
        """Bulk for a full walk of a large store (or to resume one), pages otherwise."""
        resume = bulk.BulkCursor.load(cursor)
        if resume is None and (cursor or since or not self._large(listing, search)):
            yield from listing.pages(cursor)
            return
        try:
            operation, skip = self._export(listing.document, resume)
        except bulk.BulkUnavailable as exc:
            log.warning("%s: walking the pages instead", exc)
            yield from listing.pages(None)
            return
        batch: list[Any] = []
        done = skip
        for record in self.bulk.records(operation, listing.build, skip):
            if len(batch) == self.bulk_page_size:
                yield Page(tuple(batch), bulk.BulkCursor(operation.id, done).dump())
                batch = []
            batch.append(record)
            done += 1
        yield Page(tuple(batch), None)

    def _large(self, listing: _Listing, search: str | None) -> bool:
        """At least `bulk_threshold` records: as `shop()` counted them (a sync asks for the shop
        first), else counted now within the walk's window."""
        if self.bulk_threshold is None:
            return False
        size = self._sizes.get(listing.count_field)
        if size is None:
            counted = self._run(listing.count, query=search, limit=self.bulk_threshold)
            size = int(counted[listing.count_field]["count"])
        return size >= self.bulk_threshold

    def _export(self, document: str, resume: bulk.BulkCursor | None) -> tuple[bulk.Operation, int]:
        """The operation to read and how many roots to skip: the resumed one's file while
        Shopify still has it (7 days), else a new export read from its start."""
        if resume is not None:
            operation = self.bulk.find(resume.operation_id)
            if operation is not None and operation.readable:
                return operation, resume.done
            state = operation.status if operation else "not found"
            log.warning("bulk operation %s is %s: exporting again", resume.operation_id, state)
        return self.bulk.export(document), 0

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

    def add_customer_note(self, order_external_id: str, note: str) -> None:
        """Shopify has no note it e-mails to the customer; the connector e-mails them itself."""
        raise NotSupported(
            "Shopify has no customer-facing order note; the customer is e-mailed by us instead"
        )

    def get_order(self, order_external_id: str) -> StoreOrder:
        node = self._run(queries.ORDER, id=order_external_id, lines=queries.LINES_PER_ORDER)
        if node["order"] is None:
            raise StoreError(f"order {order_external_id} not found")
        return self._order(node["order"])

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
        """An order edit (or, for an order left with nothing, a cancellation): see
        `adapters.shopify.order_edits`. Returns the order read back after the change."""
        self.edits.change(
            self.get_order(order_external_id),
            line_external_id,
            keep_quantity=keep_quantity,
            add_variant_external_id=add_variant_external_id,
            add_quantity=add_quantity,
            staff_note=staff_note,
        )
        return self.get_order(order_external_id)

    def push_orders(self, pushes: Sequence[OrderPush]) -> dict[str, Exception | None]:
        return self.pushes.push(pushes)

    def set_order_data(self, order_external_id: str, key: str, value: dict[str, Any]) -> None:
        self._set_metafield(order_external_id, key, value)

    def set_variant_data(
        self,
        variant_external_id: str,
        key: str,
        value: dict[str, Any],
        *,
        references: dict[str, Sequence[str]] | None = None,
    ) -> None:
        """The json metafield `key`, and each of `references` as a `list.variant_reference`
        metafield of its own name (themes resolve those to variants), in one atomic call."""
        extra = [
            {
                "ownerId": variant_external_id,
                "namespace": METAFIELD_NAMESPACE,
                "key": name,
                "type": "list.variant_reference",
                "value": json.dumps(list(ids)),
            }
            for name, ids in sorted((references or {}).items())
        ]
        self._set_metafield(variant_external_id, key, value, extra)

    def _set_metafield(
        self,
        owner_id: str,
        key: str,
        value: dict[str, Any],
        extra: Sequence[dict[str, Any]] = (),
    ) -> None:
        metafields = [_metafield_input(owner_id, key, value), *extra]
        _user_errors(self._run(queries.METAFIELDS_SET, metafields=metafields)["metafieldsSet"])

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
        data = self._run(
            queries.ORDER_FULFILLMENT_HOLDS,
            id=order_external_id,
            first=queries.FULFILLMENT_ORDERS_PER_ORDER,
        )
        if data.get("order") is None:
            raise StoreError(f"order {order_external_id} not found")
        for fo in data["order"]["fulfillmentOrders"]["nodes"]:
            ours = [h["id"] for h in fo.get("fulfillmentHolds") or () if h["handle"] == HOLD_HANDLE]
            if fo["status"] != "ON_HOLD" or not ours:
                continue
            data = self._run(queries.FULFILLMENT_ORDER_RELEASE_HOLD, id=fo["id"], holdIds=ours)
            _user_errors(data["fulfillmentOrderReleaseHold"])

    def set_inventory_policy(
        self, product_external_id: str, variant_external_id: str, policy: str
    ) -> None:
        """`inventoryPolicy` CONTINUE (sell when out of stock) or DENY, one variant."""
        if policy not in ("continue", "deny"):
            raise ValueError(f"inventory policy {policy!r}")
        variants = [{"id": variant_external_id, "inventoryPolicy": policy.upper()}]
        data = self._run(
            queries.PRODUCT_VARIANTS_BULK_UPDATE, productId=product_external_id, variants=variants
        )
        _user_errors(data["productVariantsBulkUpdate"])

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

    # ------------------------------------------------------------------ webhooks
    def read_webhook(self, topic: str, body: dict[str, Any]) -> WebhookChange:
        """One delivery as a common-model change (`adapters.shopify.webhooks` reads the body).

        Where the body is not enough the store is read, through the same documents and parse
        functions as the listings: `orders/edited` (the body is the edit) → the order;
        `inventory_levels/update` (`available` at one location) and `variants/in_stock|
        out_of_stock` (a total) → every level of the variant with all four quantities;
        `inventory_items/update` (tracking may have changed, which no products/* body says) →
        the item's product with its levels. Compliance bodies naming another shop are refused.
        Raises ValueError for a malformed body, StoreError when the store fails us.
        """
        if not isinstance(body, dict):
            raise ValueError(f"{topic}: the body is {type(body).__name__}, not a JSON object")
        self._check_shop(topic, body)
        if topic == "orders/edited":
            return self._order_change(webhooks.edited_order(body))
        if topic == "inventory_levels/update":
            return self._item_levels(webhooks.inventory_item(body))
        if topic in ("variants/in_stock", "variants/out_of_stock"):
            return self._variant_levels(webhooks.required_gid("ProductVariant", body, "id"))
        if topic == "inventory_items/update":
            return self._item_product(webhooks.inventory_item(body))
        return webhooks.read(topic, body)

    def _check_shop(self, topic: str, body: dict[str, Any]) -> None:
        domain = body.get("shop_domain")
        if isinstance(domain, str) and domain.lower() != self.shop_domain.lower():
            raise ValueError(f"{topic}: the body is for {domain!r}, not {self.shop_domain!r}")

    def _order_change(self, order_id: str) -> WebhookChange:
        node = self._run(queries.ORDER, id=order_id, lines=queries.LINES_PER_ORDER)["order"]
        if node is None:  # deleted since, or older than 60 days without read_all_orders
            return Ignored(f"order {order_id} cannot be read any more")
        return OrderChanged(self._order(node))

    def _item_levels(self, item_id: str) -> WebhookChange:
        data = self._run(queries.INVENTORY_ITEM_LEVELS, id=item_id, first=queries.FOLLOW_UP_PAGE)
        item = data["inventoryItem"]
        if item is None or not item.get("variant"):
            return Ignored(f"inventory item {item_id} belongs to no variant any more")
        return self._stock_change(item["variant"]["id"], item)

    def _variant_levels(self, variant_id: str) -> WebhookChange:
        data = self._run(queries.VARIANT_LEVELS, id=variant_id, first=queries.FOLLOW_UP_PAGE)
        variant = data["productVariant"]
        if variant is None or not variant.get("inventoryItem"):
            return Ignored(f"variant {variant_id} cannot be read any more")
        return self._stock_change(variant["id"], variant["inventoryItem"])

    def _stock_change(self, variant_id: str, item: dict[str, Any]) -> WebhookChange:
        levels = self._levels({"inventoryItem": item})
        if not levels:
            return Ignored(f"variant {variant_id} is stocked at no location")
        return InventoryChanged(tuple(parse.level(variant_id, node) for node in levels))

    def _item_product(self, item_id: str) -> WebhookChange:
        data = self._run(
            queries.INVENTORY_ITEM_PRODUCT,
            id=item_id,
            variants=queries.VARIANTS_PER_PRODUCT,
            levels=queries.LEVELS_PER_VARIANT,
        )
        variant = (data.get("inventoryItem") or {}).get("variant") or {}
        if not variant.get("product"):
            return Ignored(f"inventory item {item_id} belongs to no product any more")
        return ProductChanged(self._product(variant["product"]))

    # ------------------------------------------------------------------ plumbing
    def _run(self, document: str, **variables: Any) -> dict[str, Any]:
        return self.transport.execute(document, variables)


@dataclass(frozen=True)
class _Listing:
    """One resource's two ways to be read: counted then exported in bulk, or page by page."""

    count: str
    count_field: str
    document: str
    build: Callable[[bulk.Group], Any]
    pages: Callable[[str | None], Iterator[Page[Any]]]


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


def _metafield_input(owner_id: str, key: str, value: dict[str, Any]) -> dict[str, Any]:
    """Our json metafield `key` on `owner_id`, as `metafieldsSet` takes it."""
    return {
        "ownerId": owner_id,
        "namespace": METAFIELD_NAMESPACE,
        "key": key,
        "type": "json",
        "value": json.dumps(value, sort_keys=True, default=str),
    }
