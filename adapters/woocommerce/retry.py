"""When to try again and how long to wait: exponential backoff with full jitter.

WooCommerce has no rate limit of its own, but hosts, CDNs and security plugins answer 429/503
(often with `Retry-After`) and shared hosting times out under load. Jitter keeps many shops'
syncs from retrying in lockstep; `Retry-After`, when given, is a floor we never go under.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
# A POST that reached the application may have taken effect (a note, a webhook): only retry it
# when the answer says the request was refused before being handled.
RETRY_STATUSES_UNSAFE = frozenset({429, 503})


@dataclass
class Backoff:
    """Delay before attempt n+1 after attempt n (1-based) failed."""

    base: float = 0.5
    cap: float = 60.0
    max_attempts: int = 6
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter in [0, min(cap, base·2^(attempt-1))], never below `retry_after`."""
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        wait = self.rng.uniform(0, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap * 5))
        return wait


def retry_after_seconds(value: str | None, now: Callable[[], datetime]) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now()).total_seconds())
