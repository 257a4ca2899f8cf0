"""The backorder rules as a specification, on the pure domain (no database, no clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from connector.domain.allocation import BackorderState, Line, VariantFacts, plan
from connector.domain.eta import EtaPolicy, Incoming, lead_time_date, walk
from connector.domain.events import (
    BackorderCancelled,
    BackorderCreated,
    BackorderFulfilled,
    BackorderReady,
    EtaChanged,
    VariantBackInStock,
    VariantOutOfStock,
)
from connector.domain.queue import Demand, cover, in_queue_order, order_key

TODAY = date(2026, 11, 26)
NOON = datetime(2026, 11, 26, 12, tzinfo=UTC)
POLICY = EtaPolicy(lead_time_days=14, handling_days=1, grace_days=3)


def line(
    line_id: int,
    need: int,
    *,
    hours_ago: int = 0,
    priority: int = 0,
    state: BackorderState | None = None,
    closed: str | None = None,
) -> Line:
    placed = NOON - timedelta(hours=hours_ago)
    return Line(
        demand=Demand(
            line_id=line_id,
            need=need,
            priority=priority,
            placed_at=placed,
            order_key=order_key(str(1000 + line_id)),
        ),
        placed_on=placed.date(),
        state=state,
        closed_because=closed,
    )


def facts(
    on_hand: int,
    lines: list[Line],
    incoming: list[Incoming] | None = None,
    split: bool = False,
    was_in_stock: bool | None = None,
) -> VariantFacts:
    return VariantFacts(
        variant_id=7,
        on_hand=on_hand,
        lines=lines,
        incoming=incoming or [],
        policy=POLICY,
        split_shipments=split,
        was_in_stock=was_in_stock,
    )


def waiting(
    quantity: int,
    eta: date,
    source: str = "lead_time",
    backorder_id: int = 1,
    manual: date | None = None,
) -> BackorderState:
    return BackorderState(
        quantity=quantity,
        allocated=0,
        status="waiting",
        eta=eta,
        eta_source=source,
        manual_eta=manual,
        backorder_id=backorder_id,
    )


# ---- the queue -----------------------------------------------------------------------------


def test_queue_is_priority_then_order_time_then_order_id() -> None:
    same_time = NOON - timedelta(hours=1)
    demands = [
        Demand(1, 1, 0, same_time, order_key("1002")),
        Demand(2, 1, 0, same_time, order_key("999")),  # numerically smaller id: first
        Demand(3, 1, 0, NOON - timedelta(hours=5), order_key("1003")),
        Demand(4, 1, 1, NOON, order_key("1004")),  # the priority tier goes first
    ]
    assert [d.line_id for d in in_queue_order(demands)] == [4, 3, 2, 1]


def test_on_hand_covers_the_head_of_the_queue() -> None:
    queue = [Demand(i, need, 0, NOON, str(i)) for i, need in enumerate([2, 3, 1], start=1)]
    assert cover(4, queue) == [2, 2, 0]
    assert cover(-3, queue) == [0, 0, 0]  # oversold stock covers nothing


# ---- detect --------------------------------------------------------------------------------


def test_a_line_is_short_by_what_stock_cannot_cover() -> None:
    result = plan(facts(3, [line(1, 2, hours_ago=5), line(2, 4, hours_ago=1)]), TODAY)
    assert set(result.states) == {2}  # line 1 is in stock: nothing to track
    state = result.states[2]
    assert (state.quantity, state.allocated, state.status) == (3, 0, "waiting")
    created = [e for e in result.events if isinstance(e, BackorderCreated)]
    assert [(e.line_id, e.quantity) for e in created] == [(2, 3)]


def test_replanning_the_result_changes_nothing() -> None:
    first = plan(facts(1, [line(1, 2)]), TODAY)
    again = plan(facts(1, [line(1, 2, state=first.states[1])]), TODAY)
    assert again.states == {} and again.events == []


# ---- ETA walk ------------------------------------------------------------------------------


def test_eta_walks_on_hand_then_incoming_by_date_then_lead_time() -> None:
    incoming = [
        Incoming(2, date(2026, 12, 20), "PO-LATER", 2),
        Incoming(1, date(2026, 12, 5), "PO-SOON", 1),
    ]
    lines = [line(i, 1, hours_ago=10 - i) for i in range(1, 6)]
    result = plan(facts(1, lines, incoming), TODAY)
    promised = {i: (s.eta, s.eta_source) for i, s in result.states.items()}
    assert promised == {
        2: (date(2026, 12, 6), "incoming:PO-SOON"),
        3: (date(2026, 12, 21), "incoming:PO-LATER"),
        4: (date(2026, 12, 21), "incoming:PO-LATER"),
        5: (date(2026, 12, 21), "lead_time"),  # lead time (Dec 10) never before the PO it follows
    }


def test_lead_time_is_the_variants_else_the_shops_and_adds_handling() -> None:
    quick = EtaPolicy(lead_time_days=5, handling_days=2, grace_days=3)
    (promise,) = walk([1], [TODAY], [], TODAY, quick)
    assert (promise.eta, promise.source) == (date(2026, 12, 3), "lead_time")


def test_lead_time_promise_is_anchored_on_the_order_date_and_moves_by_whole_cycles() -> None:
    placed = date(2026, 11, 1)
    assert lead_time_date(placed, date(2026, 11, 10), 14) == date(2026, 11, 15)
    assert lead_time_date(placed, date(2026, 11, 15), 14) == date(2026, 11, 15)
    assert lead_time_date(placed, date(2026, 11, 16), 14) == date(2026, 11, 29)
    assert lead_time_date(placed, date(2026, 11, 20), 14) == date(2026, 11, 29)


def test_late_incoming_counts_for_the_grace_days_then_stops() -> None:
    late = [Incoming(5, date(2026, 11, 22), "PO-LATE", 1)]
    lines = [line(1, 1, hours_ago=1)]
    within = plan(facts(0, lines, late), date(2026, 11, 25))
    assert within.states[1].eta_source == "incoming:PO-LATE"
    assert within.states[1].eta == date(2026, 11, 23)  # the promise stands; it is late
    after = plan(
        facts(0, [line(1, 1, hours_ago=1, state=within.states[1])], late), date(2026, 11, 26)
    )
    assert after.states[1].eta_source == "lead_time"
    (change,) = [e for e in after.events if isinstance(e, EtaChanged)]
    assert change.old_source == "incoming:PO-LATE" and change.new_eta > change.old_eta


def test_manual_eta_wins_until_stock_covers_earlier() -> None:
    manual = waiting(1, date(2026, 12, 31), manual=date(2026, 12, 31))
    beats_lead_time = plan(facts(0, [line(1, 1, state=manual)]), TODAY)
    state = beats_lead_time.states[1]
    assert (state.eta, state.eta_source) == (date(2026, 12, 31), "manual")
    early_stock = [Incoming(1, date(2026, 12, 2), "PO-1", 1)]
    covered = plan(facts(0, [line(1, 1, state=state)], early_stock), TODAY)
    assert (covered.states[1].eta, covered.states[1].eta_source) == (
        date(2026, 12, 3),
        "incoming:PO-1",
    )
    assert covered.states[1].manual_eta == date(2026, 12, 31)  # kept, in case stock slips
    later_stock = [Incoming(1, date(2027, 1, 20), "PO-2", 1)]
    still_manual = plan(facts(0, [line(1, 1, state=state)], later_stock), TODAY)
    assert still_manual.states.get(1, state).eta_source == "manual"


# ---- allocate ------------------------------------------------------------------------------


def test_restock_serves_the_queue_in_order_and_raises_ready() -> None:
    eta = date(2026, 12, 11)
    lines = [
        line(1, 2, hours_ago=3, state=waiting(2, eta, backorder_id=11)),
        line(2, 1, hours_ago=2, state=waiting(1, eta, backorder_id=12)),
        line(3, 1, hours_ago=1, state=waiting(1, eta, backorder_id=13)),
    ]
    result = plan(facts(3, lines), TODAY)
    assert {i: s.status for i, s in result.states.items()} == {1: "ready", 2: "ready"}
    ready = [e for e in result.events if isinstance(e, BackorderReady)]
    assert [(e.backorder_id, e.quantity) for e in ready] == [(11, 2), (12, 1)]
    assert result.states[1].eta == TODAY + timedelta(days=1)
    assert result.states[1].eta_source == "in_stock"


def test_partial_cover_is_allocated_only_where_split_shipments_are_allowed() -> None:
    eta = date(2026, 12, 11)
    state = waiting(3, eta)
    no_split = plan(facts(2, [line(1, 3, state=state)]), TODAY)
    assert (no_split.states[1].status, no_split.states[1].allocated) == ("waiting", 2)
    split = plan(facts(2, [line(1, 3, state=state)], split=True), TODAY)
    assert (split.states[1].status, split.states[1].allocated) == ("allocated", 2)


def test_cancellation_returns_its_allocation_and_later_lines_move_up() -> None:
    eta = date(2026, 12, 11)
    first = waiting(1, eta, backorder_id=21)
    second = waiting(1, eta, backorder_id=22)
    result = plan(
        facts(
            1,
            [
                line(1, 0, hours_ago=2, state=first, closed="cancelled"),
                line(2, 1, hours_ago=1, state=second),
            ],
        ),
        TODAY,
    )
    assert result.states[1].status == "cancelled"
    assert result.states[2].status == "ready"
    kinds = {type(e) for e in result.events}
    assert {BackorderCancelled, BackorderReady} <= kinds


def test_refund_cancels_and_fulfilment_fulfils() -> None:
    ready = BackorderState(1, 1, "ready", TODAY, "in_stock", backorder_id=31)
    refunded = plan(facts(0, [line(1, 0, state=waiting(1, TODAY), closed="refunded")]), TODAY)
    (cancel,) = refunded.events
    assert isinstance(cancel, BackorderCancelled) and cancel.reason == "refunded"
    shipped = plan(facts(0, [line(1, 0, state=ready, closed="fulfilled")]), TODAY)
    assert shipped.states[1].status == "fulfilled"
    assert isinstance(shipped.events[0], BackorderFulfilled)


def test_an_order_edit_shrinks_the_backordered_quantity() -> None:
    state = waiting(3, date(2026, 12, 11))
    result = plan(facts(0, [line(1, 1, state=state)]), TODAY)
    assert result.states[1].quantity == 1


def test_ready_lines_keep_their_date_from_day_to_day() -> None:
    ready = BackorderState(1, 1, "ready", date(2026, 11, 27), "in_stock", backorder_id=1)
    tomorrow = plan(facts(5, [line(1, 1, state=ready)]), TODAY + timedelta(days=1))
    assert tomorrow.states == {} and tomorrow.events == []


def test_stock_events_fire_on_the_transition_only() -> None:
    out = plan(facts(1, [line(1, 1)], was_in_stock=True), TODAY)
    assert [type(e) for e in out.events] == [VariantOutOfStock]
    assert out.in_stock is False
    back = plan(facts(5, [line(1, 1)], was_in_stock=False), TODAY)
    assert [type(e) for e in back.events] == [VariantBackInStock]
    unknown = plan(facts(5, [line(1, 1)], was_in_stock=None), TODAY)
    assert unknown.events == [] and unknown.in_stock is True
