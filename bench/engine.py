"""How fast the backorder engine plans and persists a restock: `python -m bench.engine`.

Why: a restock webhook for a popular variant, and the daily tick over a whole shop, must finish
well inside a webhook's time budget, and the cost must grow no faster than the queue does. Two
paths are timed, each at 1/100, 1/10 and the full size so the growth shows:

- pure: `connector.domain.allocation.plan` alone (queue sort, cover, ETA walk, allocation) on
  facts built outside the timer, every line waiting as the engine itself left it the day before:
  (a) one variant with up to 10,000 lines restocked to half its demand; (b) up to 1,000,000
  lines over 50,000 variants (20 lines each), every variant re-planned, once as the daily tick
  (nothing changed but the date) and once with each variant restocked (most lines change).
- database: one stock-level command (`record_level` through `commands.execute`) on a fresh
  SQLite file whose variant has N waiting lines, timed from just before the command to just
  after its commit (and, separately, to the end of `execute`, which also dispatches events:
  the difference is the dispatch). `--postgres URL` runs only this series, each run in a
  database of its own created on that server and dropped after.

Every run checks the engine did the work (about half the lines ready after a restock, none after
the tick) and fails loudly if not. Figures are the best and the median of REPEATS runs; goals
are judged on the median. Progress goes to stderr; stdout gets one JSON line. `--profile`
instead profiles one database restock of 10,000 lines, top cumulative entries to stderr.
"""

from __future__ import annotations

import cProfile
import io
import itertools
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, event, func, insert, make_url, select, text
from sqlalchemy.orm import Session

from adapters.base import StoreInventoryLevel
from connector.clock import FrozenClock
from connector.commands import execute
from connector.config import load_settings
from connector.domain.allocation import READY, Line, VariantFacts, plan
from connector.domain.eta import EtaPolicy, Incoming
from connector.domain.queue import Demand, order_key
from connector.migrate import upgrade
from connector.models import (
    Backorder,
    IncomingStock,
    InventoryLevel,
    Notification,
    Order,
    OrderLine,
    Product,
    Shop,
    Variant,
)
from connector.runtime import Runtime, build_runtime
from connector.services.backorders import reconcile
from connector.services.shops import add_shop
from connector.services.stock import record_level

REPEATS = 5  # a shared 2-vCPU machine is noisy: the median of five is steadier than of three
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
TODAY = NOW.date()
FIRST_ORDER = NOW - timedelta(days=30)  # lines are placed from here on, 37 s apart
POLICY = EtaPolicy(lead_time_days=14, handling_days=1, grace_days=3)
ONE_VARIANT = (100, 1_000, 10_000)  # lines on the one restocked variant
MANY = (500, 5_000, 50_000)  # variants of LINES_PER_VARIANT lines each
LINES_PER_VARIANT = 20
DB_LINES = (100, 1_000, 10_000)
GROWTH_TOLERANCE = 1.25  # per-line cost may rise this much per tenfold step (noise, n log n sort)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def need_of(index: int) -> int:
    return 1 + index % 3


def placed_at(index: int) -> datetime:
    return FIRST_ORDER + timedelta(seconds=37 * index)


def priority_of(index: int) -> int:
    return 1 if index % 10 == 0 else 0  # one line in ten ships expedited: the priority tier


def waiting_facts(variant_id: int, lines: int) -> VariantFacts:
    """A variant whose `lines` lines all wait, as the engine itself left them yesterday."""
    indexes = list(range(lines))
    random.Random(variant_id).shuffle(indexes)  # the engine must sort; don't hand it a sorted list
    built = []
    for i in indexes:
        when = placed_at(i)
        demand = Demand(
            variant_id * lines + i, need_of(i), priority_of(i), when, order_key(str(1001 + i)), "1"
        )
        built.append(Line(demand=demand, placed_on=when.date()))
    total = sum(need_of(i) for i in range(lines))
    incoming = [
        Incoming(total // 4, TODAY + timedelta(days=7), "PO-1", 1),
        Incoming(total // 8, TODAY + timedelta(days=21), "PO-2", 2),
    ]
    fresh = VariantFacts(variant_id, 0, built, incoming, POLICY, False, False)
    states = plan(fresh, TODAY - timedelta(days=1)).states
    waiting = [
        replace(line, state=replace(states[line.demand.line_id], backorder_id=line.demand.line_id))
        for line in built
    ]
    return replace(fresh, lines=waiting)


def restocked(facts: VariantFacts) -> VariantFacts:
    """The same variant after stock for half of its open demand arrived."""
    return replace(facts, on_hand=sum(line.demand.need for line in facts.lines) // 2)


def check_ready(ready: int, lines: int, expected: float) -> None:
    """Fail loudly when the engine did not do the work: `expected` is the share of ready lines."""
    if abs(ready - lines * expected) > lines * 0.1:
        raise SystemExit(f"sanity check failed: {ready} of {lines} lines ready, not {expected:.0%}")


def timed_plan(facts: VariantFacts, ready_share: float) -> float:
    start = time.perf_counter()
    result = plan(facts, TODAY)
    elapsed = time.perf_counter() - start
    if len(result.queue) != len(facts.lines):
        raise SystemExit(f"sanity check failed: {len(result.queue)} lines queued")
    check_ready(
        sum(s.status == READY for s in result.states.values()), len(facts.lines), ready_share
    )
    return elapsed


def pure_many(facts: list[VariantFacts], restock: bool) -> float:
    """Every variant re-planned, one `plan` call each: the daily tick, or each one restocked."""
    return sum(timed_plan(restocked(f), 0.5) if restock else timed_plan(f, 0.0) for f in facts)


def seed(runtime: Runtime, lines: int) -> tuple[int, int]:
    """A shop with one out-of-stock variant and `lines` one-line orders; returns shop, variant."""
    clock = runtime.clock
    now = clock.now()
    with runtime.db.transaction() as session:
        shop = add_shop(
            session,
            clock,
            runtime.vault,
            platform="shopify",
            domain="bench.myshopify.com",
            credentials={"access_token": "shpat_bench"},
            timezone="America/Chicago",
        )
        product = Product(shop_id=shop.id, external_id="p1", title="Trail boot")
        session.add(product)
        session.flush()
        variant = Variant(
            shop_id=shop.id, product_id=product.id, external_id="v1", sku="BOOT-42", title="42"
        )
        session.add(variant)
        session.flush()
        session.add(
            InventoryLevel(
                shop_id=shop.id,
                variant_id=variant.id,
                location_external_id="L1",
                on_hand=0,
                platform_updated_at=now - timedelta(hours=1),
            )
        )
        demand = sum(need_of(i) for i in range(lines))
        for reference, quantity, days in (("PO-1", demand // 4, 7), ("PO-2", demand // 8, 21)):
            session.add(
                IncomingStock(
                    shop_id=shop.id,
                    variant_id=variant.id,
                    quantity=quantity,
                    expected_on=TODAY + timedelta(days=days),
                    reference=reference,
                )
            )
        stamps = {"shop_id": shop.id, "created_at": now, "updated_at": now}
        session.execute(
            insert(Order),
            [
                {"id": i + 1, "external_id": str(1001 + i), "name": f"#{1001 + i}"}
                | {"placed_at": placed_at(i), "shipping_method": "Standard", **stamps}
                | {"customer_email": f"buyer{i}@example.com", "customer_name": f"Buyer {i}"}
                for i in range(lines)
            ],
        )
        session.execute(
            insert(OrderLine),
            [
                {"id": i + 1, "order_id": i + 1, "external_id": "1", "quantity": need_of(i)}
                | {"variant_id": variant.id, "variant_external_id": "v1", "sku": "BOOT-42"}
                | {"priority": priority_of(i), **stamps}
                for i in range(lines)
            ],
        )
        shop_id, variant_id = shop.id, variant.id
    with runtime.db.transaction() as session:
        reconcile(session, clock, [variant_id])
    runtime.bus.dispatch_pending(runtime.db)  # the creation events are not the restock's work
    if runtime.db.engine.dialect.name == "postgresql":
        # A shop's database has planner statistics; a fresh one gets them from autovacuum only
        # a minute or so after the bulk insert. Without them PostgreSQL plans the dispatch's
        # look-up of waiting store writes as a filter over all 10,000 (4 s instead of 0.13 s).
        with runtime.db.engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    return shop_id, variant_id


def statuses(runtime: Runtime, variant_id: int) -> dict[str, int]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(Backorder.status, func.count())
            .where(Backorder.variant_id == variant_id)
            .group_by(Backorder.status)
        )
        return {status: count for status, count in rows}


def messages(runtime: Runtime) -> int:
    """Outbox rows telling customers their line is ready (or, after a long wait, expedited)."""
    with runtime.db.transaction() as session:
        kinds = Notification.kind.in_(("ready", "expedited"))
        return session.scalar(select(func.count()).where(kinds)) or 0


@contextmanager
def fresh_database(postgres: str | None) -> Iterator[str]:
    """A new empty database's URL: a SQLite file, or a database made on the given server (never
    the one the URL names, which may be a test database in use)."""
    if not postgres:
        with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    server = make_url(postgres).set(drivername="postgresql+psycopg")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"bench_engine_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def db_restock(
    lines: int, profiler: cProfile.Profile | None = None, postgres: str | None = None
) -> tuple[float, float]:
    """Seconds to commit and to the end of `execute`, for one restock over `lines` waiting lines."""
    with fresh_database(postgres) as url:
        settings = load_settings(
            DATABASE_URL=url,
            SECRET_KEY="x" * 40,
            TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode(),
            REDIS_URL=None,
        )
        clock = FrozenClock(NOW)
        runtime = build_runtime(settings, clock)
        try:
            upgrade(runtime.db.engine)
            shop_id, variant_id = seed(runtime, lines)
            if statuses(runtime, variant_id) != {"waiting": lines}:
                raise SystemExit(f"seeding failed: {statuses(runtime, variant_id)}")
            clock.advance(timedelta(minutes=5))
            units = sum(need_of(i) for i in range(lines)) // 2
            level = StoreInventoryLevel("v1", "L1", units, units, clock.now())

            def restock(session: Session) -> Any:
                return record_level(session, clock, session.get_one(Shop, shop_id), level)

            commits: list[float] = []

            def mark(_session: Session) -> None:
                commits.append(time.perf_counter())

            event.listen(Session, "after_commit", mark)
            if profiler:
                profiler.enable()
            start = time.perf_counter()
            execute(runtime, restock)
            end = time.perf_counter()
            if profiler:
                profiler.disable()
            event.remove(Session, "after_commit", mark)
            ready = statuses(runtime, variant_id).get(READY, 0)
            check_ready(ready, lines, 0.5)
            told = messages(runtime)
            if told != ready:  # the dispatch's work includes recording each customer's e-mail
                raise SystemExit(f"sanity check failed: {told} e-mails for {ready} ready lines")
            return commits[0] - start, end - start
        finally:
            runtime.db.dispose()


def best_and_median(runs: list[float]) -> dict[str, float]:
    return {"best": round(min(runs), 6), "median": round(statistics.median(runs), 6)}


def measure(
    figures: dict[str, dict[str, float]], label: str, lines: int, run: Callable[[], float]
) -> None:
    runs = [run() for _ in range(REPEATS)]
    figures[str(lines)] = best_and_median(runs)
    log(f"{label} {lines:>9} lines: best {min(runs):.4f} s, median {statistics.median(runs):.4f} s")


def worst_growth(figures: dict[str, dict[str, float]]) -> float:
    """Largest rise of the per-line cost over one tenfold step (1.0 = exactly linear)."""
    per_line = [figures[n]["best"] / int(n) for n in figures]
    return round(max(b / a for a, b in itertools.pairwise(per_line)), 3)


def profile() -> None:
    profiler = cProfile.Profile()
    to_commit, total = db_restock(DB_LINES[-1], profiler)
    log(f"profiled restock of {DB_LINES[-1]} lines: {to_commit:.3f} s to commit, {total:.3f} s")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
    log(out.getvalue())


def database_series(postgres: str | None) -> dict[str, dict[str, dict[str, float]]]:
    """The database restock at each size: to commit, to the end of `execute`, and the dispatch
    between the two (the restock's events handed to their subscribers)."""
    dialect = "postgresql" if postgres else "sqlite"
    commit: dict[str, dict[str, float]] = {}
    whole: dict[str, dict[str, float]] = {}
    dispatch: dict[str, dict[str, float]] = {}
    for lines in DB_LINES:
        runs = [db_restock(lines, postgres=postgres) for _ in range(REPEATS)]
        commit[str(lines)] = best_and_median([r[0] for r in runs])
        whole[str(lines)] = best_and_median([r[1] for r in runs])
        dispatch[str(lines)] = best_and_median([r[1] - r[0] for r in runs])
        log(
            f"db restock ({dialect}) {lines:>9} lines: {commit[str(lines)]} to commit,"
            f" {dispatch[str(lines)]} dispatch"
        )
    return {
        f"db_restock_{dialect}": commit,
        f"db_restock_{dialect}_with_dispatch": whole,
        f"db_restock_{dialect}_dispatch": dispatch,
    }


def main() -> None:
    arguments = sys.argv[1:]
    if "--profile" in arguments:
        profile()
        return
    if "--postgres" in arguments:
        series = database_series(arguments[arguments.index("--postgres") + 1])
        dispatch = series["db_restock_postgresql_dispatch"]
        goals = {"db_dispatch_10000_under_1s": dispatch["10000"]["median"] < 1.0}
        print(json.dumps({"repeats": REPEATS, **series, "goals": goals}))
        return
    one: dict[str, dict[str, float]] = {}
    many: dict[str, dict[str, float]] = {}
    many_restocked: dict[str, dict[str, float]] = {}
    for lines in ONE_VARIANT:
        facts = restocked(waiting_facts(1, lines))
        measure(one, "pure restock, one variant", lines, partial(timed_plan, facts, 0.5))
    for variants in MANY:
        # Built once per size, outside the timer; `plan` is pure, so the runs can share them.
        built = [waiting_facts(v, LINES_PER_VARIANT) for v in range(1, variants + 1)]
        lines = variants * LINES_PER_VARIANT
        measure(many, "pure daily recompute", lines, partial(pure_many, built, False))
        measure(many_restocked, "pure restock, many", lines, partial(pure_many, built, True))
        del built
    series = database_series(None)
    commit = series["db_restock_sqlite"]
    growth = {
        "pure_restock_one_variant": worst_growth(one),
        "pure_recompute_many": worst_growth(many),
        "pure_restock_many": worst_growth(many_restocked),
        "db_restock_sqlite": worst_growth(commit),
    }
    figures = {
        "repeats": REPEATS,
        "pure_restock_one_variant": one,
        "pure_recompute_many": many,
        "pure_restock_many": many_restocked,
        **series,
        "worst_per_line_growth_per_tenfold": growth,
        "goals": {
            "db_restock_10000_under_0_5s": commit["10000"]["median"] < 0.5,
            "db_dispatch_10000_under_1s": (
                series["db_restock_sqlite_dispatch"]["10000"]["median"] < 1.0
            ),
            "pure_1m_under_5s": many["1000000"]["median"] < 5.0,
            "pure_1m_restocked_under_5s": many_restocked["1000000"]["median"] < 5.0,
            "pure_growth_no_worse_than_linear": all(
                growth[k] <= GROWTH_TOLERANCE for k in growth if k.startswith("pure")
            ),
        },
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
