"""How fast and how frugally a first full sync runs: `python -m bench.sync [--quick]`.

Why: the first sync of a newly installed store is the longest thing the product does, and the
platform meters it. Each scenario is a sandbox store of a given size (variants, orders), served
by a process of its own, synced by `connector.services.sync.run_sync` through the real adapter
into a fresh SQLite file in another process of its own (so its peak memory is the sync's alone).

Printed per scenario, against what the platform allows at best:
- requests (every HTTP answer, retries included) and, on Shopify, query cost points
  (`actualQueryCost` summed) against the minimum: a Shopify bulk sync needs the shop query, then
  per resource one bulkOperationRunQuery, one poll and one download; a paged walk needs at least
  total cost / 1000 requests (the single-query cost cap); WooCommerce needs ceil(n / 100) pages
  per collection, variations read from the `GET /variations` collection of WooCommerce 10.3+
  (the minimum before 10.3, with each variable product's variations on pages of their own, is
  shown too);
- wall time against a floor: a Shopify bulk sync cannot beat a bare loop that runs the same two
  exports and downloads and parses their files (the rate limit costs it nothing: ~25 points); a
  paged walk cannot beat the emulated bucket, (points - bucket size) / restore rate; WooCommerce
  cannot beat a bare loop fetching the same pages through the same client. The wall is split into
  time inside the adapter (fetching and reading records) and time storing them (the sync's
  upserts and the backorder engine), since only the first is the adapter's to win. The sync
  reads pages ahead while it stores, so the two overlap: storing is the wall less the time the
  sync waited for a page;
- peak memory: `resource.getrusage(RUSAGE_SELF).ru_maxrss` of the syncing process (resident set,
  imports and all; the figure after set-up, before the sync, is shown beside it);
- records per second: (variants + orders) / wall; THROTTLED answers absorbed and errors surfaced.

Progress and a table on stderr; one JSON line on stdout. Goals (issue 5): requests <= 1.05 x the
minimum, wall <= 1.25 x the floor, no throttling error surfaced, peak memory < 300 MB at 100,000
variants.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

MIB = 1024  # ru_maxrss is in KiB on Linux
PLUS_RESTORE = 1000.0  # points/s of a Shopify Plus bucket (platform-notes.md)
STANDARD_RESTORE = 100.0
BUCKET = 2000.0


@dataclass(frozen=True)
class Scenario:
    platform: str  # "shopify" or "woocommerce"
    variants: int
    orders: int  # past orders in the store (the seed's own few hundred included)
    paged: bool = False  # Shopify: force the paged walk (bulk_threshold=None)
    restore_rate: float = STANDARD_RESTORE
    bulk_threshold: int | None = None  # None: the adapter's default
    walk_only: bool = False  # the adapter's walk alone, records dropped: no database

    @property
    def name(self) -> str:
        mode = "-paged" if self.paged else ("-bulk" if self.platform == "shopify" else "")
        walk = "-walk" if self.walk_only else ""
        return f"{self.platform}{mode}-{self.variants}v-{self.orders}o{walk}"


# The sizes end to end: run_sync into SQLite of stores with 10,000 and 100,000 variants and
# 50,000 orders (about 13 minutes in all); the paged walk on a small store at the Standard plan's
# rate. Before set-based storing (bench/RESULTS.md) the big ones were walked by the adapter alone.
FULL = (
    Scenario("shopify", 10_000, 50_000),
    Scenario("woocommerce", 10_000, 50_000),
    Scenario("shopify", 300, 300, paged=True),
    Scenario("shopify", 100_000, 50_000),
    Scenario("woocommerce", 100_000, 50_000),
)
QUICK = (
    Scenario("shopify", 1_000, 1_000, bulk_threshold=100),
    Scenario("woocommerce", 1_000, 1_000),
    Scenario("shopify", 300, 300, paged=True, restore_rate=PLUS_RESTORE),
    Scenario("shopify", 10_000, 10_000, walk_only=True),
    Scenario("woocommerce", 10_000, 10_000, walk_only=True),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- store processes
def serve(platform: str, variants: int, orders: int, restore_rate: float) -> None:
    """Child process: seed and serve one store, print how to reach it, serve until stdin ends."""
    if platform == "shopify":
        from sandbox.shopify.seed import seed
        from sandbox.shopify.server import start
        from sandbox.shopify.store import ShopifyStore

        store = seed(ShopifyStore(), seed=1, variants=variants)
        add_shopify_orders(store, orders - len(store.orders), random.Random(2))
        running = start(store=store, restore_rate=restore_rate, bucket_size=BUCKET)
        variable = sum(1 for p in store.products.values() if len(p.variant_numbers) > 1)
        line = {
            "shop": running.shop,
            "admin_base_url": running.admin_base_url,
            "access_token": running.access_token,
            "products": len(store.products),
            "variable": variable,
            "variants": len(store.variants),
            "levels": len(store.levels),
            "orders": len(store.orders),
        }
    else:
        from sandbox.woocommerce.seed import seed as seed_woo
        from sandbox.woocommerce.server import start as start_woo
        from sandbox.woocommerce.store import WooStore

        woo = WooStore()
        seed_woo(woo, seed=1, variants=variants, orders=orders)
        running = start_woo(store=woo)
        items = list(woo.products.values())
        parents = [p for p in items if p.type != "variation"]
        pages = [
            math.ceil(sum(1 for v in items if v.parent_id == p.id) / 100)
            for p in parents
            if p.type == "variable"
        ]
        line = {
            "url": running.url,
            "consumer_key": running.consumer_key,
            "consumer_secret": running.consumer_secret,
            "products": len(parents),
            "variable": len(pages),
            "variation_pages": sum(max(n, 1) for n in pages),
            "variants": len(items) - len(pages),  # sellable items: simple products + variations
            "orders": len(woo.orders),
        }
    print(json.dumps(line), flush=True)
    sys.stdin.read()  # the parent closes our stdin when it is done with us
    running.stop()


def add_shopify_orders(store: Any, count: int, rng: random.Random) -> None:
    """Order history like the seed's: over 30 days, most older ones fulfilled, 3% cancelled;
    stocked variants sell while they can, oversellable ones take the rest (backorders)."""
    now = store.clock()
    live = [
        v for v in store.variants.values() if store.products[v.product_number].status == "ACTIVE"
    ]
    oversell = [v for v in live if v.inventoryPolicy == "CONTINUE"]
    times = sorted(now - timedelta(minutes=rng.randint(10, 30 * 24 * 60)) for _ in range(count))
    real_clock = store.clock
    try:
        for when in times:
            store.clock = lambda when=when: when
            lines: dict[str, int] = {}
            for variant in rng.sample(live, rng.choice((1, 1, 1, 2, 3))):
                qty = rng.choice((1, 1, 1, 2))
                if variant.inventoryPolicy == "DENY" and store.available(variant) < qty:
                    variant = rng.choice(oversell)
                lines[variant.id] = lines.get(variant.id, 0) + qty
            gid = store.place_order(list(lines.items()), announce=False)
            roll = rng.random()
            if roll < 0.03:
                store.cancel_order(gid)
            elif now - when > timedelta(days=3) and roll < 0.9:
                store.fulfil_order(gid)
    finally:
        store.clock = real_clock
        store.events.clear()


class Store:
    """A store process for the length of a `with` block."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def __enter__(self) -> dict[str, Any]:
        s = self.scenario
        command = [sys.executable, "-m", "bench.sync", "serve", s.platform]
        command += [str(s.variants), str(s.orders), str(s.restore_rate)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise SystemExit(f"the {s.platform} store did not start")
        return json.loads(line)

    def __exit__(self, *_: object) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        self.process.wait(timeout=60)


# ---------------------------------------------------------------------------- counting
class Meter:
    """Counts every HTTP answer and sums Shopify's query costs, via a session response hook."""

    def __init__(self) -> None:
        self.requests = 0
        self.points = 0.0
        self.throttled = 0
        self.session = requests.Session()
        self.session.hooks["response"].append(self._seen)

    def _seen(self, response: requests.Response, *_: Any, **__: Any) -> None:
        self.requests += 1
        if not response.url.endswith("/graphql.json"):
            return  # a bulk file or a WooCommerce page: nothing to read, never read twice
        body = response.json()
        cost = (body.get("extensions") or {}).get("cost") or {}
        self.points += cost.get("actualQueryCost") or 0
        errors = body.get("errors")
        if isinstance(errors, list) and any(
            (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
        ):
            self.throttled += 1


class Timed:
    """The adapter, with the time spent inside it (fetching, parsing) added up."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter
        self.platform = adapter.platform
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.adapter, name)

    def shop(self) -> Any:
        start = time.perf_counter()
        try:
            return self.adapter.shop()
        finally:
            self.seconds += time.perf_counter() - start

    def product_pages(self, **kwargs: Any) -> Iterator[Any]:
        return self._timed(self.adapter.product_pages(**kwargs))

    def order_pages(self, **kwargs: Any) -> Iterator[Any]:
        return self._timed(self.adapter.order_pages(**kwargs))

    def _timed(self, pages: Iterator[Any]) -> Iterator[Any]:
        while True:
            start = time.perf_counter()
            try:
                page = next(pages)
            except StopIteration:
                return
            finally:
                self.seconds += time.perf_counter() - start
            yield page


# ---------------------------------------------------------------------------- the sync
def sync(spec: dict[str, Any]) -> None:
    """Child process: run_sync one store into a fresh SQLite file; print the figures."""
    from cryptography.fernet import Fernet

    from connector.config import load_settings
    from connector.migrate import upgrade
    from connector.runtime import build_runtime
    from connector.services.shops import add_shop
    from connector.services.sync import run_sync

    scenario, store = Scenario(**spec["scenario"]), spec["store"]
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        settings = load_settings(
            DATABASE_URL=f"sqlite:///{Path(tmp) / 'sync.db'}",
            SECRET_KEY="x" * 40,
            TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode(),
            REDIS_URL=None,
            ALLOW_PRIVATE_STORE_URLS=True,
        )
        runtime = build_runtime(settings)
        upgrade(runtime.db.engine)
        meter = Meter()
        adapter = _adapter(scenario, store, meter.session)
        with runtime.db.transaction() as session:
            shop_id = add_shop(
                session,
                runtime.clock,
                runtime.vault,
                platform=scenario.platform,
                domain=store.get("shop") or store["url"],
                credentials={"access_token": "-"},
            ).id
        timed = Timed(adapter)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB
        start = time.perf_counter()
        error = None
        waited = None
        try:
            if scenario.walk_only:
                records = walk(timed)
            else:
                summary = run_sync(runtime, timed, shop_id, full=True)  # type: ignore[arg-type]
                records, waited = summary.records, summary.waited_s
        except Exception as exc:  # a surfaced error is a figure here, not a crash
            error, records = f"{type(exc).__name__}: {exc}", {}
        wall = time.perf_counter() - start
        # The sync reads pages ahead while it stores: storing is the time it did not wait.
        busy = wall - (timed.seconds if waited is None else waited)
        throttled = getattr(getattr(adapter, "transport", None), "throttled_count", meter.throttled)
        print(
            json.dumps(
                {
                    "wall_s": round(wall, 2),
                    "adapter_s": round(timed.seconds, 2),
                    "store_s": round(busy, 2),
                    "requests": meter.requests,
                    "points": meter.points,
                    "throttled_absorbed": throttled,
                    "error_surfaced": error,
                    "records": records,
                    "rss_before_sync_mb": round(rss_before, 1),
                    "peak_rss_mb": round(
                        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB, 1
                    ),
                }
            ),
            flush=True,
        )


def walk(adapter: Timed) -> dict[str, int]:
    """What a full sync asks of the adapter, each record read and dropped."""
    before = datetime.now(UTC)
    adapter.shop()
    counts = {"products": 0, "variants": 0, "orders": 0}
    for page in adapter.product_pages(updated_before=before):
        counts["products"] += len(page.items)
        counts["variants"] += sum(len(p.variants) for p in page.items)
    for page in adapter.order_pages(updated_before=before):
        counts["orders"] += len(page.items)
    return counts


def _adapter(scenario: Scenario, store: dict[str, Any], session: requests.Session) -> Any:
    if scenario.platform == "shopify":
        from adapters.shopify import ShopifyAdapter, queries

        threshold = scenario.bulk_threshold or queries.BULK_THRESHOLD
        return ShopifyAdapter(
            store["shop"],
            store["access_token"],
            admin_base_url=store["admin_base_url"],
            session=session,
            bulk_threshold=None if scenario.paged else threshold,
            allow_private=True,  # the local sandbox
        )
    from adapters.woocommerce import WooCommerceAdapter

    return WooCommerceAdapter(
        store["url"],
        store["consumer_key"],
        store["consumer_secret"],
        session=session,
        allow_private=True,  # the local sandbox
    )


def run_sync_process(scenario: Scenario, store: dict[str, Any]) -> dict[str, Any]:
    spec = json.dumps({"scenario": asdict(scenario), "store": store})
    done = subprocess.run(
        [sys.executable, "-m", "bench.sync", "sync", spec],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{scenario.name}: the sync process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- floors
def shopify_bulk_floor(store: dict[str, Any]) -> float:
    """The same two exports, polled back to back, their files downloaded and parsed."""
    from adapters.shopify import queries

    session = requests.Session()
    session.headers["X-Shopify-Access-Token"] = store["access_token"]
    url = f"{store['admin_base_url']}/graphql.json"
    before = datetime.now(UTC) + timedelta(seconds=1)
    search = f"updated_at:<'{before:%Y-%m-%dT%H:%M:%SZ}'"

    def call(document: str, **variables: Any) -> dict[str, Any]:
        answer = session.post(url, json={"query": document, "variables": variables})
        return answer.json()["data"]

    start = time.perf_counter()
    for document in (queries.bulk_products(search), queries.bulk_orders(search)):
        run = call(queries.BULK_OPERATION_RUN_QUERY, query=document)["bulkOperationRunQuery"]
        operation = run["bulkOperation"]
        while operation["status"] in ("CREATED", "RUNNING"):
            time.sleep(0.01)  # the sandbox answers a poll when the export is done
            operation = call(queries.BULK_OPERATION, id=operation["id"])["node"]
        if operation["url"]:
            with session.get(operation["url"], stream=True) as response:
                for line in response.iter_lines(chunk_size=1 << 16):
                    json.loads(line)
    return time.perf_counter() - start


def woocommerce_floor(store: dict[str, Any]) -> tuple[float, int]:
    """The pages the adapter fetches, through the same client, records left unread: the pages
    of products with their variable products' variations (`GET /variations?parent=…` where the
    store serves it, a few pages of products at a time, as the adapter reads them), then the
    pages of orders."""
    from adapters.woocommerce.client import WooClient, WooRequestError
    from adapters.woocommerce.walk import Variations, walk, with_variations

    meter = Meter()
    client = WooClient(
        store["url"],
        store["consumer_key"],
        store["consumer_secret"],
        session=meter.session,
        allow_private=True,
    )
    variations = Variations(client)
    before = datetime.now(UTC) + timedelta(seconds=1)
    start = time.perf_counter()
    try:
        client.get("system_status")
    except WooRequestError:  # as the adapter: no system_status, so the latest order's currency
        client.get("orders", {"per_page": 1, "orderby": "date", "order": "desc"})
    products = walk(client, "products", after=None, before=before, cursor=None)
    for _ in with_variations(products, variations):
        pass
    for _ in walk(client, "orders", after=None, before=before, cursor=None):
        pass
    return time.perf_counter() - start, meter.requests


# ---------------------------------------------------------------------------- one scenario
def measure(scenario: Scenario) -> dict[str, Any]:
    log(f"{scenario.name}: seeding and starting the store")
    with Store(scenario) as store:
        figures: dict[str, Any] = {"scenario": scenario.name, "store": _sizes(store)}
        if scenario.platform == "woocommerce":
            (floor, floor_requests), (again, _) = woocommerce_floor(store), woocommerce_floor(store)
            floor = min(floor, again)  # the best of two: a floor, on a shared, noisy machine
            # The sandbox is WooCommerce 10.3+: every variation is on the `GET /variations`
            # collection, 100 a page. Before 10.3 each variable product needs its own pages.
            variations = store["variants"] - store["products"] + store["variable"]
            minimum = 1 + math.ceil(store["products"] / 100) + math.ceil(variations / 100)
            minimum += math.ceil(store["orders"] / 100)
            per_product = minimum - math.ceil(variations / 100) + store["variation_pages"]
            figures |= {
                "floor_s": round(floor, 2),
                "floor_kind": "bare loop, same pages",
                "floor_requests": floor_requests,
                "requests_min": minimum,
                "requests_min_per_product_variations": per_product,
            }
        elif not scenario.paged:
            log(f"{scenario.name}: the floor (bare exports)")
            floor = shopify_bulk_floor(store)
            figures |= {
                "floor_s": round(floor, 2),
                "floor_kind": "bare bulk exports + downloads",
                "requests_min": 7,
                "points_min": 1 + 2 * (10 + 1),
            }
        log(f"{scenario.name}: {'the adapter walk' if scenario.walk_only else 'run_sync'}")
        result = run_sync_process(scenario, store)
        figures |= result
        if scenario.platform == "shopify" and scenario.paged:
            figures["floor_s"] = round(
                max(0.0, result["points"] - BUCKET) / scenario.restore_rate, 2
            )
            figures["floor_kind"] = f"bucket {BUCKET:.0f} at {scenario.restore_rate:.0f} points/s"
            figures["requests_min"] = math.ceil(result["points"] / 1000)
            figures["points_min"] = result["points"]
    return _judge(figures, store)


def _sizes(store: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in store.items() if isinstance(v, int)}


def _judge(figures: dict[str, Any], store: dict[str, Any]) -> dict[str, Any]:
    records = store["variants"] + store["orders"]
    wall, floor = figures["wall_s"], figures["floor_s"]
    figures["records_per_s"] = round(records / wall) if wall else None
    figures["requests_ratio"] = round(figures["requests"] / figures["requests_min"], 3)
    figures["wall_ratio"] = round(wall / floor, 2) if floor else None
    figures["adapter_wall_ratio"] = round(figures["adapter_s"] / floor, 2) if floor else None
    figures["goals"] = {
        "requests_within_1_05": figures["requests_ratio"] <= 1.05,
        "wall_within_1_25_floor": floor > 0 and wall <= 1.25 * floor,
        "no_throttling_error_surfaced": figures["error_surfaced"] is None,
    }
    if store["variants"] >= 100_000:
        figures["goals"]["peak_under_300mb"] = figures["peak_rss_mb"] < 300
    return figures


def table(results: list[dict[str, Any]]) -> None:
    log("")
    log(
        f"{'scenario':<34}{'requests/min':>16}{'points':>9}{'wall s':>8}{'floor s':>8}"
        f"{'adapter s':>10}{'store s':>9}{'peak MB':>9}{'rec/s':>7}"
    )
    for r in results:
        log(
            f"{r['scenario']:<34}{r['requests']:>8}/{r['requests_min']:<7}{r['points']:>9.0f}"
            f"{r['wall_s']:>8}{r['floor_s']:>8}{r['adapter_s']:>10}{r['store_s']:>9}"
            f"{r['peak_rss_mb']:>9}{r['records_per_s']:>7}"
        )


def _scenario(text: str) -> Scenario:
    platform, variants, orders, *mode = text.split(":")
    return Scenario(platform, int(variants), int(orders), paged=mode == ["paged"])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sync")
    parser.add_argument("--quick", action="store_true", help="small stores, about a minute")
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        help="instead: PLATFORM:VARIANTS:ORDERS[:paged] (repeatable), e.g. shopify:10000:50000",
    )
    args = parser.parse_args()
    scenarios = [_scenario(text) for text in args.scenario] or [
        s for s in (QUICK if args.quick else FULL) if args.only in (None, "") or args.only in s.name
    ]
    started = time.perf_counter()
    results = [measure(s) for s in scenarios]
    table(results)
    log(f"total {time.perf_counter() - started:.0f} s")
    print(json.dumps({"quick": args.quick, "scenarios": results}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "sync":
        sync(json.loads(sys.argv[2]))
    else:
        main()
