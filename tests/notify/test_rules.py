"""The pure rules: which message an engine event calls for, judged against what was told."""

from __future__ import annotations

from datetime import date

from adapters.links import product_url
from connector.domain.notify import (
    Kind,
    Told,
    channel_for,
    dedupe_key,
    for_event,
    late_due,
    source_kind,
    still_true,
)

TODAY = date(2026, 11, 26)
TOLD = Told(date(2026, 12, 10), version=7)


def _change(new: date, *, today: date = TODAY, told: Told = TOLD) -> str | None:
    return for_event("EtaChanged", told, new, today=today, threshold_days=2)


def test_a_new_backorder_is_placed_and_a_ready_line_is_ready() -> None:
    assert (
        for_event("BackorderCreated", Told(None, 0), TOLD.eta, today=TODAY, threshold_days=2)
        == "placed"
    )
    assert for_event("BackorderReady", TOLD, None, today=TODAY, threshold_days=2) == "ready"


def test_a_line_that_waited_too_long_gets_expedited_not_ready() -> None:
    assert (
        for_event("BackorderReady", TOLD, None, today=TODAY, threshold_days=2, expedited=True)
        == "expedited"
    )


def test_later_is_always_said_and_earlier_only_beyond_the_threshold() -> None:
    assert _change(date(2026, 12, 11)) == Kind.ETA_LATER
    assert _change(date(2026, 12, 8)) is None  # two days earlier: the threshold itself
    assert _change(date(2026, 12, 7)) == Kind.ETA_EARLIER
    assert _change(TOLD.eta) is None  # type: ignore[arg-type]


def test_later_after_the_told_date_passed_is_an_apology() -> None:
    assert _change(date(2026, 12, 20), today=date(2026, 12, 11)) == Kind.LATE
    assert _change(date(2026, 12, 20), today=date(2026, 12, 10)) == Kind.ETA_LATER


def test_nothing_told_means_no_change_to_report() -> None:
    assert _change(date(2026, 12, 20), told=Told(None, 0)) is None


def test_late_is_due_once_the_told_date_passed_and_a_new_date_exists() -> None:
    assert late_due(TOLD.eta, date(2026, 12, 20), today=date(2026, 12, 11))
    assert not late_due(TOLD.eta, date(2026, 12, 20), today=date(2026, 12, 10))
    assert not late_due(TOLD.eta, date(2026, 12, 10), today=date(2026, 12, 11))  # not re-planned
    assert not late_due(None, date(2026, 12, 20), today=date(2026, 12, 11))


def test_keys_name_the_kind_the_line_and_the_eta_version() -> None:
    assert dedupe_key("placed", 5) == "placed:5"
    assert dedupe_key("eta_later", 5, TOLD) == "eta_later:5:7:2026-12-10"
    assert dedupe_key("eta_later", 5, Told(TOLD.eta, 9)) != dedupe_key("eta_later", 5, TOLD)
    # the hourly check and an ETA change finding the same lapse make one message
    assert dedupe_key("late", 5, TOLD) == dedupe_key("late", 5, Told(TOLD.eta, 3))


def test_a_change_undone_before_sending_is_not_sent() -> None:
    common = {"status": "waiting", "today": TODAY, "threshold_days": 2}
    assert still_true("eta_later", told_eta=TOLD.eta, current_eta=TOLD.eta, **common)
    assert (
        still_true("eta_later", told_eta=TOLD.eta, current_eta=date(2026, 12, 12), **common) is None
    )
    assert still_true("eta_earlier", told_eta=TOLD.eta, current_eta=date(2026, 12, 9), **common)
    assert still_true(
        "placed", told_eta=None, current_eta=TOLD.eta, **{**common, "status": "cancelled"}
    )
    assert still_true("ready", told_eta=None, current_eta=None, **{**common, "status": "waiting"})
    assert (
        still_true("ready", told_eta=None, current_eta=None, **{**common, "status": "ready"})
        is None
    )


def test_channels_default_to_email_and_unknown_values_are_ignored() -> None:
    assert channel_for("ready", {}) == "email"
    assert channel_for("ready", {"ready": "platform"}) == "platform"
    assert channel_for("ready", {"ready": "carrier pigeon"}) == "email"


def test_sources_and_links() -> None:
    assert source_kind("incoming:PO-77") == ("incoming", "PO-77")
    assert source_kind("lead_time") == ("lead_time", None)
    assert product_url("shopify", "a.myshopify.com", "trail shoe", "42") == (
        "https://a.myshopify.com/products/trail%20shoe?variant=42"
    )
    assert product_url("woocommerce", "http://shop.test/", "kettle", "7") == (
        "http://shop.test/?product=kettle"
    )
    assert product_url("shopify", "a.myshopify.com", "", "42") is None
