"""WooCommerce webhook deliveries → common-model changes (pure functions: no network).

A WooCommerce delivery's body is the REST representation of the resource as read at delivery
time (orders and products exactly as `GET /orders/<id>` and `GET /products/<id>` answer), so it
is mapped by the same functions as the listings (`orders.store_order`, `products.store_product`).
A deleted resource's body is `{"id": …}` only. What a body cannot say, the variations of a
variable product, the adapter reads from the store (`WooCommerceAdapter.read_webhook`).

`facts` runs at intake, before anything is stored: it never raises, whatever JSON it is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from adapters.base import (
    Ignored,
    OrderChanged,
    OrderDeleted,
    ProductDeleted,
    StoreOrder,
    WebhookChange,
    WebhookFacts,
)

T = TypeVar("T")

ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
PRODUCT_TOPICS = frozenset({"product.created", "product.updated", "product.restored"})
MAX_ID = 2**64 - 1  # WordPress ids are unsigned 64-bit; anything larger is not an id
_DIGITS = re.compile(r"[0-9]{1,20}")


# ---------------------------------------------------------------- intake facts (never raise)
def facts(topic: str, body: Any) -> WebhookFacts:
    """The resource's id (as a string) and its `date_modified_gmt` (UTC), or None for either."""
    if not isinstance(body, dict):
        return WebhookFacts(None, None)
    found = number(body.get("id"))
    return WebhookFacts(str(found) if found is not None else None, modified(body))


def number(value: Any) -> int | None:
    """A JSON id (a positive integer, or its decimal string) within 64 bits; else None."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


def modified(body: dict[str, Any]) -> datetime | None:
    """`date_modified_gmt` ("2024-03-01T10:00:00", no offset: it is UTC) as aware UTC."""
    value = body.get("date_modified_gmt")
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# ---------------------------------------------------------------- changes from the body alone
def read(
    topic: str, body: dict[str, Any], order: Callable[[dict[str, Any]], StoreOrder]
) -> WebhookChange:
    """Every topic but `PRODUCT_TOPICS` (the adapter's: a product may need its variations).

    `order` maps one order JSON, the function the adapter's order listing uses.
    """
    if not isinstance(body, dict):
        raise ValueError(f"{topic}: the body is {type(body).__name__}, not a JSON object")
    if topic in ORDER_TOPICS:
        resource_id(body)
        return OrderChanged(mapped(topic, lambda: order(body)))
    if topic == "order.deleted":  # trashed or deleted for good: `{"id": …}` may be all there is
        return OrderDeleted(resource_id(body))
    if topic == "product.deleted":
        return ProductDeleted(resource_id(body))
    return Ignored(f"{topic}: not a topic we act on")


def resource_id(body: dict[str, Any], key: str = "id") -> str:
    found = number(body.get(key))
    if found is None:
        shown = repr(body.get(key))
        raise ValueError(f"{key}: {shown if len(shown) <= 60 else 'that'} is not an id")
    return str(found)


def variation_parent(body: dict[str, Any]) -> str | None:
    """The parent product's id when the body is a variation (variations fire product.updated
    with their own body), else None."""
    kind = body.get("type")
    if kind == "variation" or (kind is None and body.get("parent_id")):
        return resource_id(body, "parent_id")
    return None


def check_product(body: dict[str, Any]) -> None:
    """What the product mapping relies on, refused with a reason rather than a KeyError."""
    resource_id(body)
    if not isinstance(body.get("type", ""), str):
        raise ValueError(f"type: expected a string, got {type(body['type']).__name__}")


def mapped(topic: str, build: Callable[[], T]) -> T:
    """Run a mapping; a body of the wrong shape deep inside becomes a ValueError with a reason."""
    try:
        return build()
    except ValueError:
        raise
    except (KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise ValueError(f"{topic}: malformed body ({type(exc).__name__}: {exc})") from exc
