"""The selling-on-backorder rule as a table: what the shop allows, what the quote says → policy."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from connector.domain.selling import Decision, NextUnit, SellingRules, decide

TODAY = date(2026, 11, 26)
ON = SellingRules(enabled=True)  # 30-day promise, cap = incoming quantity


def unit(
    days: int | None,
    source: str | None = "incoming:PO-1",
    *,
    waiting: int = 0,
    incoming: int = 10,
    available: int = 0,
) -> NextUnit:
    eta = None if days is None else TODAY + timedelta(days=days)
    return NextUnit(eta, source, available=available, waiting=waiting, incoming=incoming)


@pytest.mark.parametrize(
    ("rules", "next_unit", "policy", "words"),
    [
        # incoming stock within the window, queue under the incoming quantity
        (ON, unit(10, waiting=3), "continue", "more by 2026-12-06 (incoming stock PO-1)"),
        (ON, unit(30, waiting=9), "continue", "9 of 10 units waiting"),
        # outside the promise window
        (ON, unit(31), "deny", "31 days away, beyond the 30-day maximum promise"),
        (SellingRules(True, max_promise_days=7), unit(10), "deny", "beyond the 7-day"),
        # the cap: the incoming quantity, or the shop's own limit
        (ON, unit(10, waiting=10), "deny", "10 units already wait, the cap is 10"),
        (SellingRules(True, cap=4), unit(10, waiting=4), "deny", "cap is 4 (the shop's limit)"),
        (SellingRules(True, cap=40), unit(10, waiting=12), "continue", "12 of 40"),
        # only the lead time gives a date: no cap unless the shop set one
        (ON, unit(15, "lead_time", waiting=500, incoming=0), "continue", "no cap"),
        (SellingRules(True, cap=5), unit(15, "lead_time", waiting=5, incoming=0), "deny", "cap"),
        (ON, unit(45, "lead_time", incoming=0), "deny", "supplier lead time) is 45 days"),
        # incoming stock all spoken for, the lead time beyond it: capped at the incoming quantity
        (ON, unit(15, "lead_time", waiting=10, incoming=10), "deny", "the incoming quantity"),
        # no date at all
        (ON, unit(None, None, incoming=0), "deny", "no incoming stock or lead time"),
        # in stock: the unit beyond stock is judged, so the switch is ready when stock runs out
        (ON, unit(12, available=4), "continue", "4 in stock; more by"),
        (ON, unit(40, available=4), "deny", "4 in stock; the next date"),
        # the app keeps out
        (SellingRules(False), unit(10), None, "off for this shop"),
    ],
)
def test_decision_table(
    rules: SellingRules, next_unit: NextUnit, policy: str | None, words: str
) -> None:
    got = decide(rules, next_unit, TODAY)
    assert got.policy == policy
    assert words in got.reason


def test_the_window_edge_is_inclusive() -> None:
    assert decide(ON, unit(30), TODAY).policy == "continue"
    assert decide(ON, unit(31), TODAY).policy == "deny"


def test_untracked_and_overridden_variants_are_left_alone() -> None:
    assert decide(ON, unit(10), TODAY, tracked=False) == Decision(
        None, "the store does not count this variant's stock"
    )
    assert decide(ON, unit(10), TODAY, overridden=True).policy is None
