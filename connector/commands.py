"""Running a command: one transaction, retried on lost races, then events dispatched.

Two workers inserting the same order, a PostgreSQL deadlock or serialisation failure, or a busy
SQLite file are races, not errors: the command runs again from the start, against the state the
winner left, and the outcome is the same as if they had run one after the other.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from connector.runtime import Runtime

T = TypeVar("T")
log = logging.getLogger(__name__)

# unique_violation, serialization_failure, deadlock_detected
_RETRY_SQLSTATES = {"23505", "40001", "40P01"}


def _is_race(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRY_SQLSTATES:
        return True
    message = str(exc.orig).lower()
    return "database is locked" in message or "unique constraint failed" in message


def execute(runtime: Runtime, command: Callable[[Session], T], attempts: int = 5) -> T:
    for attempt in range(1, attempts + 1):
        try:
            with runtime.db.transaction() as session:
                result = command(session)
            break
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts or not _is_race(exc):
                raise
            log.info(
                "command lost a race (%s); retrying, attempt %d",
                type(exc.orig).__name__,
                attempt + 1,
            )
            time.sleep(random.uniform(0, 0.02 * attempt))
    runtime.bus.dispatch_pending(runtime.db)
    return result
