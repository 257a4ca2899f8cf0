"""Stock pools: variants that sell from one shared stock count that stock once.

A WooCommerce variation with `manage_stock: "parent"` sells from its parent product's stock, so
every such variation of a parent reports the same quantity. The adapters name the stock a
variant sells from (`inventory_item_external_id`); the variants of a shop that name the same
one form a pool, planned as one queue over one supply. On Shopify every variant has its own
InventoryItem, so every pool there is a single variant and nothing changes.

These rules say what the pool's supply is, given every variant's own readings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Reading:
    """One stored stock level of one of the pool's variants at one location."""

    location: str
    on_hand: int | None  # None: the store reports only what is left to sell (WooCommerce)
    available: int
    read_at: datetime | None  # the store's time of the reading
    row: int = 0  # breaks ties between readings of the same moment: the later row wins


def _age(reading: Reading) -> tuple[bool, datetime | None, int]:
    return (reading.read_at is not None, reading.read_at, reading.row)


def current_readings(readings: Iterable[Reading]) -> list[Reading]:
    """The newest reading per location: the pool's variants each hold a copy of the same stock.

    Copies can differ for a moment (a webhook updated one variant, a sync not yet the others);
    the newest is the truth, whichever variant it was recorded on. A single variant has one
    reading per location, so for it this is every reading.
    """
    newest: dict[str, Reading] = {}
    for reading in readings:
        held = newest.get(reading.location)
        if held is None or _age(reading) > _age(held):
            newest[reading.location] = reading
    return list(newest.values())


def pool_on_hand(readings: Iterable[Reading], open_need: int, *, tracked: bool) -> int:
    """Units in the building for the pool's queue of `open_need` units.

    Untracked stock (WooCommerce `manage_stock` off, Shopify untracked items) covers whatever is
    ordered. Where a store reports only what is left to sell, the open lines' units are still in
    the building: on-hand is derived from `available` plus the open demand, at every plan, so it
    holds whatever order the order and the stock level arrived in.
    """
    if not tracked:
        return open_need
    current = current_readings(readings)
    total = sum(r.available if r.on_hand is None else r.on_hand for r in current)
    if any(r.on_hand is None for r in current):
        total += open_need
    return total


def pool_lead_time(own: Iterable[int | None], shop_default: int) -> int:
    """The pool's supplier lead time: one stock is replenished as one.

    The longest lead time a merchant set on any of the pool's variants (a promise must hold for
    every line it covers), else the shop's default.
    """
    given = [days for days in own if days is not None]
    return max(given) if given else shop_default
