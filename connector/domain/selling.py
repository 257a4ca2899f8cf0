"""Selling on backorder: may the store keep taking orders for a variant it has run out of?

The store only takes backorders it can keep. A shop that opts in lets the app switch a variant
to "continue" (Shopify `inventoryPolicy: CONTINUE`, WooCommerce `backorders: notify`) while the
next unit beyond stock has a date the shop is willing to promise, and back to "deny" when it no
longer has one:

- a date: incoming stock, or the supplier's lead time, as the engine would promise a new order
  placed now at the end of the queue (the quote); no date, no sale;
- within the promise: that date is at most `max_promise_days` days from today;
- under the cap: fewer units wait than the cap. The cap is the shop's `backorder_cap` if set,
  else the incoming quantity (orders beyond what is on its way would only wait for the next
  cycle). Where nothing is incoming and only the lead time gives a date, and the shop set no
  cap, the promise window is the only limit: the supplier replenishes whatever is ordered.

In stock or not, the rule judges the unit *beyond* stock, so a variant is already switched when
its last unit sells, rather than refusing sales until the app catches up.

Pure: no database, no clock (today is a parameter). `decide` returns the policy and the reason
in words a merchant reads in the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Policy = Literal["continue", "deny"]
POLICIES: tuple[Policy, ...] = ("continue", "deny")
DEFAULT_MAX_PROMISE_DAYS = 30


@dataclass(frozen=True, slots=True)
class SellingRules:
    """A shop's settings for selling on backorder."""

    enabled: bool = False
    max_promise_days: int = DEFAULT_MAX_PROMISE_DAYS
    cap: int | None = None  # None: the incoming quantity


@dataclass(frozen=True, slots=True)
class NextUnit:
    """What the engine would promise one more unit beyond stock, ordered now (the quote)."""

    eta: date | None  # ship-by date; None: no date can be given
    eta_source: str | None  # "incoming:<reference>" or "lead_time"
    available: int  # units for sale from stock now
    waiting: int  # backordered units already waiting for supply
    incoming: int  # units on open incoming stock for the variant's stock


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy the store should have; None: the app does not manage this variant."""

    policy: Policy | None
    reason: str


def decide(
    rules: SellingRules,
    unit: NextUnit,
    today: date,
    *,
    tracked: bool = True,
    overridden: bool = False,
) -> Decision:
    """Whether the variant may be sold beyond its stock now, and why."""
    if not rules.enabled:
        return Decision(None, "selling on backorder is off for this shop")
    if not tracked:
        return Decision(None, "the store does not count this variant's stock")
    if overridden:
        return Decision(None, "the merchant set this variant's policy by hand")
    stock = f"{unit.available} in stock; " if unit.available > 0 else "out of stock; "
    if unit.eta is None or not _is_supply(unit.eta_source):
        return Decision("deny", stock + "no incoming stock or lead time gives a date")
    cap = _cap(rules, unit)
    if cap is not None and unit.waiting >= cap:
        return Decision(
            "deny",
            stock + f"{unit.waiting} units already wait, the cap is {cap} ({_cap_words(rules)})",
        )
    days = (unit.eta - today).days
    source = _source_words(unit.eta_source)
    if days > rules.max_promise_days:
        return Decision(
            "deny",
            stock + f"the next date ({unit.eta.isoformat()}, {source}) is {days} days away, "
            f"beyond the {rules.max_promise_days}-day maximum promise",
        )
    limit = f"{unit.waiting} of {cap} units waiting" if cap is not None else "no cap"
    return Decision(
        "continue",
        stock + f"more by {unit.eta.isoformat()} ({source}), within the "
        f"{rules.max_promise_days}-day maximum promise; {limit}",
    )


def _cap(rules: SellingRules, unit: NextUnit) -> int | None:
    if rules.cap is not None:
        return rules.cap
    if unit.incoming > 0 or (unit.eta_source or "").startswith("incoming:"):
        return unit.incoming
    return None  # only the lead time gives a date: the promise window is the limit


def _is_supply(source: str | None) -> bool:
    return source is not None and (source == "lead_time" or source.startswith("incoming:"))


def _source_words(source: str | None) -> str:
    if source == "lead_time":
        return "supplier lead time"
    if source and source.startswith("incoming:"):
        reference = source.removeprefix("incoming:")
        return f"incoming stock {reference}" if reference else "incoming stock"
    return str(source)


def _cap_words(rules: SellingRules) -> str:
    return "the shop's limit" if rules.cap is not None else "the incoming quantity"
