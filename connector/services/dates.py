"""Dates a merchant gives us are the shop's calendar dates: none may lie in its past."""

from __future__ import annotations

from datetime import date

from connector.clock import Clock, shop_today
from connector.services.errors import Invalid


def require_not_past(clock: Clock, timezone: str, value: date, field: str) -> None:
    today = shop_today(clock, timezone)
    if value < today:
        raise Invalid(f"must be today ({today.isoformat()}, shop time) or later", field=field)
