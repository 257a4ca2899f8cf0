"""The store-write machinery on its own: coalescing, comparing, retrying, giving up."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy.orm import Session

from adapters.base import NotSupported, StoreError
from connector import stores
from connector.models import Shop, StoreWrite
from connector.runtime import Runtime
from connector.services import store_writes
from tests.shops import make_shop

KIND = "test_echo"


class Echo:
    """Says whatever `wanted` holds; sends by calling `outcome` (a result or an exception)."""

    def __init__(self) -> None:
        self.wanted: dict[str, Any] | None = {"n": 1}
        self.sent: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        self.outcome: Exception | None = None

    def desired(self, session: Session, shop: Shop, target: str) -> dict[str, Any] | None:
        return self.wanted

    def send(self, adapter: Any, target: str, value: dict[str, Any], previous: Any) -> None:
        if self.outcome is not None:
            raise self.outcome
        self.sent.append((value, previous))


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> Echo:
    writer = Echo()
    store_writes.register()
    store_writes.register_writer(KIND, writer)
    monkeypatch.setattr(stores, "adapter_for", lambda runtime, shop, **options: object())
    return writer


def _ask(runtime: Runtime, shop_id: int, target: str = "1") -> int:
    with runtime.db.transaction() as session:
        return store_writes.request(runtime, session, shop_id, KIND, target)


def _row(runtime: Runtime, write_id: int) -> StoreWrite:
    with runtime.db.transaction() as session:
        return session.get_one(StoreWrite, write_id)


def test_requests_join_the_waiting_write_and_an_unchanged_value_is_not_sent(
    runtime: Runtime, echo: Echo
) -> None:
    shop = make_shop(runtime).shop_id
    first = _ask(runtime, shop)
    assert _ask(runtime, shop) == first and _ask(runtime, shop, "2") != first
    assert runtime.jobs.drain() == 2  # type: ignore[attr-defined]
    assert echo.sent == [({"n": 1}, None), ({"n": 1}, None)]

    again = _ask(runtime, shop)  # nothing changed since the last successful write
    runtime.jobs.drain()  # type: ignore[attr-defined]
    assert _row(runtime, again).status == "suppressed" and len(echo.sent) == 2

    echo.wanted = {"n": 2}
    changed = _ask(runtime, shop)
    runtime.jobs.drain()  # type: ignore[attr-defined]
    assert _row(runtime, changed).payload == {"n": 2}
    assert echo.sent[-1] == ({"n": 2}, {"n": 1})  # `previous`: what the store was last told


def test_a_failing_store_is_retried_with_backoff_then_the_write_fails(
    runtime: Runtime, echo: Echo
) -> None:
    shop = make_shop(runtime).shop_id
    echo.outcome = StoreError("502 from the store")
    write_id = _ask(runtime, shop)
    runtime.jobs.drain()  # type: ignore[attr-defined]
    delays = []
    for attempt in range(1, store_writes.MAX_ATTEMPTS):
        row = _row(runtime, write_id)
        assert (row.status, row.attempts) == ("pending", attempt)
        delays.append(row.next_attempt_at - runtime.clock.now())
        assert store_writes.sweep(runtime) == 0  # not due yet
        runtime.clock.advance(delays[-1] + timedelta(seconds=1))
        assert store_writes.sweep(runtime) == 1
        runtime.jobs.drain()  # type: ignore[attr-defined]
    # Four times longer each time; jitter (±20 %) keeps it above 4 · 0.8 / 1.2 ≈ 2.7 times.
    assert all(later > 2.6 * earlier for earlier, later in pairwise(delays))
    row = _row(runtime, write_id)
    assert (row.status, row.attempts) == ("failed", store_writes.MAX_ATTEMPTS)
    assert row.last_error == "StoreError: 502 from the store" and row.done_at is not None


def test_an_operation_the_platform_lacks_is_suppressed_with_the_reason(
    runtime: Runtime, echo: Echo
) -> None:
    shop = make_shop(runtime).shop_id
    echo.outcome = NotSupported("no such thing")
    write_id = _ask(runtime, shop)
    runtime.jobs.drain()  # type: ignore[attr-defined]
    row = _row(runtime, write_id)
    assert (row.status, row.last_error) == ("suppressed", "not supported: no such thing")
