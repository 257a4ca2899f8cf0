"""The product served on a real port with both sandbox stores, as `backorder demo` runs it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from connector.clock import SystemClock
from connector.db import Database
from connector.demo import Stack, start_stack
from connector.runtime import Runtime, build_runtime
from sandbox.mailbox import RunningMailbox, start_mailbox
from tests.conftest import test_settings


@pytest.fixture
def demo_mailbox() -> Iterator[RunningMailbox]:
    """The customers' inboxes: an SMTP server the stack's SMTP_URL points at."""
    running = start_mailbox()
    yield running
    running.stop()


@pytest.fixture
def stack(database_url: str, clean_db: Engine, demo_mailbox: RunningMailbox) -> Iterator[Stack]:
    # The real clock: the Shopify sandbox signs its callback with the time it is now.
    clock = SystemClock()

    def make_runtime(**overrides: Any) -> Runtime:
        settings = test_settings(database_url, SMTP_URL=demo_mailbox.url, **overrides)
        return build_runtime(settings, clock, Database(database_url, clock, engine=clean_db))

    running = start_stack("127.0.0.1", 0, make_runtime)
    yield running
    running.stop()
