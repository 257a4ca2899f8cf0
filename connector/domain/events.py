"""Domain events: what changed for a customer or a merchant, raised by the rules, never by I/O.

Later parts subscribe: push-back to the store, e-mail, the dashboard. Each event names the order
line (always known) and the backorder (filled in by the service once the row has an id).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    @property
    def name(self) -> str:
        return type(self).__name__

    def payload(self) -> dict[str, Any]:
        """JSON-ready fields; shallow on purpose (events hold only scalars and dates)."""
        values = {}
        for item in fields(self):
            value = getattr(self, item.name)
            values[item.name] = value.isoformat() if isinstance(value, date) else value
        return values


@dataclass(frozen=True, slots=True)
class BackorderEvent(Event):
    variant_id: int
    line_id: int
    backorder_id: int | None


@dataclass(frozen=True, slots=True)
class BackorderCreated(BackorderEvent):
    quantity: int
    eta: date
    eta_source: str


@dataclass(frozen=True, slots=True)
class EtaChanged(BackorderEvent):
    old_eta: date | None
    new_eta: date
    old_source: str | None
    new_source: str


@dataclass(frozen=True, slots=True)
class BackorderReady(BackorderEvent):
    quantity: int


@dataclass(frozen=True, slots=True)
class BackorderCancelled(BackorderEvent):
    reason: str  # "cancelled", "refunded" or "removed"


@dataclass(frozen=True, slots=True)
class BackorderFulfilled(BackorderEvent):
    pass


@dataclass(frozen=True, slots=True)
class VariantOutOfStock(Event):
    variant_id: int


@dataclass(frozen=True, slots=True)
class VariantBackInStock(Event):
    variant_id: int


@dataclass(frozen=True, slots=True)
class IncomingStockChanged(Event):
    """Stock on its way was recorded or received: what a new order would be promised changes
    even where no line waits (and so no backorder event would say so)."""

    variant_id: int


@dataclass(frozen=True, slots=True)
class ReorderPointReached(Event):
    """The variant's stock position fell to or below its reorder point since the last run:
    time to order (the merchant's digest and their own webhook say so)."""

    variant_id: int
