"""The sandbox's default clock; the only module here that reads the wall clock.

The store takes `clock: Callable[[], datetime]` so the product can move the shop's time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Real UTC time, timezone-aware."""
    return datetime.now(UTC)
