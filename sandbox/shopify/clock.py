"""The sandbox's default clock: the one place that reads the wall time.

Everything else takes a `clock: Callable[[], datetime]` so the product can move the
sandbox's time (and the architecture test allows time reads only in files named clock.py).
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Timezone-aware UTC now; the default for every injectable clock in the sandbox."""
    return datetime.now(UTC)
