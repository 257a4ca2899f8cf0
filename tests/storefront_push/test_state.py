"""The pure storefront state: what an order and a variant should say, and the note's words."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from connector.domain.storefront import (
    LineBackorder,
    OrderLineFacts,
    QueuedLine,
    describe_changes,
    order_state,
    variant_state,
)

PLACED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ETA = date(2026, 12, 10)


def _bo(status: str, *, ready_after_days: float | None = None, allocated: int = 0) -> LineBackorder:
    ready = PLACED + timedelta(days=ready_after_days) if ready_after_days is not None else None
    return LineBackorder(status, 2, allocated, ETA, "lead_time", PLACED, ready)


def _order(*backorders: LineBackorder | None, after_days: int = 21) -> dict:
    lines = [OrderLineFacts(f"L{n}", f"SKU-{n}", b) for n, b in enumerate(backorders, start=1)]
    return order_state(lines, expedite_after_days=after_days)


def test_waiting_lines_tag_the_order_and_are_the_only_ones_held() -> None:
    state = _order(
        None, _bo("waiting"), _bo("allocated", allocated=1), _bo("ready", ready_after_days=1)
    )
    assert state["tags"] == ["backordered"]
    assert state["hold"] == ["L2", "L3"]
    lines = state["data"]["lines"]
    assert [(x["line"], x["state"], x["short"], x["allocated"]) for x in lines] == [
        ("L1", "in_stock", 0, 0),
        ("L2", "waiting", 2, 0),
        ("L3", "allocated", 2, 1),
        ("L4", "ready", 2, 0),
    ]
    assert (lines[1]["eta"], lines[1]["eta_source"]) == ("2026-12-10", "lead_time")
    assert lines[3]["eta"] is None  # a ready line no longer waits for a date
    json.dumps(state)  # JSON-ready as it is


def test_nothing_waiting_means_no_tag_and_no_hold() -> None:
    state = _order(None, _bo("ready", ready_after_days=3), _bo("cancelled"))
    assert (state["tags"], state["hold"], state["data"]["backordered"]) == ([], [], False)


def test_a_line_ready_after_waiting_longer_than_the_threshold_is_expedited() -> None:
    assert _order(_bo("ready", ready_after_days=21.5))["tags"] == ["expedite"]
    assert _order(_bo("ready", ready_after_days=21))["tags"] == []  # exactly the limit: not over
    assert _order(_bo("fulfilled", ready_after_days=30))["data"]["expedite"] is True
    assert _order(_bo("waiting"), _bo("ready", ready_after_days=30))["tags"] == [
        "backordered",
        "expedite",
    ]
    assert _order(_bo("ready", ready_after_days=5), after_days=3)["tags"] == ["expedite"]


def test_the_same_facts_give_the_same_state() -> None:
    facts = (None, _bo("waiting"))
    assert _order(*facts) == _order(*facts)


def _queued(priority: int, day: int, key: str, eta: date | None, qty: int = 1) -> QueuedLine:
    return QueuedLine(priority, PLACED + timedelta(days=day), key, qty, 0, eta, "incoming:PO-1")


def test_a_variant_shows_the_last_waiting_lines_eta_and_the_queue_depth() -> None:
    queue = [
        _queued(0, 2, "0002", date(2026, 12, 20), qty=3),
        _queued(1, 5, "0005", date(2026, 12, 1)),  # higher tier: first in line
        _queued(0, 1, "0001", date(2026, 12, 12), qty=2),
    ]
    state = variant_state(queue, ["v9", "v8", "v9", "v7", "v6"])
    assert state == {
        "eta": "2026-12-20",
        "eta_source": "incoming:PO-1",
        "waiting_lines": 3,
        "waiting_units": 6,
        "alternatives": ["v9", "v8", "v7"],
    }


def test_a_variant_nobody_waits_for_has_no_eta() -> None:
    assert variant_state([], []) == {
        "eta": None,
        "eta_source": None,
        "waiting_lines": 0,
        "waiting_units": 0,
        "alternatives": [],
    }


def test_the_note_says_what_changed_in_plain_words() -> None:
    waiting = _order(None, _bo("waiting"))
    said = describe_changes(None, waiting)
    assert said == [
        "SKU-2: 2 short, backordered, expected 2026-12-10 (lead time).",
        "Held lines: L2.",
    ]
    later = order_state(
        [
            OrderLineFacts("L1", "SKU-1"),
            OrderLineFacts(
                "L2", "SKU-2", LineBackorder("waiting", 2, 0, date(2026, 12, 18), "manual", PLACED)
            ),
        ],
        expedite_after_days=21,
    )
    assert describe_changes(waiting, later) == [
        "SKU-2: new date, expected 2026-12-18 (manual) (was 2026-12-10)."
    ]
    ready = _order(None, _bo("ready", ready_after_days=30))
    assert describe_changes(later, ready) == [
        "SKU-2: stock arrived, ready to ship.",
        "SKU-2: waited longer than the shop's limit, ship expedited.",
        "Hold released: every backordered line is ready.",
    ]
    assert describe_changes(ready, ready) == []
