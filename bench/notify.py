"""From stock arriving to the customer told: `python -m bench.notify`.

Why: a customer waiting for a backordered item should hear it is ready soon after the stock lands,
and the store must let the order ship (the fulfillment hold released). Issue 9's goals, embedded
mode: p95 under 2 s for one waiting line; 1,000 waiting lines under 60 s within Shopify's
Standard rate limit.

How: the product as `backorder demo` runs it — one process: our web app on a real port, the job
queue on this process's worker threads, SQLite — installed through the real OAuth flow into the
Shopify sandbox on the Standard plan (bucket 2,000 points, restore 100 points/s), with `SMTP_URL`
pointing at an SMTP server (aiosmtpd) in this process that notes when each message arrives. One
oversellable variant is emptied; customers order it, each order one unit (one waiting line, one
order, one hold); the bench waits until every "placed" e-mail arrived, every hold is on and the
app has settled (no webhook left to send or process: the store's echoes of our own writes, an
orders/updated per order tagged, are not the restock's work). Then the stock arrives
(`restock` in the sandbox, which sends `inventory_levels/update` to our webhook route) and the
clock runs until every "ready" e-mail has been handed to the SMTP server and every
hold is released in the store. The time starts when the restock is made in the store, so it
includes the webhook's delivery.

1 line: RUNS times, one order each; p50/p95. 1,000 lines: once. Released one by one, each order
is at least one mutation (10 points), so on Standard 1,000 releases could not take less than
(10 x 1,000 - 2,000) / 100 = 80 s of bucket time: that floor is printed next to the figure, which
beats it because a batch of orders goes through bulk mutations (adapters/shopify/order_pushes.py).
Exactly once is checked: one "placed" and one "ready" per order, no more.
Progress on stderr; one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, select

from connector.config import load_settings
from connector.demo import Stack, install_shopify, start_stack, wait_for_first_sync
from connector.models import WebhookEvent
from connector.runtime import Runtime, build_runtime
from sandbox.mailbox import Mailbox, start_mailbox

RUNS = 20
LINES = 1000
STANDARD = {"bucket_size": 2000, "restore_rate": 100}
MUTATION_COST = 10
TIMEOUT = 600.0
POLL = 0.05  # seconds between looks at the mailbox and the store: the figures' resolution
KIND_HEADER = "X-Backorder-Kind"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class MailCatcher:
    """Who got which kind of message, and when it arrived, from the sandbox mailbox.

    Incremental: each look reads only the messages that arrived since the last one. (Reading
    them all again at every 50 ms poll, headers parsed each time, cost the process more CPU
    than the product's own work by the end of a 1,000-line round, and the product shares the
    process.)"""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self.seen = 0
        self.arrivals: dict[tuple[str, str], list[float]] = defaultdict(list)

    def _update(self) -> None:
        fresh = self.mailbox.messages()[self.seen :]
        self.seen += len(fresh)
        for item in fresh:
            kind = item.header(KIND_HEADER) or ""
            for recipient in item.recipients:
                self.arrivals[(kind, recipient.lower())].append(item.at)

    def times(self, kind: str, recipients: list[str]) -> list[float] | None:
        """Arrival of each recipient's first message of `kind`; None while one is missing."""
        self._update()
        firsts = [self.arrivals.get((kind, r.lower())) for r in recipients]
        if any(not f for f in firsts):
            return None
        return [f[0] for f in firsts if f]

    def count(self, kind: str, recipients: list[str]) -> int:
        self._update()
        return sum(len(self.arrivals.get((kind, r.lower()), ())) for r in recipients)


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[MailCatcher, str]]:
    running = start_mailbox()
    try:
        yield MailCatcher(running.mailbox), running.url
    finally:
        running.stop()


@contextlib.contextmanager
def stack(smtp_url: str, workdir: Path) -> Iterator[Stack]:
    settings = {
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "SECRET_KEY": Fernet.generate_key().decode() * 2,
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "REDIS_URL": None,
        "SMTP_URL": smtp_url,
        "LOG_LEVEL": "WARNING",
    }

    def make_runtime(**app: Any) -> Runtime:
        return build_runtime(load_settings(**settings, **app))

    with contextlib.redirect_stdout(sys.stderr):  # the install prints its steps
        running = start_stack("127.0.0.1", 0, make_runtime, shopify_plan=STANDARD)
    try:
        yield running
    finally:
        running.stop()
        running.runtime.db.dispose()


def wait_for(what: str, check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(POLL)
    raise SystemExit(f"timed out waiting for {what}")


class Shop:
    """The Shopify sandbox store seen from outside: orders placed, holds, stock."""

    def __init__(self, running: Stack) -> None:
        from sandbox.shopify.ids import gid

        self.store = running.sandboxes.shopify.store
        variant = next(
            v
            for v in sorted(self.store.variants.values(), key=lambda v: v.number)
            if v.inventoryPolicy == "CONTINUE"
        )
        self.variant = gid("ProductVariant", variant.number)
        available = self.store.available(variant)
        if available > 0:  # sold out first, by an order stock covers
            self.store.place_order([(self.variant, available)])

    def order(self) -> tuple[str, str]:
        placed = self.store.place_order([(self.variant, 1)])
        return placed, self.store.order_of(placed).email

    def held(self, orders: set[str]) -> set[str]:
        """Those of `orders` with a hold on one of their fulfillment orders."""
        with self.store.lock:
            return {
                placed
                for placed in orders
                if any(
                    self.store.fulfillment_orders[n].holds
                    for n in self.store.order_of(placed).fulfillment_order_numbers
                )
            }


def settled(running: Stack) -> bool:
    """No webhook waiting to be sent by the store or processed by us, and no job queued: the
    store's echoes of our own writes (orders/updated for each order tagged) are not the
    restock's work. (The sandbox delivers its webhooks a few at a time, in order; Shopify sends
    them in parallel, so a backlog of them would not hold up the restock's there.)"""
    runtime = running.runtime
    if running.sandboxes.shopify.app.extensions["shopify_sandbox"].delivery.pending():
        return False
    with runtime.db.transaction() as session:
        waiting = session.scalar(select(func.count()).where(WebhookEvent.state == "received"))
    return not waiting and runtime.jobs.depth() == 0


def one_round(shop: Shop, catcher: MailCatcher, count: int, running: Stack) -> dict[str, float]:
    """`count` orders wait; the stock for all of them arrives; until all are told and released."""
    orders, recipients = zip(*(shop.order() for _ in range(count)), strict=True)
    wait_for("placed e-mails", lambda: catcher.times("placed", list(recipients)))
    wait_for("holds", lambda: shop.held(set(orders)) == set(orders))
    wait_for("the app settled", lambda: settled(running))
    if count > 1:
        log(f"{count} lines waiting, holds on, the app settled: the stock arrives")
    start = time.perf_counter()
    shop.store.restock(shop.variant, count)
    told = wait_for("ready e-mails", lambda: catcher.times("ready", list(recipients)))
    still = set(orders)  # looked at again only while held: each look costs the store's lock

    def all_released() -> bool:
        still.intersection_update(shop.held(still))
        return not still

    wait_for("holds released", all_released)
    released = time.perf_counter()
    time.sleep(1.0)  # a duplicate would arrive about now
    return {
        "last_email_s": max(told) - start,
        "first_email_s": min(told) - start,
        "released_s": released - start,
        "done_s": max(max(told), released) - start,
        "placed": catcher.count("placed", list(recipients)),
        "ready": catcher.count("ready", list(recipients)),
        "orders": count,
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="one-line rounds")
    parser.add_argument("--lines", type=int, default=LINES, help="lines in the large round")
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as workdir,
        smtp_server() as (catcher, smtp_url),
        stack(smtp_url, Path(workdir)) as running,
    ):
        with contextlib.redirect_stdout(sys.stderr):
            shop_id = install_shopify(running)
            wait_for_first_sync(running.runtime, shop_id)
        shop = Shop(running)
        singles = []
        for run in range(options.runs):
            single = one_round(shop, catcher, 1, running)
            singles.append(single)
            log(f"1 line, run {run + 1}: told and released in {single['done_s']:.2f} s")
        log(f"{options.lines} lines ...")
        many = one_round(shop, catcher, options.lines, running)
        log(
            f"{options.lines} lines: first e-mail {many['first_email_s']:.1f} s, last "
            f"{many['last_email_s']:.1f} s, holds released {many['released_s']:.1f} s"
        )
    done = [s["done_s"] for s in singles]
    floor = (
        max(0.0, (MUTATION_COST * options.lines - STANDARD["bucket_size"]))
        / (STANDARD["restore_rate"])
    )
    exactly_once = all(s["placed"] == s["ready"] == s["orders"] for s in [*singles, many])
    figures = {
        "bench": "notify",
        "one_line": {
            "runs": len(done),
            "p50_s": round(statistics.median(done), 3),
            "p95_s": round(percentile(done, 0.95), 3),
            "max_s": round(max(done), 3),
        },
        "many_lines": {
            "lines": options.lines,
            "first_email_s": round(many["first_email_s"], 2),
            "last_email_s": round(many["last_email_s"], 2),
            "holds_released_s": round(many["released_s"], 2),
            "one_by_one_floor_s": round(floor, 1),
        },
        "exactly_once": exactly_once,
        "goals": {
            "one_line_p95_under_2s": percentile(done, 0.95) < 2.0,
            "many_lines_under_60s": many["done_s"] < 60.0,
        },
    }
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
