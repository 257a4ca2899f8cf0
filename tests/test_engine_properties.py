"""Property-based specifications of the backorder engine (PRODUCT.md, "Backorder rules").

Two levels:

* The pure planner, `connector.domain.allocation.plan`, on random facts of one variant: units
  are conserved, the queue is served in order, planning its own output changes nothing, the
  order the lines arrive in does not matter, every promised date is backed by the supply that
  covers the line, and more stock only moves the queue forward.
* The service, through the database: random sequences of order, stock and incoming-stock
  changes leave backorders that never hand out more stock than there is, that replays, stale
  snapshots and extra reconciliations leave alone, and that equal a fresh plan of the facts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any, TypeVar
from uuid import uuid4

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.base import StoreInventoryLevel, StoreOrder, StoreOrderLine
from connector.clock import shop_today
from connector.commands import execute
from connector.domain.allocation import (
    ALLOCATED,
    CANCELLED,
    FULFILLED,
    OPEN,
    READY,
    WAITING,
    BackorderState,
    Line,
    Plan,
    VariantFacts,
    plan,
)
from connector.domain.eta import IN_STOCK, LEAD_TIME, MANUAL, EtaPolicy, Incoming, counts
from connector.domain.events import BackorderReady
from connector.domain.queue import Demand, cover, order_key
from connector.models import (
    Backorder,
    DomainEvent,
    EtaChange,
    IncomingStock,
    InventoryLevel,
    Order,
    OrderLine,
    Shop,
    Variant,
)
from connector.runtime import Runtime
from connector.services.backorders import change_backorder, load_facts, reconcile
from connector.services.orders import ingest_order
from connector.services.stock import add_incoming, record_level
from tests.shops import make_shop

T = TypeVar("T")

# The `clock` fixture's instant; in the shops' zone (America/Chicago) it is still the 26th.
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)

# ---------------------------------------------------------------------------------------------
# The pure planner
# ---------------------------------------------------------------------------------------------

PURE = settings(max_examples=200, deadline=None, database=None)

# Numeric ids of different lengths (numeric order is not text order) and a few text ids.
ORDER_IDS = ("998", "999", "1000", "1001", "1002", "25000", "A-17", "B-3")
REFERENCES = ("PO-1", "PO-2", "PO-3", "")
SOURCES = (IN_STOCK, LEAD_TIME, MANUAL, "incoming:PO-1", "incoming:PO-2")


def days_from_today(before: int, after: int) -> st.SearchStrategy[date]:
    return st.integers(-before, after).map(lambda days: TODAY + timedelta(days=days))


# Strategies are built once: building them per draw costs more than the planning under test.
ETAS = st.none() | days_from_today(20, 60)
MANUAL_ETAS = st.none() | days_from_today(0, 60)
ETA_SOURCES = st.none() | st.sampled_from(SOURCES)
STATUSES = st.sampled_from((*OPEN, FULFILLED, CANCELLED))
CLOSED_BECAUSE = st.sampled_from((None, "cancelled", "refunded", "removed", "fulfilled"))
# Placed on a half-hour grid over six days, so that order times tie often.
PLACED_AT = st.integers(0, 6 * 48).map(lambda n: NOW - timedelta(minutes=30 * n))


@st.composite
def backorder_states(draw: st.DrawFn) -> BackorderState:
    """A state a stored backorder may be in: any status, any dates, maybe a manual ETA."""
    quantity = draw(st.integers(1, 6))
    return BackorderState(
        quantity=quantity,
        allocated=draw(st.integers(0, quantity)),
        status=draw(STATUSES),
        eta=draw(ETAS),
        eta_source=draw(ETA_SOURCES),
        manual_eta=draw(MANUAL_ETAS),
        priority=draw(st.integers(0, 2)),
    )


STATES = st.none() | backorder_states()


@st.composite
def lines(draw: st.DrawFn) -> Line:
    """One order line of the variant (its id is given by `variant_facts`)."""
    need = draw(st.integers(0, 5))
    order = draw(st.sampled_from(ORDER_IDS))
    placed_at = draw(PLACED_AT)
    return Line(
        demand=Demand(
            line_id=0,
            need=need,
            priority=draw(st.integers(0, 2)),
            placed_at=placed_at,
            order_key=order_key(order),
            line_key=f"{order}-{draw(st.integers(1, 3))}",
        ),
        placed_on=placed_at.date(),
        state=draw(STATES),
        closed_because=draw(CLOSED_BECAUSE) if need == 0 else None,
    )


def with_id(line: Line, line_id: int) -> Line:
    state = line.state and replace(line.state, backorder_id=10_000 + line_id)
    return replace(line, demand=replace(line.demand, line_id=line_id), state=state)


INCOMING = st.builds(
    Incoming,
    quantity=st.integers(0, 10),
    expected_on=days_from_today(8, 30),
    reference=st.sampled_from(REFERENCES),
)
LINE_LISTS = st.lists(lines(), max_size=25)
INCOMING_LISTS = st.lists(INCOMING, max_size=3)
POLICIES = st.builds(
    EtaPolicy,
    lead_time_days=st.integers(0, 30),
    handling_days=st.integers(0, 3),
    grace_days=st.integers(0, 5),
)


@st.composite
def variant_facts(draw: st.DrawFn) -> VariantFacts:
    """One variant's facts: stock on hand, 0 to 25 lines, 0 to 3 incoming stock records."""
    drafts = draw(LINE_LISTS)
    return VariantFacts(
        variant_id=7,
        on_hand=draw(st.integers(0, 30)),
        # Ids count down the list: neither list order nor queue order follows them.
        lines=[with_id(line, 3 * (len(drafts) - n) + 1) for n, line in enumerate(drafts)],
        incoming=[replace(s, id=n) for n, s in enumerate(draw(INCOMING_LISTS), start=1)],
        policy=draw(POLICIES),
        split_shipments=draw(st.booleans()),
        was_in_stock=draw(st.none() | st.booleans()),
    )


def queue_of(facts: VariantFacts, result: Plan) -> list[Line]:
    by_id = {line.demand.line_id: line for line in facts.lines}
    return [by_id[line_id] for line_id in result.queue]


def states_after(facts: VariantFacts, result: Plan) -> dict[int, BackorderState | None]:
    """Every line's backorder after the plan is applied: the planned state, else the old one."""
    return {
        line.demand.line_id: result.states.get(line.demand.line_id, line.state)
        for line in facts.lines
    }


def applied(facts: VariantFacts, result: Plan) -> VariantFacts:
    """The facts as the service would load them after writing the plan."""
    return replace(
        facts,
        lines=[
            replace(line, state=result.states.get(line.demand.line_id, line.state))
            for line in facts.lines
        ],
        was_in_stock=result.in_stock,
    )


def ahead(a: Demand, b: Demand) -> bool:
    """The queue rule: a higher tier first, then the earlier order, then the lower order id."""
    return (-a.priority, a.placed_at, a.order_key) < (-b.priority, b.placed_at, b.order_key)


@PURE
@given(facts=variant_facts())
def test_plan_never_hands_out_more_than_is_on_hand(facts: VariantFacts) -> None:
    """Units are conserved: the queue is covered by at most the stock on hand, no line gets
    more than it needs, no unit sits idle while a line waits, and each backorder's allocation
    is part of its line's cover (so no unit is given twice)."""
    result = plan(facts, TODAY)
    queue = queue_of(facts, result)
    assert sorted(result.queue) == sorted(x.demand.line_id for x in facts.lines if x.demand.need)
    covered = cover(facts.on_hand, [line.demand for line in queue])
    assert sum(covered) <= facts.on_hand
    assert sum(covered) == min(facts.on_hand, sum(line.demand.need for line in queue))
    assert all(0 <= got <= line.demand.need for line, got in zip(queue, covered, strict=True))

    cover_of = {line.demand.line_id: got for line, got in zip(queue, covered, strict=True)}
    after = states_after(facts, result)
    allocated = 0
    for line in facts.lines:
        line_id = line.demand.line_id
        state = after[line_id]
        if line_id in result.states:
            assert state is not None and 0 <= state.allocated <= state.quantity
        if state is None or state.status not in OPEN:
            continue
        assert line_id in cover_of, "an open backorder belongs to an open line"
        short = line.demand.need - cover_of[line_id]
        assert state.quantity <= line.demand.need
        assert state.quantity - state.allocated == short
        assert state.allocated <= cover_of[line_id]
        expected = READY if short == 0 else WAITING
        if short and state.allocated and facts.split_shipments:
            expected = ALLOCATED
        assert state.status == expected
        allocated += state.allocated
    assert allocated <= facts.on_hand


@PURE
@given(facts=variant_facts())
def test_the_queue_is_served_in_order(facts: VariantFacts) -> None:
    """Queue fairness: the queue is ordered by tier, then order time, then order id, and no
    line gets any stock while a line ahead of it is not fully covered."""
    result = plan(facts, TODAY)
    queue = [line.demand for line in queue_of(facts, result)]
    for earlier, later in pairwise(queue):
        assert not ahead(later, earlier), f"{later} queued behind {earlier}"
    covered = dict(zip((d.line_id for d in queue), cover(facts.on_hand, queue), strict=True))
    for a in queue:
        for b in queue:
            if ahead(a, b) and covered[b.line_id] > 0:
                assert covered[a.line_id] == a.need, f"{b} served before {a} was covered"


@PURE
@given(facts=variant_facts())
def test_planning_its_own_output_changes_nothing(facts: VariantFacts) -> None:
    """Idempotence: with every line carrying the state the plan gave it, planning again
    changes no backorder and raises no event, so replays and duplicate syncs are harmless."""
    first = plan(facts, TODAY)
    second = plan(applied(facts, first), TODAY)
    assert second.states == {}
    assert second.events == []
    assert second.queue == first.queue
    assert second.in_stock == first.in_stock


@PURE
@given(facts=variant_facts(), data=st.data())
def test_the_order_lines_arrive_in_does_not_matter(
    facts: VariantFacts, data: st.DataObject
) -> None:
    """Order independence: the plan is a function of the set of lines, not of their order."""
    shuffled = replace(facts, lines=data.draw(st.permutations(facts.lines)))
    expected, actual = plan(facts, TODAY), plan(shuffled, TODAY)
    assert actual.states == expected.states
    assert actual.queue == expected.queue
    assert actual.in_stock == expected.in_stock
    assert Counter(actual.events) == Counter(expected.events)


@PURE
@given(facts=variant_facts())
def test_promises_are_backed_by_supply(facts: VariantFacts) -> None:
    """ETA sanity: a waiting line is promised no earlier than the supply that covers it plus
    the handling days. Incoming stock: the stock expected by then covers it and every line
    ahead; lead time: not before the supplier can deliver, nor before incoming stock promised
    to lines ahead; manual: the merchant's date. A covered line ships from stock (a ready line
    keeps the date it was given)."""
    result = plan(facts, TODAY)
    queue = queue_of(facts, result)
    after = states_after(facts, result)
    handling = timedelta(days=facts.policy.handling_days)
    counted = [s for s in facts.incoming if counts(s, TODAY, facts.policy.grace_days)]
    covered = cover(facts.on_hand, [line.demand for line in queue])
    shortfall_so_far = 0
    latest_incoming_eta: date | None = None
    for line, got in zip(queue, covered, strict=True):
        state = after[line.demand.line_id]
        short = line.demand.need - got
        previous = line.state
        if short == 0:
            if state is None or state.status not in OPEN:
                continue  # covered and not backordered now: nothing promised
            if previous is not None and previous.status == READY and previous.eta is not None:
                assert state.eta == previous.eta
            else:
                assert state.eta == TODAY + handling
                assert state.eta_source == IN_STOCK
            continue
        shortfall_so_far += short
        assert state is not None and state.eta is not None and state.eta_source is not None
        source, eta = state.eta_source, state.eta
        if source.startswith("incoming:"):
            supplies = [s for s in counted if s.source == source]
            assert any(eta == s.expected_on + handling for s in supplies), (source, eta)
            arrived = sum(s.quantity for s in counted if s.expected_on + handling <= eta)
            assert arrived >= shortfall_so_far, "promised stock that does not reach this line"
            assert latest_incoming_eta is None or eta >= latest_incoming_eta
            latest_incoming_eta = eta
        elif source == LEAD_TIME:
            lead = timedelta(days=facts.policy.lead_time_days)
            assert eta >= max(TODAY, line.placed_on + lead) + handling
            assert latest_incoming_eta is None or eta >= latest_incoming_eta
        else:
            assert source == MANUAL
            assert state.manual_eta is not None and eta == state.manual_eta


@PURE
@given(facts=variant_facts(), extra=st.integers(1, 12))
def test_more_stock_only_moves_the_queue_forward(facts: VariantFacts, extra: int) -> None:
    """Allocate: when stock rises it goes to the queue; no backorder loses allocated units, a
    ready line stays ready, a line it fully covers becomes ready (and is told so), and no line
    still waiting is promised a later date."""
    before = applied(facts, plan(facts, TODAY))
    result = plan(replace(before, on_hand=before.on_hand + extra), TODAY)
    after = states_after(before, result)
    ready_events = {e.line_id for e in result.events if isinstance(e, BackorderReady)}
    for line in before.lines:
        old, new = line.state, after[line.demand.line_id]
        if line.demand.need <= 0 or old is None or old.status not in OPEN:
            continue
        assert new is not None and new.status in OPEN
        assert new.allocated >= old.allocated
        if old.status == READY:
            assert new.status == READY
        elif new.status == READY:
            assert line.demand.line_id in ready_events
        else:
            assert old.eta is not None and new.eta is not None and new.eta <= old.eta


# ---------------------------------------------------------------------------------------------
# Through the database: sequences of store events
# ---------------------------------------------------------------------------------------------

THROUGH_DB = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Snapshots are stamped from here on, one second per store event, so each is newer than the last.
UPDATES_FROM = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
SKUS = ("SKU-A", "SKU-B")


@dataclass(frozen=True)
class NewOrder:
    """A customer orders: (variant index, quantity) per line."""

    number: int
    lines: tuple[tuple[int, int], ...]
    express: bool = False
    placed_hours_ago: int = 0


@dataclass(frozen=True)
class EditLine:
    """The merchant edits an order: a line's new quantity, or None to remove it."""

    order: int
    line: int
    quantity: int | None


@dataclass(frozen=True)
class Cancel:
    """The order is cancelled (platforms do not edit or ship it after that, but may refund)."""

    order: int


@dataclass(frozen=True)
class Refund:
    """Units of a line are refunded (at most what is still owed)."""

    order: int
    line: int
    quantity: int


@dataclass(frozen=True)
class Fulfil:
    """Units of a line are shipped (at most what is still owed)."""

    order: int
    line: int
    quantity: int


@dataclass(frozen=True)
class Restock:
    """The platform reports a stock level of a variant at a location."""

    variant: int
    location: str
    on_hand: int


@dataclass(frozen=True)
class AddIncoming:
    """The merchant records stock on its way (a command, not a snapshot: never replayed)."""

    variant: int
    quantity: int
    days_out: int
    reference: str


@dataclass(frozen=True)
class SetManualEta:
    """The merchant promises a date for one open backorder of the variant."""

    variant: int
    pick: int
    days_out: int


Op = NewOrder | EditLine | Cancel | Refund | Fulfil | Restock | AddIncoming | SetManualEta


@dataclass(frozen=True)
class Scenario:
    stock: tuple[int, int]
    split_shipments: bool
    ops: tuple[Op, ...]


variant_index = st.integers(0, 1)
new_orders: st.SearchStrategy[Op] = st.one_of(
    st.builds(
        NewOrder,
        number=st.integers(1000, 1040),
        lines=st.lists(st.tuples(variant_index, st.integers(1, 4)), min_size=1, max_size=2).map(
            tuple
        ),
        express=st.booleans(),
        placed_hours_ago=st.integers(0, 10 * 24),
    ),
    st.builds(
        NewOrder,
        number=st.integers(1000, 1040),
        lines=st.tuples(st.tuples(variant_index, st.integers(1, 3))),
        placed_hours_ago=st.sampled_from((0, 24)),  # same hour: the order id breaks the tie
    ),
)
changes: st.SearchStrategy[Op] = st.one_of(
    st.builds(
        EditLine,
        order=st.integers(0, 9),
        line=st.integers(0, 1),
        quantity=st.none() | st.integers(0, 5),
    ),
    st.builds(Cancel, order=st.integers(0, 9)),
    st.builds(Refund, order=st.integers(0, 9), line=st.integers(0, 1), quantity=st.integers(1, 3)),
    st.builds(Fulfil, order=st.integers(0, 9), line=st.integers(0, 1), quantity=st.integers(1, 3)),
    st.builds(
        Restock,
        variant=variant_index,
        location=st.sampled_from(("1", "2")),
        on_hand=st.integers(0, 8),
    ),
    st.builds(
        AddIncoming,
        variant=variant_index,
        quantity=st.integers(1, 6),
        days_out=st.integers(0, 30),
        reference=st.sampled_from(("PO-1", "PO-2", "")),
    ),
)
# About half the events are new orders, so queues grow long enough to be interesting.
store_events = st.one_of(new_orders, changes)
merchant_events: st.SearchStrategy[Op] = st.builds(
    SetManualEta, variant=variant_index, pick=st.integers(0, 3), days_out=st.integers(0, 60)
)


def scenarios(merchant: bool = False) -> st.SearchStrategy[Scenario]:
    """A shop's initial stock, then a few orders, then any mix of store events."""
    events = st.one_of(store_events, merchant_events) if merchant else store_events
    first_orders = st.lists(new_orders, min_size=1, max_size=4)
    return st.builds(
        Scenario,
        stock=st.tuples(st.integers(0, 5), st.integers(0, 5)),
        split_shipments=st.booleans(),
        ops=st.builds(
            lambda first, then: (*first, *then), first_orders, st.lists(events, max_size=14)
        ),
    )


@dataclass
class SimulatedStore:
    """The platform's side: the latest snapshot of each order and stock level, and every
    snapshot it has sent, so the test can send them again (replay) or send old ones (stale)."""

    runtime: Runtime
    shop_id: int
    variant_ids: tuple[int, int]
    orders: dict[str, StoreOrder] = field(default_factory=dict)
    known_lines: dict[str, list[StoreOrderLine]] = field(default_factory=dict)
    levels: dict[tuple[int, str], StoreInventoryLevel] = field(default_factory=dict)
    sent: list[StoreOrder | StoreInventoryLevel] = field(default_factory=list)
    incoming: list[AddIncoming] = field(default_factory=list)
    ticks: int = 0

    @classmethod
    def open(cls, runtime: Runtime, scenario: Scenario) -> SimulatedStore:
        runtime.clock.set(NOW)  # type: ignore[attr-defined]  # the fixture's FrozenClock
        fixture = make_shop(
            runtime,
            domain=f"p{uuid4().hex[:8]}.myshopify.com",
            stock=dict(zip(SKUS, scenario.stock, strict=True)),
        )
        with runtime.db.transaction() as session:
            shop = session.get_one(Shop, fixture.shop_id)
            shop.expedite_keywords = "express"
            shop.split_shipments = scenario.split_shipments
        variants = (fixture.variants[SKUS[0]], fixture.variants[SKUS[1]])
        store = cls(runtime, fixture.shop_id, variants)
        store.reconcile()  # the first sync: both variants planned from their initial stock
        return store

    def run(self, ops: tuple[Op, ...]) -> None:
        for op in ops:
            self.apply(op)

    # -- sending snapshots ------------------------------------------------------------------

    def tick(self) -> datetime:
        self.ticks += 1
        return UPDATES_FROM + timedelta(seconds=self.ticks)

    def deliver(self, snapshot: StoreOrder | StoreInventoryLevel) -> Any:
        clock = self.runtime.clock

        def command(session: Session) -> Any:
            shop = session.get_one(Shop, self.shop_id)
            if isinstance(snapshot, StoreOrder):
                return ingest_order(session, clock, shop, snapshot)
            return record_level(session, clock, shop, snapshot)

        return execute(self.runtime, command)

    def send(self, snapshot: StoreOrder | StoreInventoryLevel) -> None:
        self.sent.append(snapshot)
        self.deliver(snapshot)

    def send_order(self, order: StoreOrder, lines: list[StoreOrderLine], **changes: Any) -> None:
        updated = replace(order, lines=tuple(lines), updated_at=self.tick(), **changes)
        self.orders[order.external_id] = updated
        self.send(updated)

    # -- the store events -------------------------------------------------------------------

    def pick_order(self, index: int) -> StoreOrder | None:
        if not self.orders:
            return None
        return list(self.orders.values())[index % len(self.orders)]

    def apply(self, op: Op) -> None:
        if isinstance(op, NewOrder):
            self.new_order(op)
        elif isinstance(op, Restock):
            level = StoreInventoryLevel(
                variant_external_id=f"v{op.variant + 1}",
                location_external_id=op.location,
                on_hand=op.on_hand,
                available=op.on_hand,
                updated_at=self.tick(),
            )
            self.levels[(op.variant, op.location)] = level
            self.send(level)
        elif isinstance(op, AddIncoming):
            self.add_incoming(op)
        elif isinstance(op, SetManualEta):
            self.set_manual_eta(op)
        else:
            self.change_order(op)

    def new_order(self, op: NewOrder) -> None:
        external_id = str(op.number)
        if external_id in self.orders:
            return
        lines = [
            StoreOrderLine(
                external_id=f"{external_id}-{n}",
                variant_external_id=f"v{variant + 1}",
                quantity=quantity,
                sku=SKUS[variant],
            )
            for n, (variant, quantity) in enumerate(op.lines, start=1)
        ]
        placed_at = UPDATES_FROM - timedelta(hours=op.placed_hours_ago)
        order = StoreOrder(
            external_id=external_id,
            name=f"#{external_id}",
            placed_at=placed_at,
            updated_at=placed_at,
            shipping_method="Express" if op.express else "Standard",
        )
        self.known_lines[external_id] = list(lines)
        self.send_order(order, lines)

    def change_order(self, op: EditLine | Cancel | Refund | Fulfil) -> None:
        order = self.pick_order(op.order)
        if order is None:
            return
        if isinstance(op, Cancel):
            self.send_order(order, list(order.lines), cancelled_at=self.tick())
            return
        if order.cancelled_at is not None and not isinstance(op, Refund):
            return  # a cancelled order is not edited or shipped any more
        lines = list(order.lines)
        if isinstance(op, EditLine):
            known = self.known_lines[order.external_id]
            target = known[op.line % len(known)]
            current = next((x for x in lines if x.external_id == target.external_id), target)
            lines = [x for x in lines if x.external_id != target.external_id]
            if op.quantity is not None:
                done = current.fulfilled_quantity + current.refunded_quantity
                lines.append(replace(current, quantity=max(op.quantity, done)))
            self.send_order(order, lines)
            return
        if not lines:
            return
        index = op.line % len(lines)
        line = lines[index]
        left = line.quantity - line.fulfilled_quantity - line.refunded_quantity
        amount = min(op.quantity, max(left, 0))
        if isinstance(op, Refund):
            lines[index] = replace(line, refunded_quantity=line.refunded_quantity + amount)
        else:
            lines[index] = replace(line, fulfilled_quantity=line.fulfilled_quantity + amount)
        self.send_order(order, lines)

    def add_incoming(self, op: AddIncoming) -> None:
        self.incoming.append(op)
        clock = self.runtime.clock

        def command(session: Session) -> None:
            variant = session.get_one(Variant, self.variant_ids[op.variant])
            add_incoming(
                session,
                clock,
                variant,
                quantity=op.quantity,
                expected_on=TODAY + timedelta(days=op.days_out),
                reference=op.reference,
            )

        execute(self.runtime, command)

    def set_manual_eta(self, op: SetManualEta) -> None:
        clock = self.runtime.clock

        def command(session: Session) -> None:
            open_ids = session.scalars(
                select(Backorder.id)
                .where(
                    Backorder.variant_id == self.variant_ids[op.variant],
                    Backorder.status.in_(OPEN),
                )
                .order_by(Backorder.id)
            ).all()
            if open_ids:
                backorder_id = open_ids[op.pick % len(open_ids)]
                eta = TODAY + timedelta(days=op.days_out)
                change_backorder(session, clock, self.shop_id, backorder_id, manual_eta=eta)

        execute(self.runtime, command)

    # -- what the test sends again ------------------------------------------------------------

    def stale_snapshots(self) -> Iterator[StoreOrder | StoreInventoryLevel]:
        """Every snapshot older than the latest one of the same order or stock level."""
        for snapshot in self.sent:
            if isinstance(snapshot, StoreOrder):
                latest: Any = self.orders[snapshot.external_id]
            else:
                variant = int(snapshot.variant_external_id[1:]) - 1
                latest = self.levels[(variant, snapshot.location_external_id)]
            if snapshot.updated_at < latest.updated_at:
                yield snapshot

    def reconcile(self) -> list[Any]:
        clock = self.runtime.clock
        return execute(self.runtime, lambda session: reconcile(session, clock, self.variant_ids))

    def read(self, query: Callable[[Session], T]) -> T:
        with self.runtime.db.transaction() as session:
            return query(session)


# -- observations ---------------------------------------------------------------------------


def world(store: SimulatedStore) -> dict[str, Any]:
    """Everything a replay or a stale snapshot must leave alone (bookkeeping times aside)."""

    def query(session: Session) -> dict[str, Any]:
        shop = store.shop_id
        backorders = {
            b.id: (
                b.order_line_id,
                b.variant_id,
                b.quantity,
                b.allocated_quantity,
                b.status,
                b.priority,
                b.eta,
                b.eta_source,
                b.manual_eta,
                b.first_promised_eta,
                b.ready_at,
                b.fulfilled_at,
                b.cancelled_at,
            )
            for b in session.scalars(select(Backorder).where(Backorder.shop_id == shop))
        }
        lines = {
            (line.order_id, line.external_id): (
                line.variant_id,
                line.quantity,
                line.fulfilled_quantity,
                line.refunded_quantity,
                line.priority,
                line.removed_at,
            )
            for line in session.scalars(select(OrderLine).where(OrderLine.shop_id == shop))
        }
        orders = {
            o.external_id: (o.platform_updated_at, o.cancelled_at)
            for o in session.scalars(select(Order).where(Order.shop_id == shop))
        }
        levels = {
            (level.variant_id, level.location_external_id): (
                level.on_hand,
                level.platform_updated_at,
            )
            for level in session.scalars(
                select(InventoryLevel).where(InventoryLevel.shop_id == shop)
            )
        }

        def count(model: Any) -> int:
            return session.scalar(select(func.count()).where(model.shop_id == shop)) or 0

        return {
            "backorders": backorders,
            "lines": lines,
            "orders": orders,
            "levels": levels,
            "in_stock": [session.get_one(Variant, v).in_stock for v in store.variant_ids],
            "events": count(DomainEvent),
            "eta_history": count(EtaChange),
            "incoming": count(IncomingStock),
        }

    return store.read(query)


def check_supply_is_not_overcommitted(session: Session, variant_id: int) -> None:
    """Allocated ≤ supply, from the raw tables: open backorders' allocations plus the lines
    treated as covered by stock never exceed the stock on hand, and no line is counted twice."""
    on_hand = session.scalar(
        select(func.coalesce(func.sum(InventoryLevel.on_hand), 0)).where(
            InventoryLevel.variant_id == variant_id
        )
    )
    rows = session.scalars(select(Backorder).where(Backorder.variant_id == variant_id)).all()
    assert len({b.order_line_id for b in rows}) == len(rows), "two backorders for one line"
    backorders = {b.order_line_id: b for b in rows}
    lines = session.execute(
        select(OrderLine, Order.cancelled_at)
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.variant_id == variant_id)
    ).all()
    allocated = unbackordered = covered = waiting = 0
    for line, cancelled_at in lines:
        need = line.quantity - line.fulfilled_quantity - line.refunded_quantity
        backorder = backorders.get(line.id)
        is_open = backorder is not None and backorder.status in OPEN
        if line.removed_at is not None or cancelled_at is not None or need <= 0:
            assert not is_open, f"open backorder on closed line {line.external_id}"
            continue
        if backorder is not None and is_open:
            assert 0 <= backorder.allocated_quantity <= backorder.quantity <= need
            short = backorder.quantity - backorder.allocated_quantity
            allocated += backorder.allocated_quantity
            covered += need - short
            waiting += short
        else:
            unbackordered += need
            covered += need
    supply = max(on_hand or 0, 0)
    assert allocated + unbackordered <= supply
    assert covered <= supply
    if waiting:
        assert covered == supply, "stock sits idle while a line waits"


def check_matches_a_fresh_plan(session: Session, store: SimulatedStore, variant_id: int) -> None:
    """The rows equal what planning the current facts from scratch gives: every short line has
    an open backorder short by exactly that much, with the walked ETA; every other open
    backorder is ready; no closed line has an open backorder."""
    variant = session.get_one(Variant, variant_id)
    shop = session.get_one(Shop, variant.shop_id)
    facts = load_facts(session, variant, shop)
    fresh = plan(
        replace(facts, lines=[replace(line, state=None) for line in facts.lines]),
        shop_today(store.runtime.clock, shop.timezone),
    )
    open_lines = {line.demand.line_id for line in facts.lines if line.demand.need > 0}
    rows = {
        b.order_line_id: b
        for b in session.scalars(select(Backorder).where(Backorder.variant_id == variant_id))
    }
    for line_id, row in rows.items():
        if row.status in OPEN:
            assert line_id in open_lines
    for line_id in open_lines:
        row = rows.get(line_id)
        short = fresh.states.get(line_id)
        if short is None:  # covered by stock on hand
            if row is not None and row.status in OPEN:
                assert row.status == READY and row.allocated_quantity == row.quantity
            continue
        assert row is not None and row.status in (WAITING, ALLOCATED), (line_id, row)
        assert row.quantity - row.allocated_quantity == short.quantity
        assert (row.eta, row.eta_source) == (short.eta, short.eta_source)
        split = shop.split_shipments and row.allocated_quantity > 0
        assert row.status == (ALLOCATED if split else WAITING)
    assert variant.in_stock == fresh.in_stock


@settings(THROUGH_DB, max_examples=40)
@given(scenario=scenarios())
def test_store_event_sequences_keep_backorders_consistent(
    runtime: Runtime, scenario: Scenario
) -> None:
    """After any sequence of orders, edits, cancellations, refunds, fulfilments, stock levels
    and incoming stock on one or two variants: stock is never overcommitted, the backorders
    equal a fresh plan of the facts, and stale snapshots, a replay of every snapshot and an
    extra reconciliation change nothing and record no event. (Incoming stock is a merchant's
    command, not a platform snapshot, so the replay sends the snapshots only.)"""
    store = SimulatedStore.open(runtime, scenario)
    store.run(scenario.ops)

    def check(session: Session) -> None:
        for variant_id in store.variant_ids:
            check_supply_is_not_overcommitted(session, variant_id)
            check_matches_a_fresh_plan(session, store, variant_id)

    store.read(check)
    settled = world(store)

    for snapshot in store.stale_snapshots():
        result = store.deliver(snapshot)
        if isinstance(snapshot, StoreOrder):
            assert result.stale
        assert world(store) == settled, f"stale snapshot changed something: {snapshot}"

    for snapshot in list(store.sent):
        store.deliver(snapshot)
    assert world(store) == settled, "replaying the snapshots changed something"

    assert store.reconcile() == []
    assert world(store) == settled, "reconciling again changed something"


def unnamed(source: str | None) -> str | None:
    """Incoming stock without a reference is named by its row id, which differs per shop."""
    prefix, _, name = (source or "").partition(":")
    return f"{prefix}:(no reference)" if prefix == "incoming" and name.isdigit() else source


def waiting_lines(store: SimulatedStore) -> dict[tuple[str, str], tuple[int, Any, Any]]:
    """What a customer is told about each line still short: how many units, by when, why."""

    def query(session: Session) -> dict[tuple[str, str], tuple[int, Any, Any]]:
        rows = session.execute(
            select(Order.external_id, OrderLine.external_id, Backorder)
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Backorder.shop_id == store.shop_id, Backorder.status.in_((WAITING, ALLOCATED)))
        ).all()
        return {
            (order, line): (b.quantity - b.allocated_quantity, b.eta, unnamed(b.eta_source))
            for order, line, b in rows
        }

    return store.read(query)


@settings(THROUGH_DB, max_examples=25)
@given(scenario=scenarios(), data=st.data())
def test_the_order_snapshots_arrive_in_does_not_matter(
    runtime: Runtime, scenario: Scenario, data: st.DataObject
) -> None:
    """Order-independent: a second shop that gets only the latest snapshot of every order and
    stock level, and the same incoming stock, all in a random order (a stock level before the
    order that changed it), ends with the same lines short by the same units, promised the
    same dates."""
    first = SimulatedStore.open(runtime, scenario)
    first.run(scenario.ops)
    arrivals: list[StoreOrder | StoreInventoryLevel | AddIncoming] = [
        *first.orders.values(),
        *first.levels.values(),
        *first.incoming,
    ]
    second = SimulatedStore.open(runtime, replace(scenario, ops=()))
    for arrival in data.draw(st.permutations(arrivals)):
        if isinstance(arrival, AddIncoming):
            second.add_incoming(arrival)
        else:
            second.deliver(arrival)
    assert waiting_lines(second) == waiting_lines(first)


@THROUGH_DB
@given(scenario=scenarios())
# An expedited backorder: its tier must round-trip through the row, or every reconcile
# re-plans it and rewrites the row.
@example(
    scenario=Scenario(
        stock=(0, 0), split_shipments=False, ops=(NewOrder(1001, ((0, 1),), express=True),)
    )
)
def test_stored_backorders_are_a_fixed_point_of_the_plan(
    runtime: Runtime, scenario: Scenario
) -> None:
    """The engine's idempotence, through the database: once reconciled, planning the stored
    facts again plans no change, and a later reconcile with nothing new writes nothing."""
    store = SimulatedStore.open(runtime, scenario)
    store.run(scenario.ops)

    def stamps(session: Session) -> dict[int, datetime]:
        query = select(Backorder).where(Backorder.shop_id == store.shop_id)
        return {b.id: b.updated_at for b in session.scalars(query)}

    before = store.read(stamps)
    runtime.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    assert store.reconcile() == []
    assert store.read(stamps) == before, "a reconcile with nothing new rewrote backorders"

    def replan(session: Session) -> None:
        for variant_id in store.variant_ids:
            variant = session.get_one(Variant, variant_id)
            shop = session.get_one(Shop, variant.shop_id)
            again = plan(
                load_facts(session, variant, shop), shop_today(runtime.clock, shop.timezone)
            )
            assert again.states == {}
            assert again.events == []

    store.read(replan)


@THROUGH_DB
@given(scenario=scenarios(merchant=True))
@example(
    scenario=Scenario(
        stock=(0, 0),
        split_shipments=False,
        ops=(
            NewOrder(1001, ((0, 2),)),
            SetManualEta(variant=0, pick=0, days_out=60),
            EditLine(order=0, line=0, quantity=0),  # the line leaves the queue...
            EditLine(order=0, line=0, quantity=2),  # ...and comes back
        ),
    )
)
def test_reconciling_after_merchant_etas_changes_nothing(
    runtime: Runtime, scenario: Scenario
) -> None:
    """With merchants' manual ETAs in the mix too, a reconcile with nothing new changes no
    backorder and records no event."""
    store = SimulatedStore.open(runtime, scenario)
    store.run(scenario.ops)
    settled = world(store)
    assert store.reconcile() == []
    assert world(store) == settled
