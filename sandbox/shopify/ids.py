"""Shopify global ids (GIDs) and the numbers inside them.

Shopify ids are large integers wrapped as `gid://shopify/<Type>/<n>`; clients must treat them as
opaque strings and never as floats, so the sandbox hands out big numbers from one counter.
"""

from __future__ import annotations

import itertools
import threading

GID_PREFIX = "gid://shopify/"


class IdSource:
    """Hands out increasing numeric ids, unique across all types of one store."""

    def __init__(self, base: int = 8_000_000_000_000) -> None:
        self._counter = itertools.count(base)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._counter)


def gid(kind: str, number: int) -> str:
    """Build `gid://shopify/<kind>/<number>`."""
    return f"{GID_PREFIX}{kind}/{number}"


def parse_gid(value: str) -> tuple[str, int]:
    """Split a GID into (kind, number); raise ValueError when it is not one."""
    if not value.startswith(GID_PREFIX):
        raise ValueError(f"Invalid global id '{value}'")
    kind, _, rest = value[len(GID_PREFIX) :].partition("/")
    number = rest.split("?", 1)[0]
    if not kind or not number.isdigit():
        raise ValueError(f"Invalid global id '{value}'")
    return kind, int(number)


def topic_enum_to_path(topic: str) -> str:
    """`ORDERS_CREATE` → `orders/create`, `VARIANTS_OUT_OF_STOCK` → `variants/out_of_stock`."""
    lowered = topic.lower()
    for resource in ("inventory_levels", "inventory_items", "bulk_operations", "app_subscriptions"):
        if lowered.startswith(resource + "_"):
            return f"{resource}/{lowered[len(resource) + 1 :]}"
    head, _, tail = lowered.partition("_")
    return f"{head}/{tail}"


def topic_path_to_enum(topic: str) -> str:
    """`orders/create` → `ORDERS_CREATE`."""
    return topic.replace("/", "_").upper()
