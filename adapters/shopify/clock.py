"""The adapter's default time sources, the only place in it that reads the wall clock.

Everything else takes `now`/`sleep` as parameters so tests can move time and never really wait.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utc_now() -> datetime:
    """Timezone-aware UTC now: the default `now` for the transport's pacing."""
    return datetime.now(UTC)


def real_sleep(seconds: float) -> None:
    """Block for `seconds`: the default `sleep`; tests inject a recorder instead."""
    time.sleep(seconds)
