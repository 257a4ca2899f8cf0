"""The queue per variant, and how far on-hand stock covers it.

A variant's backorders are derived, not accumulated: sort the open lines by their queue key and
walk the on-hand stock down the queue. The result depends only on the current facts (stock and
open lines), so a webhook that arrives late, twice or out of order cannot change it. Variants
sharing one stock (a stock pool) have one queue: their lines compete by the same key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Demand:
    """One open order line of a variant: what it still needs and where it stands in the queue."""

    line_id: int
    need: int  # ordered - fulfilled - refunded; 0 once cancelled or removed
    priority: int  # higher tiers are served first
    placed_at: datetime
    order_key: str  # the platform order id, zero-padded so text order is numeric order
    line_key: str = ""


def order_key(external_id: str) -> str:
    """Sort key for a platform order id: numeric ids compare as numbers, others as text."""
    return external_id.zfill(20) if external_id.isdigit() else external_id


def queue_key(demand: Demand) -> tuple[int, datetime, str, str, int]:
    """Priority tier (higher first), then order time, then order id: stable and total."""
    return (-demand.priority, demand.placed_at, demand.order_key, demand.line_key, demand.line_id)


def in_queue_order(demands: Iterable[Demand]) -> list[Demand]:
    return sorted(demands, key=queue_key)


def cover(on_hand: int, queue: Sequence[Demand]) -> list[int]:
    """Units of on-hand stock each line gets, walking the queue in order (head first)."""
    remaining = max(on_hand, 0)
    covered = []
    for demand in queue:
        take = demand.need if demand.need <= remaining else remaining
        covered.append(take)
        remaining -= take
    return covered
