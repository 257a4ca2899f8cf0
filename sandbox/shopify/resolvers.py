"""Query-side resolvers: how Shopify's Admin objects are read from the store's records.

Only what the product uses is here; the schema-wide fallback in `registry` reads plain
attributes and refuses anything else with a "not emulated" error.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLResolveInfo

from sandbox.shopify.connections import connection
from sandbox.shopify.models import (
    QUANTITY_NAMES,
    FulfillmentHold,
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    InventoryLevel,
    LineItem,
    Location,
    Metafield,
    Order,
    Product,
    Variant,
    WebhookSubscription,
)
from sandbox.shopify.registry import field
from sandbox.shopify.search import compile_query
from sandbox.shopify.store import ShopifyStore, _ItemRef, inventory_item, metafield_digest

Info = GraphQLResolveInfo


def store_of(info: Info) -> ShopifyStore:
    return info.context.store


def iso(value: datetime | None) -> str | None:
    """Shopify's DateTime scalar: UTC with a Z."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


PRODUCT_SEARCH = {
    "updated_at": lambda p: p.updatedAt,
    "created_at": lambda p: p.createdAt,
    "status": lambda p: p.status,
    "title": lambda p: p.title,
    "handle": lambda p: p.handle,
    "product_type": lambda p: p.productType,
    "vendor": lambda p: p.vendor,
    "tag": lambda p: p.tags,
    "id": lambda p: p.number,
    "default": lambda p: [p.title, p.handle],
}
ORDER_SEARCH = {
    "updated_at": lambda o: o.updatedAt,
    "created_at": lambda o: o.createdAt,
    "processed_at": lambda o: o.createdAt,
    "name": lambda o: o.name,
    "email": lambda o: o.email,
    "tag": lambda o: o.tags,
    "id": lambda o: o.number,
    "status": lambda o: "cancelled" if o.cancelledAt else "open",
    "default": lambda o: [o.name, o.email],
}


def _variant_search(store: ShopifyStore) -> dict[str, Any]:
    return {
        "updated_at": lambda v: v.updatedAt,
        "created_at": lambda v: v.createdAt,
        "sku": lambda v: v.sku,
        "title": lambda v: v.title,
        "id": lambda v: v.number,
        "product_id": lambda v: v.product_number,
        "inventory_quantity": lambda v: store.available(v),
        "default": lambda v: [v.sku, v.title],
    }


def _filtered(rows: Any, fields: dict[str, Any], info: Info, query: str | None) -> list[Any]:
    match = compile_query(query, fields, store_of(info).shop.ianaTimezone)
    return [r for r in rows if match(r)]


# ------------------------------------------------------------------------ Query root
@field("QueryRoot", "shop")
def shop(_src: Any, info: Info) -> Any:
    return store_of(info).shop


@field("QueryRoot", "products")
def products(_src: Any, info: Info, query: str | None = None, **args: Any) -> dict[str, Any]:
    rows = _filtered(store_of(info).products.values(), PRODUCT_SEARCH, info, query)
    return connection(rows, info, **args)


@field("QueryRoot", "productVariants")
def product_variants(_src: Any, info: Info, query: str | None = None, **args: Any) -> Any:
    store = store_of(info)
    rows = _filtered(store.variants.values(), _variant_search(store), info, query)
    return connection(rows, info, **args)


@field("QueryRoot", "orders")
def orders(_src: Any, info: Info, query: str | None = None, **args: Any) -> dict[str, Any]:
    rows = _filtered(store_of(info).orders.values(), ORDER_SEARCH, info, query)
    return connection(rows, info, **args)


def _count(rows: list[Any], limit: int | None) -> dict[str, Any]:
    """Shopify's `Count`: capped at `limit` (default 10,000) with precision AT_LEAST when cut."""
    if limit is not None and len(rows) > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": len(rows), "precision": "EXACT"}


@field("QueryRoot", "productsCount")
def products_count(
    _src: Any, info: Info, query: str | None = None, limit: int | None = 10000, **_: Any
) -> dict[str, Any]:
    return _count(_filtered(store_of(info).products.values(), PRODUCT_SEARCH, info, query), limit)


@field("QueryRoot", "ordersCount")
def orders_count(
    _src: Any, info: Info, query: str | None = None, limit: int | None = 10000, **_: Any
) -> dict[str, Any]:
    return _count(_filtered(store_of(info).orders.values(), ORDER_SEARCH, info, query), limit)


@field("QueryRoot", "locations")
def locations(_src: Any, info: Info, **args: Any) -> dict[str, Any]:
    return connection(list(store_of(info).locations.values()), info, **args)


@field("QueryRoot", "node")
def node(_src: Any, info: Info, id: str) -> Any:
    return store_of(info).get(id)


@field("QueryRoot", "nodes")
def nodes(_src: Any, info: Info, ids: list[str]) -> list[Any]:
    return [store_of(info).get(i) for i in ids]


def _typed(kind: str) -> Any:
    def resolve(_src: Any, info: Info, id: str) -> Any:
        record = store_of(info).get(id)
        return record if getattr(record, "typename", None) == kind else None

    return resolve


for _root, _kind in (
    ("product", "Product"),
    ("productVariant", "ProductVariant"),
    ("order", "Order"),
    ("inventoryItem", "InventoryItem"),
    ("location", "Location"),
    ("fulfillmentOrder", "FulfillmentOrder"),
    ("webhookSubscription", "WebhookSubscription"),
):
    field("QueryRoot", _root)(_typed(_kind))


@field("QueryRoot", "webhookSubscriptions")
def webhook_subscriptions(
    _src: Any,
    info: Info,
    topics: list[str] | None = None,
    callbackUrl: str | None = None,
    **args: Any,
) -> dict[str, Any]:
    rows = [
        s
        for s in store_of(info).subscriptions.values()
        if (not topics or s.topic in topics) and (not callbackUrl or s.callbackUrl == callbackUrl)
    ]
    args.pop("format", None)
    args.pop("query", None)
    return connection(rows, info, **args)


@field("QueryRoot", "currentBulkOperation")
def current_bulk_operation(_src: Any, info: Info, type: str = "QUERY") -> Any:
    """The shop's latest bulk operation of that type: queries and mutations run independently."""
    store = store_of(info)
    runner = getattr(info.context, "bulk_runner", None)
    number = store.current_bulk if type == "QUERY" else getattr(runner, "current_mutation", None)
    return store.bulk_operations.get(number) if number else None


@field("BulkOperation", "objectCount", "rootObjectCount", "fileSize")
def unsigned_int64(src: Any, info: Info) -> str | None:
    """Shopify's UnsignedInt64 is "encoded as a string of base-10 digits" (e.g. `"50"`)."""
    value = getattr(src, info.field_name)
    return None if value is None else str(value)


# ------------------------------------------------------------------------ shared fields
def _legacy(src: Any, _info: Info) -> str:
    return str(src.number)


for _type in (
    "Product",
    "ProductVariant",
    "Order",
    "Location",
    "InventoryItem",
    "Metafield",
    "WebhookSubscription",
):
    field(_type, "legacyResourceId")(_legacy)


@field("Shop", "createdAt")
@field("Product", "createdAt", "updatedAt", "publishedAt")
@field("ProductVariant", "createdAt", "updatedAt")
@field("Order", "createdAt", "updatedAt", "processedAt", "cancelledAt")
@field("Location", "createdAt", "updatedAt")
@field("InventoryLevel", "createdAt", "updatedAt")
@field("FulfillmentOrder", "createdAt", "updatedAt")
@field("Metafield", "createdAt", "updatedAt")
@field("WebhookSubscription", "createdAt", "updatedAt")
@field("BulkOperation", "createdAt", "completedAt")
def date_field(src: Any, info: Info) -> str | None:
    name = {"processedAt": "createdAt", "publishedAt": "createdAt"}.get(
        info.field_name, info.field_name
    )
    if info.field_name == "createdAt" and info.parent_type.name == "Shop":
        return iso(next(iter(store_of(info).locations.values())).createdAt)
    return iso(getattr(src, name))


def _metafields(src: Any, info: Info, namespace: str | None = None, keys: Any = None, **args: Any):
    rows = [
        m
        for m in store_of(info).metafields_of(src.id)
        if (namespace is None or m.namespace == namespace)
        and (not keys or f"{m.namespace}.{m.key}" in keys)
    ]
    return connection(rows, info, **args)


def _metafield(src: Any, info: Info, key: str, namespace: str | None = None) -> Metafield | None:
    if namespace is None and "." in key:
        namespace, key = key.rsplit(".", 1)
    return store_of(info).metafields.get((src.id, namespace or "$app", key))


for _type in ("Product", "ProductVariant", "Order"):
    field(_type, "metafields")(_metafields)
    field(_type, "metafield")(_metafield)


# ------------------------------------------------------------------------ Product
@field("Product", "variants")
def product_variants_of(src: Product, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    args.setdefault("sortKey", "POSITION")
    return connection([store.variants[n] for n in src.variant_numbers], info, **args)


@field("Product", "descriptionHtml", "bodyHtml")
def description_html(src: Product, _info: Info) -> str:
    return src.description


@field("Product", "description")
def description(src: Product, _info: Info, truncateAt: int | None = None) -> str:
    text = src.description.replace("<p>", "").replace("</p>", "")
    return text[:truncateAt] if truncateAt else text


@field("Product", "totalInventory")
def total_inventory(src: Product, info: Info) -> int:
    store = store_of(info)
    return sum(store.available(store.variants[n]) for n in src.variant_numbers)


@field("Product", "totalVariants")
def total_variants(src: Product, _info: Info) -> int:
    return len(src.variant_numbers)


@field("Product", "hasOnlyDefaultVariant")
def only_default(src: Product, info: Info) -> bool:
    store = store_of(info)
    return len(src.variant_numbers) == 1 and store.variants[src.variant_numbers[0]].title == (
        "Default Title"
    )


@field("Product", "tracksInventory")
def tracks(_src: Any, _info: Info) -> bool:
    return True


# ------------------------------------------------------------------------ ProductVariant
@field("ProductVariant", "product")
def variant_product(src: Variant, info: Info) -> Product:
    return store_of(info).products[src.product_number]


@field("ProductVariant", "inventoryItem")
def variant_item(src: Variant, info: Info) -> _ItemRef:
    return inventory_item(store_of(info), src)


@field("ProductVariant", "inventoryQuantity", "sellableOnlineQuantity")
def variant_quantity(src: Variant, info: Info) -> int:
    return store_of(info).available(src)


@field("ProductVariant", "availableForSale")
def for_sale(src: Variant, info: Info) -> bool:
    store = store_of(info)
    return src.inventoryPolicy == "CONTINUE" or store.available(src) > 0


@field("ProductVariant", "displayName")
def variant_display(src: Variant, info: Info) -> str:
    return f"{store_of(info).products[src.product_number].title} - {src.title}"


@field("ProductVariant", "barcode", "compareAtPrice")
def nothing(_src: Any, _info: Info) -> None:
    return None


@field("ProductVariant", "taxable")
@field("InventoryItem", "tracked", "requiresShipping")
@field("Location", "isActive", "fulfillsOnlineOrders", "shipsInventory")
@field("FulfillmentHold", "heldByRequestingApp")
def yes(_src: Any, _info: Info) -> bool:
    return True


# ------------------------------------------------------------------------ inventory
@field("InventoryItem", "sku")
def item_sku(src: _ItemRef, _info: Info) -> str:
    return src.variant.sku


@field("InventoryItem", "createdAt", "updatedAt")
def item_dates(src: _ItemRef, info: Info) -> str | None:
    return iso(getattr(src.variant, info.field_name))


@field("InventoryItem", "inventoryLevels")
def item_levels(src: _ItemRef, info: Info, query: str | None = None, **args: Any) -> Any:
    rows = store_of(info).levels_of(src.number)
    return connection(rows, info, number=lambda lv: lv.location_number, **args)


@field("InventoryItem", "inventoryLevel")
def item_level(src: _ItemRef, info: Info, locationId: str) -> InventoryLevel | None:
    location = store_of(info).get(locationId)
    return store_of(info).levels.get((src.number, location.number)) if location else None


@field("InventoryLevel", "quantities")
def level_quantities(src: InventoryLevel, _info: Info, names: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{src.id}&name={name}",
            "name": name,
            "quantity": getattr(src, name) if name in QUANTITY_NAMES else 0,
            "updatedAt": iso(src.updatedAt),
        }
        for name in names
    ]


@field("InventoryLevel", "location")
def level_location(src: InventoryLevel, info: Info) -> Location:
    return store_of(info).locations[src.location_number]


@field("InventoryLevel", "item")
def level_item(src: InventoryLevel, info: Info) -> _ItemRef:
    return _ItemRef(store_of(info), src.item_number)


# ------------------------------------------------------------------------ Order
@field("Order", "lineItems")
def order_lines(src: Order, info: Info, **args: Any) -> dict[str, Any]:
    return connection(src.lines, info, **args)


@field("Order", "fulfillmentOrders")
def order_fulfillment_orders(
    src: Order, info: Info, query: str | None = None, displayable: bool = False, **args: Any
) -> dict[str, Any]:
    store = store_of(info)
    rows = [store.fulfillment_orders[n] for n in src.fulfillment_order_numbers]
    if displayable:
        rows = [
            fo for fo in rows if fo.status != "CLOSED" or any(li.totalQuantity for li in fo.lines)
        ]
    return connection(rows, info, **args)


@field("Order", "displayFulfillmentStatus")
def order_fulfillment_status(src: Order, info: Info) -> str:
    return store_of(info).display_fulfillment_status(src)


@field("Order", "shippingLine")
def order_shipping(src: Order, _info: Info) -> dict[str, Any]:
    return {"title": src.shipping_title, "code": src.shipping_title, "source": "shopify"}


@field("Order", "customer")
def order_customer(src: Order, _info: Info) -> dict[str, Any]:
    return {
        "__typename": "Customer",
        "id": f"gid://shopify/Customer/{src.customer_number}",
        "email": src.email,
        "displayName": src.email.split("@")[0],
    }


@field("Order", "closed")
def order_closed(src: Order, info: Info) -> bool:
    return src.cancelledAt is not None or store_of(info).display_fulfillment_status(src) == (
        "FULFILLED"
    )


@field("Order", "currencyCode", "presentmentCurrencyCode")
def order_currency(_src: Order, info: Info) -> str:
    return store_of(info).shop.currencyCode


@field("Order", "test")
def no(_src: Any, _info: Info) -> bool:
    return False


@field("Order", "totalPriceSet", "currentTotalPriceSet", "subtotalPriceSet")
def order_total(src: Order, info: Info) -> dict[str, Any]:
    amount = sum(float(li.price) * li.currentQuantity for li in src.lines)
    return _money_bag(info, f"{amount:.2f}")


def _money_bag(info: Info, amount: str) -> dict[str, Any]:
    money = {"amount": amount, "currencyCode": store_of(info).shop.currencyCode}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


# ------------------------------------------------------------------------ LineItem
@field("LineItem", "variant")
def line_variant(src: LineItem, info: Info) -> Variant | None:
    return store_of(info).variants.get(src.variant_number)


@field("LineItem", "product")
def line_product(src: LineItem, info: Info) -> Product | None:
    return store_of(info).products.get(src.product_number)


@field("LineItem", "unfulfilledQuantity")
def line_unfulfilled(src: LineItem, _info: Info) -> int:
    return src.fulfillableQuantity


@field("LineItem", "nonFulfillableQuantity")
def line_nonfulfillable(src: LineItem, _info: Info) -> int:
    return src.quantity - src.currentQuantity


@field("LineItem", "originalUnitPriceSet", "discountedUnitPriceSet")
def line_price(src: LineItem, info: Info) -> dict[str, Any]:
    return _money_bag(info, src.price)


@field("LineItem", "variantTitle")
def line_variant_title(src: LineItem, _info: Info) -> str | None:
    return src.variantTitle or None


# ------------------------------------------------------------------------ fulfillment
@field("FulfillmentOrder", "lineItems")
def fo_lines(src: FulfillmentOrder, info: Info, **args: Any) -> dict[str, Any]:
    return connection(src.lines, info, **args)


@field("FulfillmentOrder", "fulfillmentHolds")
def fo_holds(src: FulfillmentOrder, _info: Info) -> list[FulfillmentHold]:
    return list(src.holds)


@field("FulfillmentOrder", "order")
def fo_order(src: FulfillmentOrder, info: Info) -> Order:
    return store_of(info).orders[src.order_number]


@field("FulfillmentOrder", "orderId")
def fo_order_id(src: FulfillmentOrder, info: Info) -> str:
    return store_of(info).orders[src.order_number].id


@field("FulfillmentOrder", "orderName")
def fo_order_name(src: FulfillmentOrder, info: Info) -> str:
    return store_of(info).orders[src.order_number].name


@field("FulfillmentOrder", "requestStatus")
def fo_request_status(_src: FulfillmentOrder, _info: Info) -> str:
    return "UNSUBMITTED"


@field("FulfillmentOrder", "assignedLocation")
def fo_location(src: FulfillmentOrder, info: Info) -> dict[str, Any]:
    location = store_of(info).locations[src.location_number]
    return {"location": location, "name": location.name}


def _fo_line(src: FulfillmentOrderLineItem, info: Info) -> LineItem:
    return store_of(info).get(f"gid://shopify/LineItem/{src.line_number}")


field("FulfillmentOrderLineItem", "lineItem")(_fo_line)


@field("FulfillmentOrderLineItem", "variant")
def fo_line_variant(src: FulfillmentOrderLineItem, info: Info) -> Variant:
    return store_of(info).variants[_fo_line(src, info).variant_number]


@field("FulfillmentOrderLineItem", "sku", "productTitle", "variantTitle")
def fo_line_text(src: FulfillmentOrderLineItem, info: Info) -> str | None:
    line = _fo_line(src, info)
    return {"sku": line.sku, "productTitle": line.title, "variantTitle": line.variantTitle}[
        info.field_name
    ]


@field("FulfillmentOrderLineItem", "inventoryItemId")
def fo_line_item_id(src: FulfillmentOrderLineItem, info: Info) -> str:
    return inventory_item(store_of(info), fo_line_variant(src, info)).id


@field("FulfillmentHold", "displayReason")
def hold_display(src: FulfillmentHold, _info: Info) -> str:
    return src.reason.replace("_", " ").capitalize()


# ------------------------------------------------------------------------ Metafield
@field("Metafield", "compareDigest")
def mf_digest(src: Metafield, _info: Info) -> str:
    return metafield_digest(src)


@field("Metafield", "ownerType")
def mf_owner_type(src: Metafield, _info: Info) -> str:
    kind = src.ownerId.split("/")[3]
    return {"ProductVariant": "PRODUCTVARIANT"}.get(kind, kind.upper())


@field("Metafield", "owner")
def mf_owner(src: Metafield, info: Info) -> Any:
    return store_of(info).get(src.ownerId)


@field("Metafield", "jsonValue")
def mf_json(src: Metafield, _info: Info) -> Any:
    if src.type in ("json", "number_integer", "number_decimal", "boolean") or src.type.startswith(
        "list."
    ):
        return json.loads(src.value)
    return src.value


# ------------------------------------------------------------------------ webhooks
@field("WebhookSubscription", "endpoint")
def sub_endpoint(src: WebhookSubscription, _info: Info) -> dict[str, Any]:
    return {"__typename": "WebhookHttpEndpoint", "callbackUrl": src.callbackUrl}


@field("WebhookSubscription", "apiVersion")
def sub_version(_src: WebhookSubscription, info: Info) -> dict[str, Any]:
    version = info.context.api_version
    return {"handle": version, "displayName": version, "supported": True}


@field("WebhookSubscription", "includeFields", "metafieldNamespaces")
def empty_list(_src: Any, _info: Info) -> list[Any]:
    return []


@field("WebhookSubscription", "filter")
def sub_filter(_src: Any, _info: Info) -> None:
    return None
