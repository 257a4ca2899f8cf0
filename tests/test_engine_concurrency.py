"""Many workers on one variant at once: no unit handed out twice, no line lost."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from connector.clock import shop_today
from connector.domain.allocation import plan
from connector.models import Backorder, DomainEvent, Shop, Variant
from connector.runtime import Runtime
from connector.services.backorders import load_facts, reconcile
from tests.engine_helpers import backorders, hours, ingest, snapshot, stock
from tests.shops import make_shop

WORKERS = 12


def _at_once(jobs: list[Callable[[], object]]) -> None:
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        barrier.wait()
        try:
            job()
        except BaseException as exc:  # reported below, with the thread's traceback lost
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_simultaneous_orders_never_share_a_unit(runtime: Runtime) -> None:
    shop = make_shop(runtime, stock={"SHOE": 5})
    now = runtime.clock.now()
    stock(runtime, shop.shop_id, "v1", 5, now - hours(100))
    orders = [
        snapshot(
            str(2000 + i),
            [("v1", 1)],
            placed_at=now - hours(50 - i),
            updated_at=now - hours(50 - i),
        )
        for i in range(WORKERS)
    ]
    _at_once([lambda o=o: ingest(runtime, shop.shop_id, o) for o in orders])
    rows = backorders(runtime)
    # Five units, twelve orders of one: exactly the seven latest orders wait.
    assert sorted(rows) == [f"{2000 + i}-v1" for i in range(5, WORKERS)]
    assert all(row["status"] == "waiting" for row in rows.values())


def test_restock_racing_orders_ends_where_a_calm_replan_would(runtime: Runtime) -> None:
    shop = make_shop(runtime, stock={"SHOE": 0})
    now = runtime.clock.now()
    orders = [
        snapshot(
            str(3000 + i),
            [("v1", 2)],
            placed_at=now - hours(50 - i),
            updated_at=now - hours(50 - i),
        )
        for i in range(WORKERS)
    ]
    restocks = [
        lambda n=n: stock(runtime, shop.shop_id, "v1", n, now + hours(n)) for n in (4, 9, 13)
    ]
    _at_once([*(lambda o=o: ingest(runtime, shop.shop_id, o) for o in orders), *restocks])
    rows = backorders(runtime)
    # The last stock level (13 units) covers the six oldest orders of two, in queue order;
    # the other six wait, whatever order the workers ran in. Covered lines are either ready
    # or were never short (no backorder at all).
    waiting = sorted(key for key, row in rows.items() if row["status"] == "waiting")
    assert waiting == [f"{3000 + i}-v1" for i in range(6, WORKERS)]
    assert {row["status"] for key, row in rows.items() if key not in waiting} <= {"ready"}
    head = rows["3006-v1"]
    assert head["quantity"] - head["allocated"] == 1  # the odd unit is held at the head
    with runtime.db.transaction() as session:
        events_before = session.scalar(select(func.count()).select_from(DomainEvent))
        assert reconcile(session, runtime.clock, [shop.variants["SHOE"]]) == []
        variant = session.get_one(Variant, shop.variants["SHOE"])
        shop_row = session.get_one(Shop, shop.shop_id)
        calm = plan(
            load_facts(session, variant, shop_row), shop_today(runtime.clock, shop_row.timezone)
        )
        assert calm.states == {}
        assert session.scalar(select(func.count()).select_from(DomainEvent)) == events_before
        # Units held for backorders never exceed the stock (the rest covers in-stock lines).
        held = session.scalar(
            select(func.coalesce(func.sum(Backorder.allocated_quantity), 0)).where(
                Backorder.status.in_(("ready", "allocated", "waiting"))
            )
        )
        assert held <= 13
