"""The composition root: settings, clock, database and vault, built once per process.

The web app, the CLI and the tests all get their collaborators from here, so there is one place
where the product is wired together and one place a test swaps the clock or the database.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis

from connector.bus import EventBus
from connector.clock import Clock, SystemClock
from connector.config import Settings
from connector.db import Database
from connector.vault import CredentialVault

if TYPE_CHECKING:
    from connector.jobs import JobQueue
    from connector.mail import SmtpSender


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    db: Database
    vault: CredentialVault = field(repr=False)
    bus: EventBus = field(default_factory=EventBus)
    jobs: JobQueue = field(init=False, repr=False)
    _mailer: SmtpSender | None = field(default=None, init=False, repr=False)
    _mailer_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # Each Shopify shop's rate-limit bucket, shared by this process's jobs (connector.stores).
    rate_buckets: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @property
    def mailer(self) -> SmtpSender | None:
        """The process's one SMTP sender (its connections reused), built on first use; None
        while SMTP_URL is not set."""
        if self._mailer is None and self.settings.SMTP_URL:
            from connector.mail import sender_from_url

            with self._mailer_lock:
                if self._mailer is None:
                    self._mailer = sender_from_url(self.settings.SMTP_URL)
        return self._mailer

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
