"""The adapter's default clock: the only module of this package that reads the wall clock.

Everything else takes `now` as an argument so tests and simulations can move time.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Real UTC time, timezone-aware."""
    return datetime.now(UTC)
