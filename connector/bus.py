"""Event bus: recorded domain events handed to their subscribers after the change committed.

Events are rows written in the same transaction as the change (`domain_events`), so a crash
between commit and hand-off loses nothing: the next dispatch picks them up. Handlers must be
quick and idempotent (they enqueue jobs keyed by the event); they never call the network inline.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from connector.db import Database
from connector.models import DomainEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedEvent:
    id: int
    shop_id: int
    name: str
    payload: dict[str, Any]


Handler = Callable[[PublishedEvent], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, name: str, handler: Handler) -> None:
        self._handlers[name].append(handler)

    def dispatch_pending(self, db: Database, batch: int = 500) -> int:
        """Hand every undispatched event to its handlers, oldest first; returns how many."""
        done = 0
        while True:
            with db.transaction() as session:
                statement = (
                    select(DomainEvent)
                    .where(DomainEvent.dispatched_at.is_(None))
                    .order_by(DomainEvent.id)
                    .limit(batch)
                )
                if session.get_bind().dialect.name == "postgresql":
                    statement = statement.with_for_update(skip_locked=True)
                rows = session.scalars(statement).all()
                now = db.clock.now()
                for row in rows:
                    event = PublishedEvent(row.id, row.shop_id, row.name, row.payload)
                    for handler in self._handlers.get(row.name, []):
                        handler(event)
                    row.dispatched_at = now
            done += len(rows)
            if len(rows) < batch:
                return done
