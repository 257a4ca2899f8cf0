"""What a new order would get now: the engine's own plan, with one more line at the queue's end.

A storefront promise ("Ships by 12 Dec") that the engine then breaks the moment the order
arrives is worse than none. So the quote is not a second ETA calculation: it appends a
hypothetical line (placed now, standard tier) to the variant's facts and runs `plan`, the same
queue order, on-hand cover and supply walk every real line gets. Placing the order does not
change the supply either: Shopify keeps counting it on hand (committed), and where a store
reports only what is left to sell, on-hand is derived from `available` plus open demand
(`pool.pool_on_hand`), which the order moves by the same amount in opposite directions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from connector.domain.allocation import Line, VariantFacts, plan
from connector.domain.eta import walk
from connector.domain.queue import Demand

QUOTED_LINE = -1  # the hypothetical line's id: database ids are positive, so it collides with none
# Sorts after every real order id, so among orders of the same tier and instant it comes last.
_LAST = "\U0010ffff"
# What an untracked variant has for sale: without a count, as much as anyone orders.
UNCOUNTED = 2**31 - 1


@dataclass(frozen=True, slots=True)
class LineQuote:
    """The promise a new order line of `quantity` units would get if it were placed now."""

    quantity: int
    in_stock: bool  # on-hand stock covers the whole quantity after the lines ahead of it
    available: int  # units on hand that no open line is waiting for: what is for sale now
    waiting: int  # units the lines ahead of it still lack (backordered, waiting for supply)
    ahead: int  # open lines ahead of it in the queue
    eta: date  # ship date: covered (stock, incoming stock or lead time) + handling days
    eta_source: str  # "in_stock", "incoming:<reference>" or "lead_time"


def quote_new_line(
    facts: VariantFacts,
    quantity: int,
    *,
    placed_at: datetime,
    placed_on: date,
    today: date,
    priority: int = 0,
    tracked: bool = True,
) -> LineQuote:
    """Plan the variant with one more line of `quantity` and read off that line's promise.

    `placed_at` is now; `placed_on` is today's date where the shop is (lead times are anchored
    on it). `priority` is the tier an order from the storefront gets (standard shipping: 0).
    `tracked=False`: the store does not count the stock, which then covers whatever is ordered
    (`pool.pool_on_hand`), the new line included.
    """
    if quantity < 1:
        raise ValueError("a quote is for at least one unit")
    if not tracked:
        open_need = sum(line.demand.need for line in facts.lines if line.demand.need > 0)
        facts = replace(facts, on_hand=open_need + quantity)
    new = Line(
        Demand(QUOTED_LINE, quantity, priority, placed_at, _LAST, _LAST),
        placed_on,
        variant_id=facts.variant_id,
    )
    result = plan(replace(facts, lines=[*facts.lines, new]), today)
    needs = {line.demand.line_id: line.demand.need for line in facts.lines}
    position = result.queue.index(QUOTED_LINE)
    ahead = result.queue[:position]
    need_ahead = sum(needs[line_id] for line_id in ahead)
    supply = max(facts.on_hand, 0)
    open_need = sum(need for need in needs.values() if need > 0)
    state = result.states.get(QUOTED_LINE)
    if state is None:  # nothing short: the engine makes no backorder, the line ships from stock
        shipped = walk([0], [placed_on], (), today, facts.policy)[0]
        eta, source = shipped.eta, shipped.source
    else:
        eta, source = state.eta, state.eta_source
    assert eta is not None and source is not None  # plan dates every backorder it makes
    return LineQuote(
        quantity=quantity,
        in_stock=state is None,
        available=max(supply - open_need, 0) if tracked else UNCOUNTED,
        waiting=max(need_ahead - supply, 0),
        ahead=len(ahead),
        eta=eta,
        eta_source=source,
    )
