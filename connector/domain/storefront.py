"""What the store should say about a backordered order and a variant: pure, JSON-ready.

The store write of a kind compares the value it computes now with the value the last successful
write sent, so these functions must be deterministic: the same facts give the same dict, key for
key, and nothing in it depends on when it is computed (no clock reads, no timestamps of "now").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

BACKORDERED_TAG = "backordered"
EXPEDITE_TAG = "expedite"
WAITING = ("waiting", "allocated")  # still short: the line waits for stock
IN_STOCK = "in_stock"  # a line the stock covered: it never had a backorder
ALTERNATIVES_SHOWN = 3


@dataclass(frozen=True, slots=True)
class LineBackorder:
    status: str  # waiting, allocated, ready, fulfilled, cancelled
    quantity: int  # the short quantity
    allocated: int
    eta: date | None
    eta_source: str | None
    placed_at: datetime
    ready_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderLineFacts:
    external_id: str
    sku: str
    backorder: LineBackorder | None = None


@dataclass(frozen=True, slots=True)
class QueuedLine:
    """A waiting line of a variant's queue, with the keys the queue is sorted by."""

    priority: int
    placed_at: datetime
    order_sort_key: str
    quantity: int
    allocated: int
    eta: date | None
    eta_source: str | None


def waited_too_long(placed_at: datetime, ready_at: datetime | None, after_days: int) -> bool:
    """A line that waited more than the shop's threshold before it became ready is expedited."""
    return ready_at is not None and ready_at - placed_at > timedelta(days=after_days)


def _line_state(line: OrderLineFacts, expedite_after_days: int) -> dict[str, Any]:
    b = line.backorder
    if b is None:
        return {
            "line": line.external_id,
            "sku": line.sku,
            "state": IN_STOCK,
            "short": 0,
            "allocated": 0,
            "eta": None,
            "eta_source": None,
            "expedite": False,
        }
    return {
        "line": line.external_id,
        "sku": line.sku,
        "state": b.status,
        "short": b.quantity,
        "allocated": b.allocated,
        "eta": b.eta.isoformat() if b.eta and b.status in WAITING else None,
        "eta_source": b.eta_source if b.status in WAITING else None,
        "expedite": b.status in ("ready", "fulfilled")
        and waited_too_long(b.placed_at, b.ready_at, expedite_after_days),
    }


def order_state(lines: Sequence[OrderLineFacts], *, expedite_after_days: int) -> dict[str, Any]:
    """The order as the store should show it: tags, per-line state, lines to hold, expedite.

    `backordered` while any line waits; the hold covers exactly the lines still waiting (none
    once nothing waits, so a restock releases it); `expedite` once a line that waited longer
    than the shop's threshold is ready (it stays through fulfilment: the tag is history too).
    """
    states = [_line_state(line, expedite_after_days) for line in lines]
    waiting = [s["line"] for s in states if s["state"] in WAITING]
    expedite = any(s["expedite"] for s in states)
    tags = ([BACKORDERED_TAG] if waiting else []) + ([EXPEDITE_TAG] if expedite else [])
    return {
        "tags": tags,
        "hold": sorted(waiting),
        "data": {"backordered": bool(waiting), "expedite": expedite, "lines": states},
    }


def _queue_key(line: QueuedLine) -> tuple[int, datetime, str]:
    return (-line.priority, line.placed_at, line.order_sort_key)


def variant_state(
    queue: Sequence[QueuedLine], alternatives: Sequence[str], *, shown: int = ALTERNATIVES_SHOWN
) -> dict[str, Any]:
    """A variant as the product page should show it: the ETA a waiting customer has now.

    The ETA is the last waiting line's (the latest promise in the queue), null when no one
    waits; `alternatives` are variant external ids, best first, of which `shown` are kept.
    """
    ordered = sorted(queue, key=_queue_key)
    last = ordered[-1] if ordered else None
    return {
        "eta": last.eta.isoformat() if last and last.eta else None,
        "eta_source": last.eta_source if last else None,
        "waiting_lines": len(ordered),
        "waiting_units": sum(max(0, q.quantity - q.allocated) for q in ordered),
        "alternatives": list(dict.fromkeys(alternatives))[:shown],
    }


def _by_line(state: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if not state:
        return {}
    return {line["line"]: line for line in state["data"]["lines"]}


def _name(line: dict[str, Any]) -> str:
    return line["sku"] or f"line {line['line']}"


def _eta_words(line: dict[str, Any]) -> str:
    if line["eta"] is None:
        return "no date yet"
    source = line["eta_source"] or "estimate"
    return f"expected {line['eta']} ({source.replace('_', ' ')})"


def describe_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """What changed between two order states, in plain words for the merchant's order notes."""
    old, new = _by_line(before), _by_line(after)
    said: list[str] = []
    for key, line in new.items():
        was = old.get(key)
        name, state = _name(line), line["state"]
        was_state = was["state"] if was else IN_STOCK
        if state in WAITING and was_state not in WAITING:
            said.append(f"{name}: {line['short']} short, backordered, {_eta_words(line)}.")
        elif state in WAITING and was is not None and was["eta"] != line["eta"]:
            said.append(f"{name}: new date, {_eta_words(line)} (was {was['eta'] or 'none'}).")
        elif state == "ready" and was_state != "ready":
            said.append(f"{name}: stock arrived, ready to ship.")
        elif state == "cancelled" and was_state != "cancelled":
            said.append(f"{name}: backorder cancelled.")
        if line["expedite"] and not (was and was["expedite"]):
            said.append(f"{name}: waited longer than the shop's limit, ship expedited.")
    was_held = set(before["hold"]) if before else set()
    if was_held and not after["hold"]:
        said.append("Hold released: every backordered line is ready.")
    elif set(after["hold"]) != was_held and after["hold"]:
        said.append(f"Held lines: {', '.join(after['hold'])}.")
    return said
