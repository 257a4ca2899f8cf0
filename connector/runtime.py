"""The composition root: settings, clock, database and vault, built once per process.

The web app, the CLI and the tests all get their collaborators from here, so there is one place
where the product is wired together and one place a test swaps the clock or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis

from connector.bus import EventBus
from connector.clock import Clock, SystemClock
from connector.config import Settings
from connector.db import Database
from connector.vault import CredentialVault

if TYPE_CHECKING:
    from connector.jobs import JobQueue


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    db: Database
    vault: CredentialVault = field(repr=False)
    bus: EventBus = field(default_factory=EventBus)
    jobs: JobQueue = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from connector import tasks
        from connector.jobs import queue_for

        self.jobs = queue_for(self)
        tasks.subscribe(self)  # every process that commits changes hands their events on

    def check_queue(self) -> None:
        """Raise if the job queue cannot be reached; the in-process queue always can."""
        if self.settings.REDIS_URL is None:
            return
        client = redis.Redis.from_url(
            self.settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        try:
            client.ping()
        finally:
            client.close()


def build_runtime(
    settings: Settings, clock: Clock | None = None, database: Database | None = None
) -> Runtime:
    clock = clock or SystemClock()
    return Runtime(
        settings=settings,
        clock=clock,
        db=database or Database(settings.DATABASE_URL, clock),
        vault=CredentialVault(settings.encryption_keys),
    )
