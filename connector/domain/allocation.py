"""Planning a variant: which lines are short, which are ready, what each is promised.

`plan` is the whole engine for one variant as a pure function: given the stock, the open lines
with their previous backorder state, and the incoming stock, it returns the new state of every
backorder and the events the change raises. Running it again on its own output changes nothing,
which is what makes replays, duplicates and reconciliation syncs harmless.

Variants that sell from one shared stock (a stock pool, see `pool.py`) are planned together as
one: one supply, and the open lines of all of them in one queue. Each line then names its own
variant, and each event names the line's variant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from connector.domain.eta import IN_STOCK, MANUAL, EtaPolicy, Incoming, Promise, walk
from connector.domain.events import (
    BackorderCancelled,
    BackorderCreated,
    BackorderFulfilled,
    BackorderReady,
    EtaChanged,
    Event,
    VariantBackInStock,
    VariantOutOfStock,
)
from connector.domain.queue import Demand, cover, queue_key

OPEN = ("waiting", "allocated", "ready")
WAITING, ALLOCATED, READY, FULFILLED, CANCELLED = (
    "waiting",
    "allocated",
    "ready",
    "fulfilled",
    "cancelled",
)


@dataclass(frozen=True, slots=True)
class BackorderState:
    quantity: int  # units of the line that have been short (the backordered quantity)
    allocated: int  # of those, units now covered by stock
    status: str
    eta: date | None
    eta_source: str | None
    manual_eta: date | None = None
    backorder_id: int | None = None
    priority: int = 0  # the queue tier recorded with the backorder


@dataclass(frozen=True, slots=True)
class Line:
    demand: Demand
    placed_on: date  # the order date in the shop's time zone, for lead-time anchoring
    state: BackorderState | None = None
    # Why the line needs nothing any more, when it doesn't: "cancelled", "refunded",
    # "removed" or "fulfilled".
    closed_because: str | None = None
    # The line's variant where the facts are a pool's; None means `VariantFacts.variant_id`.
    variant_id: int | None = None


@dataclass(frozen=True)
class VariantFacts:
    """What a variant's plan depends on; with `shared_with`, a whole stock pool's.

    `on_hand` and `incoming` are the pool's supply, counted once; `lines` are the lines of every
    variant of the pool, each naming its variant.
    """

    variant_id: int
    on_hand: int
    lines: Sequence[Line]
    incoming: Sequence[Incoming]
    policy: EtaPolicy
    split_shipments: bool
    was_in_stock: bool | None = None
    # The pool's other variants, each with whether it was in stock: they share this supply.
    shared_with: Mapping[int, bool | None] = field(default_factory=dict)

    def variant_of(self, line: Line) -> int:
        return self.variant_id if line.variant_id is None else line.variant_id


@dataclass
class Plan:
    # line id → new state, for the lines whose backorder is new or changed
    states: dict[int, BackorderState] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    in_stock: bool = False
    queue: list[int] = field(default_factory=list)  # open line ids, in queue order


def _promise(previous: BackorderState | None, walked: Promise, short: int) -> Promise:
    if short == 0:
        if previous and previous.status == READY and previous.eta is not None:
            # A ready line keeps the date it was given; it does not drift with the calendar.
            return Promise(previous.eta, previous.eta_source or IN_STOCK)
        return walked
    manual = previous.manual_eta if previous else None
    if manual is None:
        return walked
    stock_is_earlier = not walked.source.startswith("lead_time") and walked.eta < manual
    return walked if stock_is_earlier else Promise(manual, MANUAL)


def _status(short: int, allocated: int, split_shipments: bool) -> str:
    if short == 0:
        return READY
    if allocated > 0 and split_shipments:
        return ALLOCATED
    return WAITING


def _open_line(line: Line, covered: int, walked: Promise, facts: VariantFacts, plan: Plan) -> None:
    need = line.demand.need
    short = need - covered
    previous = line.state
    row_id = previous.backorder_id if previous else None
    if previous is None or previous.status not in OPEN:
        if short == 0:
            return  # in stock, never short (or no longer tracked): nothing to do
        previous = None  # short again after it was closed: a new backorder on the same row
    quantity = short if previous is None else min(max(previous.quantity, short), need)
    allocated = quantity - short
    eta, source = _promise(previous, walked, short)
    status = _status(short, allocated, facts.split_shipments)
    priority = line.demand.priority
    if (
        previous is not None
        and previous.eta == eta
        and previous.eta_source == source
        and previous.status == status
        and previous.quantity == quantity
        and previous.allocated == allocated
        and previous.priority == priority
    ):
        return  # the common case on a daily tick: nothing changed, build nothing
    state = BackorderState(
        quantity=quantity,
        allocated=allocated,
        status=status,
        eta=eta,
        eta_source=source,
        manual_eta=previous.manual_eta if previous else None,
        backorder_id=row_id,
        priority=priority,
    )
    plan.states[line.demand.line_id] = state
    ids = (facts.variant_of(line), line.demand.line_id, row_id)
    if previous is None:
        plan.events.append(BackorderCreated(*ids, quantity, eta, source))
        if status == READY:
            plan.events.append(BackorderReady(*ids, quantity))
        return
    if status == READY and previous.status != READY:
        # Ready says it all: the customer hears "on its way", not also "the date moved".
        plan.events.append(BackorderReady(*ids, quantity))
    elif previous.eta != eta or previous.eta_source != source:
        plan.events.append(EtaChanged(*ids, previous.eta, eta, previous.eta_source, source))


def _closed_line(line: Line, facts: VariantFacts, plan: Plan) -> None:
    previous = line.state
    if previous is None or previous.status not in OPEN:
        return
    reason = line.closed_because or "cancelled"
    status = FULFILLED if reason == "fulfilled" else CANCELLED
    plan.states[line.demand.line_id] = replace(
        previous, allocated=previous.allocated if status == FULFILLED else 0, status=status
    )
    ids = (facts.variant_of(line), line.demand.line_id, previous.backorder_id)
    if status == FULFILLED:
        plan.events.append(BackorderFulfilled(*ids))
    else:
        plan.events.append(BackorderCancelled(*ids, reason))


def plan(facts: VariantFacts, today: date) -> Plan:
    result = Plan()
    open_lines = sorted(
        (line for line in facts.lines if line.demand.need > 0),
        key=lambda line: queue_key(line.demand),
    )
    covered = cover(facts.on_hand, [line.demand for line in open_lines])
    shortfalls = [line.demand.need - c for line, c in zip(open_lines, covered, strict=True)]
    promises = walk(
        shortfalls, [line.placed_on for line in open_lines], facts.incoming, today, facts.policy
    )
    for line, got, promise in zip(open_lines, covered, promises, strict=True):
        _open_line(line, got, promise, facts, result)
    for line in facts.lines:
        if line.demand.need <= 0:
            _closed_line(line, facts, result)
    result.queue = [line.demand.line_id for line in open_lines]
    demand = sum(line.demand.need for line in open_lines)
    result.in_stock = facts.on_hand > demand
    _stock_events(facts.variant_id, facts.was_in_stock, result)
    for variant_id in sorted(facts.shared_with):
        _stock_events(variant_id, facts.shared_with[variant_id], result)
    return result


def _stock_events(variant_id: int, was_in_stock: bool | None, result: Plan) -> None:
    """A pool is in stock or out as a whole: each of its variants says so when it flips."""
    if was_in_stock is True and not result.in_stock:
        result.events.append(VariantOutOfStock(variant_id))
    elif was_in_stock is False and result.in_stock:
        result.events.append(VariantBackInStock(variant_id))
