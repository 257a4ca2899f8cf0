"""A throw-away product on a temporary SQLite file, for benchmarks that build their own shop."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.fernet import Fernet

from connector.runtime import Runtime


@contextmanager
def scratch_runtime() -> Iterator[Runtime]:
    """The runtime of a fresh, migrated database with throw-away keys, on the system clock."""
    from connector.clock import SystemClock
    from connector.config import load_settings
    from connector.db import Database
    from connector.migrate import upgrade
    from connector.runtime import build_runtime

    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite:///{Path(workdir) / 'bench.db'}"
        settings = load_settings(
            DATABASE_URL=url,
            SECRET_KEY=Fernet.generate_key().decode() * 2,
            TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode(),
            REDIS_URL=None,
            LOG_LEVEL="WARNING",
        )
        clock = SystemClock()
        database = Database(url, clock)
        upgrade(database.engine)
        try:
            yield build_runtime(settings, clock, database)
        finally:
            database.dispose()
