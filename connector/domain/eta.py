"""The ETA walk: when does each waiting line's cumulative demand get covered, and by what?

Supply comes in three kinds, walked in date order as Odoo's forecast report does: stock on hand
now, then each open incoming-stock record by expected date, then replenishment at the supplier's
lead time for whatever is left. A line's ETA is the date its cumulative demand is covered plus
the shop's handling days; `eta_source` says which supply covered it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

IN_STOCK = "in_stock"
LEAD_TIME = "lead_time"
MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Incoming:
    quantity: int
    expected_on: date
    reference: str
    id: int = 0

    @property
    def source(self) -> str:
        return f"incoming:{self.reference or self.id}"


@dataclass(frozen=True, slots=True)
class EtaPolicy:
    lead_time_days: int
    handling_days: int
    grace_days: int


class Promise(NamedTuple):
    """A tuple, not a dataclass: the walk makes one per line, a million at a time."""

    eta: date
    source: str


def counts(incoming: Incoming, today: date, grace_days: int) -> bool:
    """Late incoming stock counts for the grace days, then stops: its lines get new dates."""
    return incoming.quantity > 0 and incoming.expected_on + timedelta(days=grace_days) >= today


def lead_time_date(placed_on: date, today: date, lead_time_days: int) -> date:
    """Replenishment ordered when the line was placed; once that date passes unmet, the next cycle.

    Anchoring on the order date keeps the promise still from day to day (no daily slip); a
    missed cycle moves it by whole lead times, which is a revision the customer must be told of.
    """
    if lead_time_days <= 0:
        return max(placed_on, today)
    arrival = placed_on + timedelta(days=lead_time_days)
    if arrival >= today:
        return arrival
    cycles = -(-(today - arrival).days // lead_time_days)
    return arrival + timedelta(days=cycles * lead_time_days)


def walk(
    shortfalls: Sequence[int],
    placed_on: Sequence[date],
    incoming: Sequence[Incoming],
    today: date,
    policy: EtaPolicy,
) -> list[Promise]:
    """Promises for a queue, line by line in queue order.

    `shortfalls[i]` is what line i still lacks after on-hand stock was walked down the queue;
    a line lacking nothing is `in_stock`. Short lines take incoming stock in date order, and
    what incoming stock cannot cover waits for replenishment at the lead time, never earlier
    than the last incoming stock it queued behind.
    """
    handling = timedelta(days=policy.handling_days)
    supplies = sorted(
        (s for s in incoming if counts(s, today, policy.grace_days)),
        key=lambda s: (s.expected_on, s.reference, s.id),
    )
    count = len(supplies)
    index = 0
    left = supplies[0].quantity if supplies else 0
    latest = today
    in_stock = Promise(today + handling, IN_STOCK)
    lead_dates: dict[date, date] = {}  # lines share few order dates
    promises: list[Promise] = []
    for short, placed in zip(shortfalls, placed_on, strict=True):
        if short <= 0:
            promises.append(in_stock)
            continue
        need = short
        last: Incoming | None = None
        while need and index < count:
            take = need if need <= left else left
            need -= take
            left -= take
            last = supplies[index]
            if left == 0:
                index += 1
                left = supplies[index].quantity if index < count else 0
        if last is not None and last.expected_on > latest:
            latest = last.expected_on
        if need == 0 and last is not None:
            promises.append(Promise(last.expected_on + handling, last.source))
        else:
            arrival = lead_dates.get(placed)
            if arrival is None:
                arrival = lead_dates[placed] = lead_time_date(placed, today, policy.lead_time_days)
            promises.append(Promise(max(arrival, latest) + handling, LEAD_TIME))
    return promises
