"""The one clock: the only module that reads the time.

Everything else asks a `Clock` it was given. Tests and simulations swap in a `FrozenClock` and
move it; nothing in the product calls `datetime.now()` itself, so the whole product can be run
against a moved time. Times are UTC-aware; the dates a customer sees are the shop's own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to: for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware instant")
        self._now = instant.astimezone(UTC)


def shop_zone(timezone_name: str | None) -> ZoneInfo:
    """The shop's zone; an unknown or missing name falls back to UTC rather than failing a job."""
    try:
        return ZoneInfo(timezone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def shop_today(clock: Clock, timezone_name: str | None) -> date:
    """Today's date where the shop is: the calendar its customers read ETAs in."""
    return clock.now().astimezone(shop_zone(timezone_name)).date()
