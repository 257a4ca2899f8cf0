"""Processing: retried with backoff, then failed and visible, replayed by the operator; what a
crash leaves behind is queued again; the compliance topics do what they promise."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connector import jobs
from connector.clock import FrozenClock
from connector.models import DataRequest, Order, Shop, WebhookEvent
from connector.runtime import Runtime
from tests.engine_helpers import backorders
from tests.webhooks.support import post_shopify, shopify_order, shopify_shop
from webhooks import process

LATER = "2026-11-26T09:00:00-06:00"


def rows(runtime: Runtime) -> list[WebhookEvent]:
    with runtime.db.transaction() as session:
        found = list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))
        session.expunge_all()
        return found


@pytest.fixture
def shop(runtime: Runtime) -> int:
    shop_id, _ = shopify_shop(runtime, {"SHOE-42": 1})
    return shop_id


def _break_processing(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("the engine is down")

    monkeypatch.setattr(process, "apply", broken)


def test_a_failing_delivery_is_retried_with_backoff_then_failed_and_replayed(
    client: FlaskClient,
    runtime: Runtime,
    clock: FrozenClock,
    shop: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post_shopify(client, "orders/create", shopify_order(2001, [(1, 3)], updated_at=LATER))
    _break_processing(monkeypatch)
    runtime.jobs.drain()
    [row] = rows(runtime)
    assert (row.state, row.attempts) == ("received", 1)
    assert row.error == "RuntimeError: the engine is down"
    assert row.next_attempt_at is not None
    first_wait = row.next_attempt_at - clock.now()
    assert timedelta(seconds=20) <= first_wait <= timedelta(seconds=40)

    assert jobs.requeue(runtime) == 0  # not due yet: nothing queued, nothing run
    waits = [first_wait]
    for attempt in range(2, process.MAX_ATTEMPTS + 1):
        clock.set(rows(runtime)[0].next_attempt_at)  # type: ignore[arg-type]
        assert jobs.requeue(runtime) == 1
        runtime.jobs.drain()
        row = rows(runtime)[0]
        assert row.attempts == attempt
        if row.next_attempt_at:
            waits.append(row.next_attempt_at - clock.now())
    assert row.state == "failed" and row.next_attempt_at is None
    assert all(later > earlier for earlier, later in itertools.pairwise(waits))
    clock.advance(timedelta(days=1))
    assert jobs.requeue(runtime) == 0  # failed stays failed until an operator replays it

    monkeypatch.undo()
    assert process.replay(runtime, failed_only=True) == [row.id]
    runtime.jobs.drain()
    assert rows(runtime)[0].state == "done"
    [line] = backorders(runtime).values()
    assert line["quantity"] == 2


def test_a_delivery_left_received_by_a_crash_is_queued_again_by_the_sweep(
    client: FlaskClient, runtime: Runtime, clock: FrozenClock, shop: int
) -> None:
    post_shopify(client, "orders/create", shopify_order(2002, [(1, 3)], updated_at=LATER))
    runtime.jobs = jobs.InProcessQueue(runtime)  # the process died: its queue went with it
    assert jobs.requeue(runtime) == 0  # still young: it may be on its first trip
    clock.advance(process.STRAGGLER_AGE)
    runtime.jobs.enqueue("some-other-job")
    assert jobs.requeue(runtime) == 0  # a backlog is being worked off: not while it lasts
    runtime.jobs = jobs.InProcessQueue(runtime)
    assert jobs.requeue(runtime) == 1  # idle again, and the straggler is queued
    runtime.jobs.drain()
    assert rows(runtime)[0].state == "done"


def test_the_replay_command_runs_failed_deliveries_again(
    client: FlaskClient, runtime: Runtime, shop: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector import cli

    post_shopify(client, "orders/create", shopify_order(2003, [(1, 3)], updated_at=LATER))
    _break_processing(monkeypatch)
    with runtime.db.transaction() as session:
        session.execute(WebhookEvent.__table__.update().values(attempts=process.MAX_ATTEMPTS - 1))
    runtime.jobs.drain()
    assert rows(runtime)[0].state == "failed"
    monkeypatch.undo()
    monkeypatch.setattr(cli, "load_runtime", lambda **_: runtime)
    monkeypatch.setattr(runtime.db, "dispose", lambda: None)
    result = CliRunner().invoke(cli.main, ["webhooks", "replay", "--failed"])
    assert result.exit_code == 0, result.output
    assert '"replayed": 1' in result.output
    assert rows(runtime)[0].state == "done"


def test_metrics_count_receipts_rejections_and_processing(
    client: FlaskClient, runtime: Runtime, shop: int
) -> None:
    post_shopify(client, "orders/create", shopify_order(2004, [(1, 1)], updated_at=LATER))
    post_shopify(client, "orders/create", {"id": 1}, signature="bad")
    runtime.jobs.drain()
    text = client.get("/metrics").get_data(as_text=True)
    for needle in (
        'backorder_webhooks_received_total{outcome="stored",platform="shopify"}',
        'backorder_webhooks_rejected_total{platform="shopify",reason="signature"}',
        'backorder_webhooks_processed_total{outcome="done",platform="shopify"}',
        "backorder_webhooks_ack_seconds_bucket",
        "backorder_webhooks_waiting 0.0",
        "backorder_jobs_queued 0.0",
    ):
        assert needle in text


# ---- app/uninstalled and the compliance topics ------------------------------------------------


def _customer_payload(topic: str) -> dict[str, Any]:
    return {
        "shop_id": 954889,
        "shop_domain": "northwind-trail.myshopify.com",
        "customer": {"id": 191167, "email": "jon@example.com", "phone": "555-625-1199"},
        "orders_to_redact" if topic == "customers/redact" else "orders_requested": [2005],
        **({"data_request": {"id": 9999}} if topic == "customers/data_request" else {}),
    }


def test_uninstall_then_compliance_topics_do_what_they_promise(
    client: FlaskClient, runtime: Runtime, shop: int
) -> None:
    order = shopify_order(2005, [(1, 3)], updated_at=LATER, email="jon@example.com")
    order["customer"] = {**(order.get("customer") or {}), "id": 191167, "email": "jon@example.com"}
    post_shopify(client, "orders/create", order)
    runtime.jobs.drain()

    post_shopify(
        client, "app/uninstalled", {"id": 954889, "domain": "northwind-trail.myshopify.com"}
    )
    runtime.jobs.drain()
    with runtime.db.transaction() as session:
        assert session.get_one(Shop, shop).status == "uninstalled"

    post_shopify(client, "customers/data_request", _customer_payload("customers/data_request"))
    runtime.jobs.drain()
    with runtime.db.transaction() as session:
        [export] = session.scalars(select(DataRequest)).all()
        assert "jon@example.com" in str(export.export)

    post_shopify(client, "customers/redact", _customer_payload("customers/redact"))
    runtime.jobs.drain()
    assert all(row.state == "done" for row in rows(runtime)), [
        (r.topic, r.error) for r in rows(runtime)
    ]
    with runtime.db.transaction() as session:
        [kept] = session.scalars(select(Order)).all()  # the order stays, anonymised
        assert kept.customer_email is None
        assert session.scalar(select(func.count()).select_from(DataRequest)) == 0
        bodies = " ".join(session.scalars(select(WebhookEvent.body)))
    assert "jon@example.com" not in bodies

    post_shopify(
        client, "shop/redact", {"shop_id": 954889, "shop_domain": "northwind-trail.myshopify.com"}
    )
    runtime.jobs.drain()
    with runtime.db.transaction() as session:
        assert session.get(Shop, shop) is None
        for table in Shop.metadata.sorted_tables:
            if "shop_id" in table.c:
                count = session.scalar(
                    select(func.count()).select_from(table).where(table.c.shop_id == shop)
                )
                assert count == 0, table.name


def test_a_customer_email_is_taken_before_store_writes_already_waiting(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Store writes are paced by the store's rate limit; an e-mail must not wait behind them."""
    monkeypatch.setattr(jobs, "_handlers", dict(jobs._handlers))
    monkeypatch.setattr(jobs, "_urgent", set(jobs._urgent))
    ran: list[str] = []
    jobs.register("slow_write", lambda _runtime, n: ran.append(f"write {n}"))
    jobs.register("email", lambda _runtime, n: ran.append(f"email {n}"), urgent=True)
    queue = jobs.InProcessQueue(runtime)
    for n in range(3):
        queue.enqueue("slow_write", n)
    queue.enqueue("email", 1)
    queue.enqueue("slow_write", 3)
    queue.enqueue("email", 2)

    assert queue.drain() == 6
    assert ran == ["email 1", "email 2", "write 0", "write 1", "write 2", "write 3"]


def test_an_email_is_sent_while_every_general_worker_is_busy_with_store_writes(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The urgent lane has a thread of its own: writes held up by a store's rate limit (here
    they wait on an event) do not hold up an e-mail, and they still run once let go."""
    monkeypatch.setattr(jobs, "_handlers", dict(jobs._handlers))
    monkeypatch.setattr(jobs, "_urgent", set(jobs._urgent))
    let_go, emailed = threading.Event(), threading.Event()
    written: list[int] = []

    def slow_write(_runtime: Runtime, n: int) -> None:
        let_go.wait(10)
        written.append(n)

    jobs.register("slow_write", slow_write)
    jobs.register("email", lambda _runtime, _n: emailed.set(), urgent=True)
    queue = jobs.InProcessQueue(runtime)
    for n in range(4):
        queue.enqueue("slow_write", n)
    queue.start(threads=2)
    try:
        queue.enqueue("email", 1)
        assert emailed.wait(5), "the e-mail waited for the store writes"
        assert written == []  # both general workers are still held by the writes
    finally:
        let_go.set()
        deadline = time.monotonic() + 5
        while len(written) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        queue.stop()
    assert sorted(written) == [0, 1, 2, 3]
