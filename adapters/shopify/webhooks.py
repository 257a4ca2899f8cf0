"""Shopify webhook deliveries → common-model changes (pure functions: no network).

Shopify's webhooks carry the REST representation even for GraphQL apps: numeric ids, snake_case,
tags as one comma-separated string, times in the shop's offset, HTML descriptions. Rather than
map that to the common model a second time, each body is rewritten into the node shape the
GraphQL listings return and read by the same `parse` functions, so one order reads the same
whichever door it came in by. What a body cannot say is completed by the adapter, which reads the
store (`ShopifyAdapter.read_webhook`: `orders/edited` and the stock topics in `FETCHED`).

`facts` runs at intake, before anything is stored: it never raises, whatever JSON it is given.
Everything else raises `ValueError` naming the field when a body is not what Shopify sends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any, TypeVar

from adapters.base import (
    AppUninstalled,
    CustomerDataRequest,
    CustomerRedact,
    Ignored,
    OrderChanged,
    OrderDeleted,
    ProductChanged,
    ProductDeleted,
    ShopRedact,
    StoreProduct,
    WebhookChange,
    WebhookFacts,
)
from adapters.shopify import parse

T = TypeVar("T")

# Shopify's mandatory privacy topics: requests about customers' data, not customers' data.
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "orders/paid",
    }
)
PRODUCT_TOPICS = frozenset({"products/create", "products/update"})
# Topics whose body is not enough: the adapter reads the store (see ShopifyAdapter.read_webhook).
FETCHED = frozenset(
    {
        "orders/edited",
        "inventory_levels/update",
        "inventory_items/update",
        "variants/in_stock",
        "variants/out_of_stock",
    }
)
# REST `fulfillment_status` → GraphQL `displayFulfillmentStatus` (what `parse.order` reads).
FULFILLMENT = {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED"}
MAX_ID = 2**64 - 1  # ids are 64-bit; anything larger is not an id (and not worth a str())
_DIGITS = re.compile(r"[0-9]{1,20}")
_GID = re.compile(r"gid://shopify/[A-Za-z]{1,64}/[0-9]{1,20}(\?[A-Za-z0-9_=&]{0,120})?")
# The kind of resource a topic's body is, where the body's own `id` names it.
_KIND = {
    "orders": "Order",
    "products": "Product",
    "inventory_items": "InventoryItem",
    "variants": "ProductVariant",
    "app": "Shop",
}


# ---------------------------------------------------------------- intake facts (never raise)
def facts(topic: str, body: Any) -> WebhookFacts:
    """The resource's GID and its own modification time, or None for what the body lacks."""
    if not isinstance(body, dict):
        return WebhookFacts(None, None)
    return WebhookFacts(_resource_id(str(topic), body), _updated_at(str(topic), body))


def _resource_id(topic: str, body: dict[str, Any]) -> str | None:
    resource = topic.partition("/")[0]
    if topic == "orders/edited":
        edit = body.get("order_edit")
        return gid("Order", edit.get("order_id")) if isinstance(edit, dict) else None
    if resource == "inventory_levels":
        return level_gid(body.get("inventory_item_id"), body.get("location_id")) or _api_id(body)
    if resource == "customers":
        customer = body.get("customer")
        return gid("Customer", customer.get("id")) if isinstance(customer, dict) else None
    if topic == "shop/redact":
        return gid("Shop", body.get("shop_id"))
    kind = _KIND.get(resource)
    return (gid(kind, body.get("id")) if kind else None) or _api_id(body)


def _updated_at(topic: str, body: dict[str, Any]) -> datetime | None:
    if topic == "bulk_operations/finish":
        return moment(body.get("completed_at"))
    if topic == "orders/edited" or topic.startswith("customers/"):
        return None  # an edit's or a request's own time, not the resource's
    return moment(body.get("updated_at"))


def _api_id(body: dict[str, Any]) -> str | None:
    value = body.get("admin_graphql_api_id")
    return value if isinstance(value, str) and _GID.fullmatch(value) else None


def number(value: Any) -> int | None:
    """A JSON id (a positive integer, or its decimal string) within 64 bits; else None."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


def gid(kind: str, value: Any) -> str | None:
    """`gid://shopify/<kind>/<id>` for a numeric id, exactly (never through a float)."""
    found = number(value)
    return f"gid://shopify/{kind}/{found}" if found is not None else None


def level_gid(item: Any, location: Any) -> str | None:
    """Shopify's InventoryLevel GID: `gid://shopify/InventoryLevel/<location>?inventory_item_id=…`."""
    item_id, location_id = number(item), number(location)
    if item_id is None or location_id is None:
        return None
    return f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={item_id}"


def moment(value: Any) -> datetime | None:
    """A REST time (ISO 8601, shop offset) as aware UTC; None when absent or not a time."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return parse.parse_time(value)
    except (ValueError, OverflowError):
        return None


# ---------------------------------------------------------------- changes from the body alone
def read(topic: str, body: dict[str, Any]) -> WebhookChange:
    """The change a topic's body means by itself (`FETCHED` topics are the adapter's)."""
    if not isinstance(body, dict):
        raise ValueError(f"{topic}: the body is {type(body).__name__}, not a JSON object")
    if topic in ORDER_TOPICS:
        return OrderChanged(_parsed(topic, lambda: parse.order(*order_node(body))))
    if topic == "orders/delete":
        return OrderDeleted(required_gid("Order", body, "id"))
    if topic in PRODUCT_TOPICS:
        product = _parsed(topic, lambda: product_of(body))
        return ProductChanged(product, stock_included=False)
    if topic == "products/delete":
        return ProductDeleted(required_gid("Product", body, "id"))
    if topic == "app/uninstalled":
        return AppUninstalled()
    if topic == "customers/data_request":
        return CustomerDataRequest(*_customer_request(body, "orders_requested"))
    if topic == "customers/redact":
        return CustomerRedact(*_customer_request(body, "orders_to_redact"))
    if topic == "shop/redact":
        return ShopRedact()
    if topic == "bulk_operations/finish":
        return Ignored("bulk operations are polled by the sync that started them")
    return Ignored(f"{topic}: not a topic we act on")


def _parsed(topic: str, build: Callable[[], T]) -> T:
    """Run a parse; a body of the wrong shape deep inside becomes a ValueError with a reason."""
    try:
        return build()
    except ValueError:
        raise
    except (KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise ValueError(f"{topic}: malformed body ({type(exc).__name__}: {exc})") from exc


def edited_order(body: dict[str, Any]) -> str:
    """orders/edited: the GID of the edited order (the body has the edit, not the order)."""
    return required_gid("Order", _object(body.get("order_edit"), "order_edit") or {}, "order_id")


def inventory_item(body: dict[str, Any]) -> str:
    """inventory_levels/update: the item's GID; inventory_items/update: the item's own."""
    key = "inventory_item_id" if "inventory_item_id" in body else "id"
    return required_gid("InventoryItem", body, key)


# ---------------------------------------------------------------- REST body → GraphQL node
def order_node(body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An orders/* body as the `OrderFields` node and its line nodes, for `parse.order`."""
    status = _text(body, "fulfillment_status") or None
    node = {
        "id": required_gid("Order", body, "id"),
        "name": _text(body, "name"),
        "email": _text(body, "email") or None,
        "createdAt": _time(body, "created_at"),
        "updatedAt": _time(body, "updated_at"),
        "cancelledAt": _time(body, "cancelled_at", required=False),
        "displayFinancialStatus": _text(body, "financial_status"),
        "displayFulfillmentStatus": FULFILLMENT.get(status, str(status).upper()),
        "customer": _customer_node(_object(body.get("customer"), "customer")),
        "shippingLine": _shipping_node(_list(body, "shipping_lines")),
        "customerLocale": _text(body, "customer_locale") or None,
    }
    lines = [_line_node(_object(item, "line_items[]") or {}) for item in _list(body, "line_items")]
    return node, lines


def _line_node(item: dict[str, Any]) -> dict[str, Any]:
    """`current_quantity` is what is still ordered after edits and refunds (`currentQuantity`);
    `fulfillable_quantity` what is left to ship (`unfulfilledQuantity`)."""
    quantity = _count(item, "quantity")
    current = (
        _count(item, "current_quantity") if item.get("current_quantity") is not None else quantity
    )
    if item.get("fulfillable_quantity") is not None:
        unfulfilled = _count(item, "fulfillable_quantity")
    else:
        unfulfilled = 0 if item.get("fulfillment_status") == "fulfilled" else current
    money = ((item.get("price_set") or {}).get("shop_money") or {}).get("amount")
    variant = optional_gid("ProductVariant", item, "variant_id")
    return {
        "id": required_gid("LineItem", item, "id"),
        "sku": _text(item, "sku"),
        "title": _text(item, "title"),
        "quantity": quantity,
        "currentQuantity": current,
        "unfulfilledQuantity": unfulfilled,
        "variant": {"id": variant} if variant else None,
        "originalUnitPriceSet": {"shopMoney": {"amount": _price(money, item.get("price"))}},
    }


def _customer_node(customer: dict[str, Any] | None) -> dict[str, Any] | None:
    """GraphQL's `displayName`: first and last name, else the e-mail, else the phone."""
    if not customer or customer.get("id") is None:
        return None
    email = _text(customer, "email") or None
    names = (_text(customer, "first_name"), _text(customer, "last_name"))
    return {
        "id": required_gid("Customer", customer, "id"),
        "email": email,
        "displayName": " ".join(n for n in names if n) or email or _text(customer, "phone"),
    }


def _shipping_node(lines: list[Any]) -> dict[str, Any] | None:
    """The order's shipping line (the first one not removed by an edit), as `shippingLine`."""
    for line in lines:
        line = _object(line, "shipping_lines[]") or {}
        if not line.get("is_removed"):
            return {"title": _text(line, "title")}
    return None


def product_of(body: dict[str, Any]) -> StoreProduct:
    """A products/* body → StoreProduct, variants without levels (the body has none)."""
    names = _option_names(_list(body, "options"))
    node = {
        "id": required_gid("Product", body, "id"),
        "title": _text(body, "title"),
        "handle": _text(body, "handle"),
        "description": plain_text(_text(body, "body_html")),
        "productType": _text(body, "product_type"),
        "vendor": _text(body, "vendor"),
        "tags": _tags(body.get("tags")),
        "status": _text(body, "status") or "active",
        "updatedAt": _time(body, "updated_at"),
    }
    variants = [
        parse.variant(_variant_node(_object(v, "variants[]") or {}, names, node["updatedAt"]), [])
        for v in _list(body, "variants")
    ]
    return parse.product(node, variants)


def _variant_node(variant: dict[str, Any], names: dict[int, str], fallback: str) -> dict[str, Any]:
    item = optional_gid("InventoryItem", variant, "inventory_item_id")
    options = [
        {"name": names.get(n, f"Option{n}"), "value": _text(variant, f"option{n}")}
        for n in (1, 2, 3)
        if variant.get(f"option{n}") is not None
    ]
    return {
        "id": required_gid("ProductVariant", variant, "id"),
        "sku": _text(variant, "sku"),
        "title": _text(variant, "title"),
        "price": _price(variant.get("price")),
        "inventoryPolicy": (_text(variant, "inventory_policy") or "deny").upper(),
        "updatedAt": _time(variant, "updated_at", required=False) or fallback,
        "selectedOptions": options,
        "inventoryItem": {"id": item} if item else None,
    }


def _option_names(options: list[Any]) -> dict[int, str]:
    """Option position → name, from the product's `options` ([{name, position}, ...])."""
    names: dict[int, str] = {}
    for index, option in enumerate(options, start=1):
        option = _object(option, "options[]") or {}
        position = option.get("position")
        at = position if isinstance(position, int) and not isinstance(position, bool) else index
        if _text(option, "name"):
            names[at] = _text(option, "name")
    return names


def _tags(value: Any) -> list[str]:
    """REST tags are one string, "a, b"; a list is taken as it is."""
    if value is None:
        return []
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return list(value)
    raise ValueError(f"tags: expected a string, got {type(value).__name__}")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(html: str) -> str:
    """GraphQL's `description`: the HTML description as one line of text, tags removed."""
    reader = _Text()
    reader.feed(html)
    reader.close()
    return " ".join(unescape("".join(reader.parts)).split())


# ---------------------------------------------------------------- compliance topics
def _customer_request(
    body: dict[str, Any], orders_key: str
) -> tuple[str | None, str | None, tuple[str, ...]]:
    customer = _object(body.get("customer"), "customer") or {}
    customer_id = optional_gid("Customer", customer, "id")
    email = _text(customer, "email") or None
    raw = _list(body, orders_key)
    orders = tuple(_order_gid(value, orders_key) for value in raw)
    if customer_id is None and email is None and not orders:
        raise ValueError(f"{orders_key}: the body names no customer, e-mail or order")
    return customer_id, email, orders


def _order_gid(value: Any, field: str) -> str:
    found = gid("Order", value)
    if found is None:
        raise ValueError(f"{field}: {value!r} is not an order id")
    return found


# ---------------------------------------------------------------- typed reads (ValueError)
def required_gid(kind: str, record: dict[str, Any], key: str) -> str:
    found = gid(kind, record.get(key))
    if found is None:
        raise ValueError(f"{key}: {_shown(record.get(key))} is not an id ({kind})")
    return found


def optional_gid(kind: str, record: dict[str, Any], key: str) -> str | None:
    return None if record.get(key) is None else required_gid(kind, record, key)


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string, got {type(value).__name__}")
    return value


def _time(record: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    """The raw time after checking it parses (`parse` reads it again)."""
    value = record.get(key)
    if value is None and not required:
        return None
    if moment(value) is None:
        raise ValueError(f"{key}: {_shown(value)} is not a time")
    return str(value)


def _count(record: dict[str, Any], key: str) -> int:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ValueError(f"{key}: {_shown(value)} is not a quantity")
    return value


def _price(*candidates: Any) -> str:
    """The first price given (a decimal string, or a JSON number), checked to be finite."""
    for value in candidates:
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"price: {_shown(value)} is not an amount")
        text = str(value)
        if len(text) > 40 or not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
            raise ValueError(f"price: {_shown(value)} is not an amount")
        return text
    return "0"


def _object(value: Any, where: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise ValueError(f"{where}: expected an object, got {type(value).__name__}")


def _list(record: dict[str, Any], key: str) -> list[Any]:
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{key}: expected a list, got {type(value).__name__}")
    return value


def _shown(value: Any) -> str:
    """A value for an error message: short, whatever it is."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge number"
    return text if len(text) <= 60 else text[:57] + "..."
