"""The "order_change" job against a store that records its edits: outcomes, retries, crashes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from adapters.base import NotSupported, StoreError
from connector.clock import FrozenClock
from connector.models import Backorder
from connector.runtime import Runtime
from connector.services import self_service
from connector.services.reads import get_backorder
from connector.services.store_writes import MAX_ATTEMPTS
from tests.engine_helpers import ingest, snapshot, stock
from tests.status_page.support import (
    FakeStore,
    Waiting,
    changes,
    csrf_of,
    notifications,
    tasks,
    use_store,
    waiting_order,
)

CUSTOMER = "buyer1001@example.com"
MERCHANT = "help@northwind.test"


@pytest.fixture
def order(runtime: Runtime) -> Waiting:
    return waiting_order(runtime)


@pytest.fixture
def store(order: Waiting, monkeypatch: pytest.MonkeyPatch) -> FakeStore:
    fake = FakeStore(order.order)
    use_store(monkeypatch, fake)
    return fake


def _ask(client: FlaskClient, order: Waiting, action: str, **form: Any) -> int:
    csrf = csrf_of(client, order.path)
    answer = client.post(order.line_path(action), data={"csrf": csrf, **form})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    (change,) = changes(_runtime(client))
    return change.id


def _runtime(client: FlaskClient) -> Runtime:
    runtime: Runtime = client.application.extensions["backorder"]
    return runtime


def _backorder(runtime: Runtime, backorder_id: int) -> Backorder:
    with runtime.db.transaction() as session:
        return session.get_one(Backorder, backorder_id)


def test_a_cancel_takes_the_waiting_units_off_and_tells_both_sides(
    runtime: Runtime, client: FlaskClient, order: Waiting, store: FakeStore
) -> None:
    later = snapshot(
        "1002",
        [("v1", 1)],
        placed_at=runtime.clock.now() + timedelta(hours=1),
        updated_at=runtime.clock.now() + timedelta(hours=1),
    )
    ingest(runtime, order.shop_id, later)
    with runtime.db.transaction() as session:
        behind = next(b.id for b in session.query(Backorder).all() if b.id != order.backorder_id)
        assert get_backorder(session, None, behind).queue_position == 2  # type: ignore[union-attr]
    change_id = _ask(client, order, "cancel")

    assert self_service.run(runtime, change_id) == "done"
    assert [(e["line"], e["keep_quantity"], e["add_quantity"]) for e in store.edits] == [
        ("1001-v1", 0, 0)
    ]
    assert _backorder(runtime, order.backorder_id).status == "cancelled"
    with runtime.db.transaction() as session:
        assert get_backorder(session, None, behind).queue_position == 1  # type: ignore[union-attr]
    (task,) = tasks(runtime)
    assert (task.kind, task.status, task.details["amount"]) == ("refund", "open", "99.80")
    assert "Refund 99.80 USD on order #1001" in task.summary
    assert ("cancel_confirmed", CUSTOMER) in notifications(runtime)
    assert ("merchant_change", MERCHANT) in notifications(runtime)
    assert "Cancelled" in client.get(order.path).get_data(as_text=True)

    assert self_service.run(runtime, change_id) is None  # a second run finds it done
    assert len(store.edits) == 1 and len(tasks(runtime)) == 1


def test_a_switch_replaces_the_waiting_units_with_the_alternative(
    runtime: Runtime, client: FlaskClient, order: Waiting, store: FakeStore
) -> None:
    change_id = _ask(client, order, "switch", variant_id=order.variants["SHOE-43"])
    assert self_service.run(runtime, change_id) == "done"
    (edit,) = store.edits
    assert (edit["keep_quantity"], edit["add_variant_external_id"], edit["add_quantity"]) == (
        0,
        "v2",
        2,
    )
    assert _backorder(runtime, order.backorder_id).status == "cancelled"
    assert tasks(runtime) == []  # the same price: nothing to refund
    assert ("switch_confirmed", CUSTOMER) in notifications(runtime)
    assert "Switched to Trail shoe 43" in client.get(order.path).get_data(as_text=True)


def test_a_crash_after_the_store_edit_never_edits_twice(
    runtime: Runtime,
    client: FlaskClient,
    order: Waiting,
    store: FakeStore,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    change_id = _ask(client, order, "cancel")
    real = self_service.ingest_order

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(self_service, "ingest_order", crash)
    with pytest.raises(RuntimeError):
        self_service.run(runtime, change_id)
    assert len(store.edits) == 1
    (change,) = changes(runtime)
    assert change.status == "pending"
    monkeypatch.setattr(self_service, "ingest_order", real)
    # The platform's own webhook of the edit arrives first: the line we hold is reduced already.
    ingest(runtime, order.shop_id, store.order)
    assert _backorder(runtime, order.backorder_id).status == "cancelled"

    assert self_service.run(runtime, change_id) is None  # the crashed run's claim still holds
    clock.advance(timedelta(minutes=6))
    assert self_service.sweep(runtime) == 1
    assert self_service.run(runtime, change_id) == "done"
    assert len(store.edits) == 1  # read back from the store: already at its target
    assert [t.kind for t in tasks(runtime)] == ["refund"]


def test_an_edit_the_platform_cannot_make_becomes_the_merchants_task(
    runtime: Runtime, client: FlaskClient, order: Waiting, store: FakeStore
) -> None:
    store.refuse = NotSupported("the line is already fulfilled")
    change_id = _ask(client, order, "cancel")
    assert self_service.run(runtime, change_id) == "merchant"
    (task,) = tasks(runtime)
    assert task.kind == "cancel_line"
    assert "remove 2 x Trail shoe 42 (line 1001-v1)" in task.summary
    assert "already fulfilled" in task.summary and "refund 99.80 USD" in task.summary
    assert ("change_needs_merchant", CUSTOMER) in notifications(runtime)
    assert ("merchant_change", MERCHANT) in notifications(runtime)
    assert _backorder(runtime, order.backorder_id).status == "waiting"  # nothing changed
    html = client.get(order.path).get_data(as_text=True)
    assert "The shop will finish this by hand" in html


def test_a_refusing_store_is_retried_with_backoff_then_left_to_the_merchant(
    runtime: Runtime,
    client: FlaskClient,
    order: Waiting,
    store: FakeStore,
    clock: FrozenClock,
) -> None:
    store.refuse = StoreError("422: the order is locked")
    change_id = _ask(client, order, "cancel")
    assert self_service.run(runtime, change_id) == "pending"
    (change,) = changes(runtime)
    assert change.attempts == 1 and "locked" in (change.last_error or "")
    assert self_service.run(runtime, change_id) is None  # not due yet
    outcome = "pending"
    for _ in range(MAX_ATTEMPTS - 1):
        clock.advance(timedelta(hours=3))
        outcome = self_service.run(runtime, change_id) or outcome
    assert outcome == "failed"
    (change,) = changes(runtime)
    assert change.attempts == MAX_ATTEMPTS
    assert [t.kind for t in tasks(runtime)] == ["cancel_line"]
    assert ("change_needs_merchant", CUSTOMER) in notifications(runtime)


def test_a_line_that_became_ready_before_the_job_ran_is_not_cut(
    runtime: Runtime, client: FlaskClient, order: Waiting, store: FakeStore
) -> None:
    change_id = _ask(client, order, "cancel")
    stock(runtime, order.shop_id, "v1", 10)  # the restock came first
    assert _backorder(runtime, order.backorder_id).status == "ready"
    assert self_service.run(runtime, change_id) == "failed"
    assert store.edits == []
    assert [t.kind for t in tasks(runtime)] == ["cancel_line"]
