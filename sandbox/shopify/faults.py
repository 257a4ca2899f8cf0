"""Failure modes the product's tests switch on to see that the client copes with a bad day."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Faults:
    """Counters consulted by the HTTP app (and the webhook announcer) on every request."""

    fail_remaining: int = 0
    fail_status: int = 500
    slow_seconds: float = 0.0
    storm_pending: bool = False
    drop_webhooks: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take_failure(self) -> int | None:
        """Return the status to fail this request with, consuming one, or None."""
        with self._lock:
            if self.fail_remaining <= 0:
                return None
            self.fail_remaining -= 1
            return self.fail_status

    def take_storm(self) -> bool:
        """True once after `throttle_storm()`: the app then empties every bucket."""
        with self._lock:
            pending, self.storm_pending = self.storm_pending, False
            return pending

    def take_drop(self) -> bool:
        """True when the next webhook announcement must be lost."""
        with self._lock:
            if self.drop_webhooks <= 0:
                return False
            self.drop_webhooks -= 1
            return True
