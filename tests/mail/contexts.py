"""Full contexts for every built-in kind, as connector/services/notify.py builds them: the tests
render each kind with every field set, so a built-in template naming a field that does not exist
fails under `strict=True`."""

from __future__ import annotations

from datetime import date
from typing import Any

SHOP = {
    "name": "Kaffeerösterei Nord",
    "brand_color": "#8a3b12",
    "logo_url": "https://cdn.example.com/logo.png",
    "support_email": "support@roesterei.example",
}
ETA = date(2026, 11, 27)
OLD_ETA = date(2026, 11, 20)
INCOMING_ON = date(2026, 11, 24)


def line(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": "Espresso grinder Mignon",
        "sku": "GR-MIGNON",
        "quantity": 2,
        "eta": ETA,
        "eta_source_kind": "incoming",
        "incoming_reference": "PO-17",
        "incoming_expected_on": INCOMING_ON,
        "alternatives": [
            {
                "title": "Espresso grinder Specialita",
                "sku": "GR-SPEC",
                "url": "https://shop.example/products/specialita",
                "price": "€329.00",
            },
            {"title": "Hand grinder Comandante", "sku": "GR-COM", "url": None, "price": None},
        ],
    }
    values.update(changes)
    return values


def customer(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "shop": dict(SHOP),
        "customer_name": "Anna Weber",
        "order_name": "#1042",
        "status_url": "https://app.example/status/tok3n",
        "lines": [line()],
        "old_eta": OLD_ETA,
        "new_eta": ETA,
        "waited_days": 23,
        "alternative_title": "Espresso grinder Specialita",
        "refund_note": "We refunded €449.00 to your card.",
        "line_title": "Espresso grinder Mignon",
    }
    values.update(changes)
    return values


def merchant_change(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "shop": dict(SHOP),
        "summary": "Customer asked to cancel Espresso grinder Mignon",
        "order_name": "#1042",
        "action": "Cancel the line in WooCommerce and refund €449.00",
        "dashboard_url": "https://app.example/dashboard/tasks/5",
    }
    values.update(changes)
    return values


def digest(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "shop": dict(SHOP),
        "day": date(2026, 11, 26),
        "new_backorders": [
            {
                "order_name": "#1042",
                "sku": "GR-MIGNON",
                "title": "Espresso grinder Mignon",
                "quantity": 2,
                "eta": ETA,
            }
        ],
        "late_incoming": [
            {
                "sku": "GR-MIGNON",
                "reference": "PO-9",
                "expected_on": date(2026, 11, 2),
                "quantity": 40,
            }
        ],
        "long_waits": [
            {
                "order_name": "#0988",
                "sku": "KT-KETTLE",
                "title": "Gooseneck kettle",
                "waited_days": 12,
                "eta": None,
            }
        ],
        "reorder": [
            {
                "sku": "FL-FILTER",
                "title": "Paper filters",
                "on_hand": 3,
                "incoming": 0,
                "waiting": 1,
                "reorder_point": 42.5,
                "suggested_quantity": 60,
                "reason": "Forecast 2 a day.",
            }
        ],
        "wait_days": 7,
        "dashboard_url": "https://app.example/dashboard",
    }
    values.update(changes)
    return values


def context_for(kind: str) -> dict[str, Any]:
    if kind == "merchant_change":
        return merchant_change()
    if kind == "digest":
        return digest()
    return customer()
