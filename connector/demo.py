"""`backorder demo`: the product installed into the two sandbox stores, on a throw-away SQLite file.

Everything the demo shows goes through the real parts. Both emulated stores start; our web app
serves on a real port (`APP_URL`) with the Shopify sandbox's app key and secret; a scripted
merchant's browser (`requests`, following redirects) installs the app into each store through the
install flows: Shopify's authorization-code grant (`/shopify/install` → the store's authorize
page, where the merchant approves → `/shopify/callback`: code exchanged, webhooks registered) and
WooCommerce's app key flow (`/woocommerce/install` → `/wc-auth/v1/authorize`, which posts the
keys to `/woocommerce/callback` → `/woocommerce/return`). The demo waits for each shop's first
sync by watching its sync cursors, so it does not care whether the install runs that sync inline
or queues it; if no sync has started shortly after the install, it runs one itself, as
`backorder sync --shop ID --full` would. Then customers order more than is on the shelf, a
delivery arrives short, an order is cancelled, the next sync feeds those platform-side events to
the engine, and the merchant records a purchase order.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import click
import requests
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from connector.clock import shop_today
from connector.commands import execute
from connector.jobs import InProcessQueue
from connector.migrate import upgrade
from connector.models import (
    Backorder,
    Notification,
    Order,
    OrderLine,
    Product,
    Shop,
    StoreWrite,
    SyncCursor,
    Variant,
    WebhookEvent,
)
from connector.runtime import Runtime
from connector.services.notify.send import KIND_HEADER
from connector.services.status_links import read_status_token
from connector.services.stock import add_incoming
from connector.services.sync import RESOURCES, SyncBusy, run_sync_for
from connector.services.tokens import create_token
from connector.stores import adapter_for
from sandbox.mailbox import Mailbox, Received, start_mailbox

if TYPE_CHECKING:
    from sandbox.run import Sandboxes

DEMO_DIR = Path(".demo")
MAIL_DIR = DEMO_DIR / "mail"
STATUS_LINK = re.compile(r"https?://\S+/status/[\w.-]+")
VARIANTS = 200  # per store: a small shop
# The Shopify sandbox plays a Shopify Plus store (1,000 points/s restore, platform-notes.md),
# so the demo's syncs take seconds; the Standard plan's 100/s would take a minute and a half.
SHOPIFY_PLAN = {"restore_rate": 1000}
# How long a shop may show no sync at all after its install before the demo runs the first one.
FIRST_SYNC_GRACE = 2.0
FIRST_SYNC_TIMEOUT = 120.0
BROWSER_TIMEOUT = (5, 120)  # the Shopify callback may run the first sync before it answers
STEPS = {
    "/shopify/install": "install started",
    "/admin/oauth/authorize": "the merchant approved on the store's authorize page",
    "/shopify/callback": "code exchanged for a token, webhooks registered",
    "/woocommerce/install": "install started",
    "/wc-auth/v1/authorize": "the merchant approved; the store posted keys to our callback",
    "/woocommerce/return": "the merchant is back in the app",
    "/app/login": "the dashboard asks the merchant to sign in",
}


def demo_settings() -> dict[str, Any]:
    """A fresh database and throw-away keys, whatever the operator's .env says."""
    DEMO_DIR.mkdir(exist_ok=True)
    for leftover in [*DEMO_DIR.glob("backorder.db*"), *MAIL_DIR.glob("*.eml")]:
        leftover.unlink()
    return {
        "DATABASE_URL": f"sqlite:///{DEMO_DIR / 'backorder.db'}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "REDIS_URL": None,  # one process: the jobs run on this process's worker threads
    }


def app_settings(app_url: str, sandboxes: Sandboxes) -> dict[str, Any]:
    """Our app as the stores know it: its public URL and the key and secret Shopify issued it."""
    shopify = sandboxes.shopify
    return {
        "APP_URL": app_url,
        "SHOPIFY_API_KEY": shopify.api_key,
        "SHOPIFY_API_SECRET": shopify.api_secret,
        "SHOPIFY_ADMIN_BASE_URL": shopify.admin_base_url,
        "ALLOW_PRIVATE_STORE_URLS": True,  # the sandbox stores live on localhost
    }


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: the demo prints its own steps."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class Stack:
    """The two sandbox stores and our web app on a real port, wired as a merchant meets them."""

    runtime: Runtime
    sandboxes: Sandboxes
    app_url: str
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if isinstance(self.runtime.jobs, InProcessQueue):
            self.runtime.jobs.stop()
        self.sandboxes.stop()


def start_stack(
    host: str,
    port: int,
    make_runtime: Callable[..., Runtime],
    *,
    shopify_plan: dict[str, Any] | None = None,
) -> Stack:
    """Start the stores, bind our port, build the runtime for that `APP_URL`, then serve.

    `shopify_plan`: the Shopify sandbox's rate limit (default: the demo's generous one; a
    benchmark passes Standard's)."""
    from sandbox.run import start_both

    plan = SHOPIFY_PLAN if shopify_plan is None else shopify_plan
    sandboxes = start_both(host, variants=VARIANTS, seed=7, shopify_options=plan)
    try:
        # Bound first so port 0 works: the app's URL must be known before the runtime is built.
        server = make_server(
            host, port, Flask("starting"), threaded=True, request_handler=_QuietHandler
        )
    except OSError as exc:
        sandboxes.stop()
        raise click.ClickException(f"cannot serve on {host}:{port} ({exc}); try --port") from exc
    except BaseException:
        sandboxes.stop()
        raise
    try:
        app_url = f"http://{host}:{server.server_port}"
        runtime = make_runtime(**app_settings(app_url, sandboxes))
        upgrade(runtime.db.engine)
        from connector.web import create_app

        server.app = create_app(runtime)
        if isinstance(runtime.jobs, InProcessQueue):
            # As the embedded `backorder serve`: this process works the job queue too.
            runtime.jobs.start(runtime.settings.WORKER_THREADS)
    except BaseException:
        server.server_close()
        sandboxes.stop()
        raise
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="demo-web")
    thread.start()
    return Stack(runtime, sandboxes, app_url, server, thread)


# ---------------------------------------------------------------------------- install


def _browse(stack: Stack, path: str, params: dict[str, str]) -> requests.Response:
    """What the merchant's browser does: GET, follow every redirect, print each hop."""
    with requests.Session() as browser:
        browser.headers["Accept"] = "application/json"
        answer = browser.get(f"{stack.app_url}{path}", params=params, timeout=BROWSER_TIMEOUT)
    for hop in [*answer.history, answer]:
        where = urlsplit(hop.url)
        origin = "app  " if f"{where.scheme}://{where.netloc}" == stack.app_url else "store"
        note = STEPS.get(where.path, "")
        if hop is answer and not hop.ok:
            note = "the merchant lands here (no page is served here yet)"
        click.echo(f"  {hop.status_code} {origin} {where.path:<24} {note}".rstrip())
    return answer


def install_shopify(stack: Stack) -> int:
    shop = stack.sandboxes.shopify.shop
    click.echo(f"Shopify: installing into {shop}")
    landed = _browse(stack, "/shopify/install", {"shop": shop})
    # The app's landing page (the dashboard, which then asks the merchant to sign in).
    for hop in [*landed.history, landed]:
        query = parse_qs(urlsplit(hop.url).query)
        if urlsplit(hop.url).path == "/app/" and "shop_id" in query:
            return int(query["shop_id"][0])
    raise click.ClickException(f"the Shopify install failed: {landed.text[:500]}")


def install_woocommerce(stack: Stack) -> int:
    url = stack.sandboxes.woocommerce.url
    click.echo(f"WooCommerce: installing into {url}")
    landed = _browse(stack, "/woocommerce/install", {"store_url": url})
    answered = landed.headers.get("Content-Type", "").startswith("application/json")
    if urlsplit(landed.url).path != "/woocommerce/return" or not (
        answered and landed.json().get("installed")
    ):
        raise click.ClickException(f"the WooCommerce install failed: {landed.text[:500]}")
    shop_id = execute(
        stack.runtime,
        lambda s: s.scalar(
            select(Shop.id).where(Shop.platform == "woocommerce", Shop.domain == url)
        ),
    )
    if shop_id is None:
        raise click.ClickException(f"no WooCommerce shop was stored for {url}")
    return int(shop_id)


def _first_sync_state(runtime: Runtime, shop_id: int) -> str:
    """The first sync is "done" (every resource walked), "running" (leased) or "none" yet."""

    def look(session: Any) -> str:
        done = session.scalar(
            select(func.count())
            .select_from(SyncCursor)
            .where(SyncCursor.shop_id == shop_id, SyncCursor.last_success_at.is_not(None))
        )
        if done >= len(RESOURCES):
            return "done"
        lease = session.get_one(Shop, shop_id).sync_lease_until
        return "running" if lease is not None else "none"

    return execute(runtime, look)


def wait_for_first_sync(runtime: Runtime, shop_id: int) -> str:
    """Wait until the shop's first sync completed; returns who ran it: "install" or "demo"."""
    started = time.monotonic()
    while time.monotonic() - started < FIRST_SYNC_TIMEOUT:
        state = _first_sync_state(runtime, shop_id)
        if state == "done":
            return "install"
        if state == "none" and time.monotonic() - started > FIRST_SYNC_GRACE:
            try:
                run_sync_for(runtime, shop_id, full=True)
                return "demo"
            except SyncBusy:
                pass  # the install's own sync took the lease just now: wait for it
        time.sleep(0.1)
    raise click.ClickException(f"shop {shop_id}: no first sync within {FIRST_SYNC_TIMEOUT:.0f} s")


def _counts(runtime: Runtime, shop_id: int) -> dict[str, int]:
    def count(session: Any, model: Any, *where: Any) -> int:
        query = select(func.count()).select_from(model).where(model.shop_id == shop_id, *where)
        return int(session.scalar(query) or 0)

    return execute(
        runtime,
        lambda s: {
            "products": count(s, Product),
            "variants": count(s, Variant),
            "orders": count(s, Order),
            "backorders": count(s, Backorder, Backorder.status == "waiting"),
        },
    )


@dataclass
class DemoShops:
    shopify_id: int
    woocommerce_id: int
    shopify_token: str
    woocommerce_token: str

    def tokens(self) -> tuple[tuple[str, str], ...]:
        """(platform, API token) of each installed shop."""
        return (("shopify", self.shopify_token), ("woocommerce", self.woocommerce_token))


def install_shops(stack: Stack) -> tuple[DemoShops, dict[str, Any]]:
    """Install into each store as a merchant would, wait for its first sync, report."""
    runtime = stack.runtime
    installed: dict[str, Any] = {}
    first_sync: dict[str, Any] = {}
    for platform, install in (("shopify", install_shopify), ("woocommerce", install_woocommerce)):
        shop_id = install(stack)
        shop = execute(runtime, lambda s, i=shop_id: s.get_one(Shop, i))
        topics = sorted(hook.topic for hook in adapter_for(runtime, shop).list_webhooks())
        installed[platform] = {"shop_id": shop_id, "webhooks": topics}
        click.echo(f"  installed as shop {shop_id}; webhooks: {', '.join(topics)}")
        by = wait_for_first_sync(runtime, shop_id)
        counts = first_sync[platform] = {**_counts(runtime, shop_id), "run_by": by}
        click.echo(
            f"  first sync (run by the {by}): {counts['products']} products, "
            f"{counts['variants']} variants, {counts['orders']} orders; "
            f"{counts['backorders']} backordered line(s) in the store's order history"
        )
    ids = {platform: row["shop_id"] for platform, row in installed.items()}
    shops = execute(
        runtime,
        lambda s: DemoShops(
            ids["shopify"],
            ids["woocommerce"],
            create_token(s, ids["shopify"], "demo"),
            create_token(s, ids["woocommerce"], "demo"),
        ),
    )
    return shops, {"installed": installed, "first_sync": first_sync}


# ---------------------------------------------------------------------------- scenario


def _shopify_scenario(store: Any) -> dict[str, Any]:
    """Three customers order more than is left of two oversellable variants; one cancels."""
    from sandbox.shopify.ids import gid

    sellable = [
        v
        for v in store.variants.values()
        if v.inventoryPolicy == "CONTINUE" and store.available(v) >= 0
    ][:2]
    placed = []
    for variant in sellable:
        target = gid("ProductVariant", variant.number)
        placed.append(store.place_order([(target, store.available(variant) + 2)]))
        placed.append(store.place_order([(target, 1)], shipping="Express"))
    store.cancel_order(placed[-1])
    store.restock(gid("ProductVariant", sellable[0].number), 1)  # a delivery arrives short
    oversold = [v.sku for v in sellable]
    return {
        "orders_placed": len(placed),
        "orders_cancelled": 1,
        "restocked_units": 1,
        "oversold": oversold,
    }


def _woocommerce_scenario(store: Any) -> dict[str, Any]:
    """The same on WooCommerce: stock goes negative where backorders are allowed."""
    simple = [
        p
        for p in store.products.values()
        if p.type == "simple"
        and p.manage_stock
        and p.backorders in ("notify", "yes")
        and (p.stock_quantity or 0) >= 0
    ][:2]
    placed = []
    for product in simple:
        placed.append(store.place_order([(product.id, 0, (product.stock_quantity or 0) + 2)]))
        placed.append(store.place_order([(product.id, 0, 1)]))
    store.cancel_order(placed[-1])
    store.restock(simple[0].id, 0, 1)
    oversold = [p.sku for p in simple]
    return {
        "orders_placed": len(placed),
        "orders_cancelled": 1,
        "restocked_units": 1,
        "oversold": oversold,
    }


def _purchase_order(runtime: Runtime, shop_id: int) -> str | None:
    """The merchant records a purchase order for the waiting variant first by SKU."""

    def record(session: Any) -> str | None:
        variant_id = session.scalar(
            select(Backorder.variant_id)
            .join(Variant, Variant.id == Backorder.variant_id)
            .where(Backorder.shop_id == shop_id, Backorder.status == "waiting")
            .order_by(Variant.sku)
            .limit(1)
        )
        if variant_id is None:
            return None
        variant = session.get_one(Variant, variant_id)
        shop = session.get_one(Shop, shop_id)
        expected = shop_today(runtime.clock, shop.timezone) + timedelta(days=6)
        add_incoming(
            session, runtime.clock, variant, quantity=2, expected_on=expected, reference="PO-DEMO-1"
        )
        return variant.sku

    return execute(runtime, record)


def _settle(stack: Stack, seconds: float = 20) -> int:
    """Wait until both stores have sent their webhooks and every delivery is processed, so
    what the demo prints is the settled state, not a moment mid-stream. Returns the count."""
    shopify = stack.sandboxes.shopify.app.extensions["shopify_sandbox"].delivery
    woo = stack.sandboxes.woocommerce.dispatcher

    def waiting() -> int:
        with stack.runtime.db.transaction() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(WebhookEvent)
                    .where(WebhookEvent.state == "received")
                )
                or 0
            )

    deadline = time.monotonic() + seconds
    quiet = 0
    while time.monotonic() < deadline and quiet < 3:  # three quiet looks in a row
        idle = shopify.pending() == 0 and woo.wait_idle(0.1) and stack.runtime.jobs.depth() == 0
        quiet = quiet + 1 if idle and waiting() == 0 else 0
        time.sleep(0.1)
    with stack.runtime.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(WebhookEvent)) or 0)


def play_scenario(stack: Stack, shops: DemoShops) -> dict[str, Any]:
    """Orders beyond stock, a short delivery, a cancellation; sync; a purchase order."""
    runtime, sandboxes = stack.runtime, stack.sandboxes
    scenario = {
        "shopify": _shopify_scenario(sandboxes.shopify.store),
        "woocommerce": _woocommerce_scenario(sandboxes.woocommerce.store),
    }
    for platform, played in scenario.items():
        click.echo(
            f"Scenario on {platform}: {played['orders_placed']} orders beyond the stock of "
            f"{' and '.join(played['oversold'])}, one cancelled, a delivery of 1 unit"
        )
    settled = _settle(stack)
    click.echo(f"The stores' webhooks arrived and were processed ({settled} deliveries)")
    for shop_id in (shops.shopify_id, shops.woocommerce_id):
        run_sync_for(runtime, shop_id, full=True)  # the reconciliation a missed webhook needs
    po_for = _purchase_order(runtime, shops.shopify_id)
    click.echo(f"The merchant records purchase order PO-DEMO-1 (2 units of {po_for}, in 6 days)")
    runtime.bus.dispatch_pending(runtime.db)
    return {"scenario": scenario, "purchase_order_for": po_for}


def _api(stack: Stack, token: str, resource: str, **params: str) -> requests.Response:
    """One page (up to 100) of a JSON API list, as a shop's API client reads it."""
    return requests.get(
        f"{stack.app_url}/api/v1/{resource}",
        params={**params, "limit": "100"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def check_api(stack: Stack, shops: DemoShops) -> dict[str, Any]:
    """What a support agent's client reads from the served API: each shop's waiting queue."""
    health = requests.get(f"{stack.app_url}/healthz", timeout=10)
    queue: list[dict[str, Any]] = []
    statuses = []
    for platform, token in shops.tokens():
        answer = _api(stack, token, "backorders", status="waiting")
        statuses.append(answer.status_code)
        items = answer.json()["items"] if answer.ok else []
        rows = sorted(items, key=lambda r: (r["sku"], r["queue_position"]))
        fields = ("order_name", "sku", "quantity", "queue_position", "eta", "eta_source")
        queue += [{"platform": platform, **{key: row[key] for key in fields}} for row in rows]
        click.echo(f"{platform}: {len(rows)} backordered line(s) waiting")
        for row in rows:
            click.echo(
                f"  {row['order_name']:>8} {row['sku']:<14} short {row['quantity']} "
                f"#{row['queue_position']} in queue, ETA {row['eta']} ({row['eta_source']})"
            )
    return {
        "healthz": health.status_code,
        "backorders": max(statuses),
        "waiting_backorders": len(queue),
        "queue": queue,
    }


def _writes_settled(runtime: Runtime, seconds: float = 20) -> None:
    """Wait until no store write is waiting or being sent (the job threads are working them)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with runtime.db.transaction() as session:
            open_ = session.scalar(
                select(func.count()).where(StoreWrite.status.in_(("pending", "sending")))
            )
        if not open_ and runtime.jobs.depth() == 0:
            return
        time.sleep(0.1)


def check_storefront(stack: Stack, shops: DemoShops, found: dict[str, Any]) -> dict[str, Any]:
    """What the stores were told (tags, per-line data, holds, variant ETAs) and what a product
    page of an oversold item shows through the storefront endpoint."""
    _writes_settled(stack.runtime)
    sent: dict[str, dict[str, int]] = {}
    for platform, token in shops.tokens():
        answer = _api(stack, token, "store-writes", status="sent")
        kinds: dict[str, int] = {}
        for row in answer.json()["items"] if answer.ok else []:
            kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
        sent[platform] = kinds
        told = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(kinds.items()))
        click.echo(f"{platform}: pushed to the store: {told or 'nothing'}")
    sku = next(row["sku"] for row in found["queue"] if row["platform"] == "woocommerce")
    with stack.runtime.db.transaction() as session:
        external_id = session.scalar(
            select(Variant.external_id).where(
                Variant.shop_id == shops.woocommerce_id, Variant.sku == sku
            )
        )
    url = f"{stack.app_url}/storefront/v1/shops/{shops.woocommerce_id}/variants/{external_id}"
    page = requests.get(url, timeout=10)
    shown = page.json() if page.ok else {}
    click.echo(
        f"woocommerce: the product page of {sku} says {shown.get('message')!r}, with "
        f"{len(shown.get('alternatives', ()))} alternative(s)  ({url})"
    )
    return {"store_writes_sent": sent, "product_page": {"sku": sku, **shown}}


def _mail_settled(runtime: Runtime, seconds: float = 20) -> None:
    """Wait until no customer message is waiting or being sent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with runtime.db.transaction() as session:
            open_ = session.scalar(
                select(func.count()).where(Notification.status.in_(("pending", "sending")))
            )
        if not open_ and runtime.jobs.depth() == 0:
            return
        time.sleep(0.1)


def check_mail(stack: Stack, mailbox: Mailbox) -> dict[str, Any]:
    """What the customers' inboxes (the sandbox mailbox) received, and one status page link."""
    _mail_settled(stack.runtime)
    received = mailbox.messages()
    kinds: dict[str, int] = {}
    for item in received:
        kind = item.header(KIND_HEADER) or "?"
        kinds[kind] = kinds.get(kind, 0) + 1
    told = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(kinds.items()))
    click.echo(f"Customers were e-mailed: {told or 'nothing'}  ({MAIL_DIR}/*.eml)")
    status_page = _waiting_customers_link(stack.runtime, received)
    if status_page:
        click.echo(f"  a customer's status page: {status_page}")
    return {"emails": kinds, "status_page": status_page}


def _waiting_customers_link(runtime: Runtime, received: list[Received]) -> str | None:
    """The status page of a customer still waiting, the one worth showing: the e-mails arrive
    in any order, and an early one may be for a line a delivery has since made ready."""
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(Backorder.shop_id, OrderLine.order_id)
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .where(Backorder.status == "waiting")
        )
        waiting = {(shop_id, order_id) for shop_id, order_id in rows}
    links = [link for item in received for link in STATUS_LINK.findall(_plain_text(item))]
    for link in links:
        ids = read_status_token(runtime.settings, link.rsplit("/", 1)[1], clock=runtime.clock)
        if ids in waiting:
            return link
    return links[0] if links else None


def _plain_text(item: Received) -> str:
    part = item.message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


# ---------------------------------------------------------------------------- the command


def dashboard_users(stack: Stack, shops: DemoShops) -> dict[str, str]:
    """An owner account per shop for the dashboard, with a password made for this run."""
    from connector.services.users import add_user

    password = secrets.token_urlsafe(9)
    made = {}
    with stack.runtime.db.transaction() as session:
        for platform, shop_id in (
            ("shopify", shops.shopify_id),
            ("woocommerce", shops.woocommerce_id),
        ):
            email = f"owner@{platform}.demo"
            add_user(session, stack.runtime.clock, shop_id, email, password, "owner")
            made[platform] = email
    made["password"] = password
    return made


def _where_to_look(
    stack: Stack, shops: DemoShops, status_page: str | None, users: dict[str, str]
) -> str:
    url = stack.app_url
    return (
        f"\nBackorder Connector demo — shops {shops.shopify_id} (Shopify sandbox) and "
        f"{shops.woocommerce_id} (WooCommerce sandbox), installed through the install flows\n"
        f"  dashboard:  {url}/app/  (sign in as {users['shopify']} or {users['woocommerce']}, "
        f"password {users['password']})\n"
        f"  health:     {url}/healthz\n"
        f"  API:        {url}/api/v1/backorders\n"
        f"  OpenAPI:    {url}/api/v1/openapi.json\n"
        f"  storefront: {url}/storefront/v1/shops/{shops.woocommerce_id}/variants/<variant id>"
        f"  (widget: {url}/storefront/v1/widget.js)\n"
        f"  e-mails:    {MAIL_DIR}/*.eml (what customers were sent; open with a mail client)\n"
        f"  status page: {status_page or 'none yet'}\n"
        f"  API tokens: {shops.shopify_token}  (Shopify shop)\n"
        f"              {shops.woocommerce_token}  (WooCommerce shop)\n"
        f"  try:        curl -H 'Authorization: Bearer {shops.shopify_token}' "
        f"{url}/api/v1/backorders\n"
        f"  stores:     {json.dumps(stack.sandboxes.describe())}\n"
        f"Press Ctrl-C to stop.\n"
    )


def run_demo(make_runtime: Callable[..., Runtime], *, once: bool, host: str, port: int) -> None:
    """`make_runtime(**settings)` builds the runtime once the app's URL and the stores are known."""
    fresh = demo_settings()
    inbox = start_mailbox(directory=MAIL_DIR)  # the customers' side of the e-mail
    fresh["SMTP_URL"] = inbox.url
    try:
        stack = start_stack(host, port, lambda **app: make_runtime(**fresh, **app))
    except BaseException:
        inbox.stop()
        raise
    click.echo(
        f"Sandbox stores: Shopify {stack.sandboxes.shopify.base_url}, "
        f"WooCommerce {stack.sandboxes.woocommerce.url}; the app serves at {stack.app_url}"
    )
    try:
        shops, installed = install_shops(stack)
        story = {**installed, **play_scenario(stack, shops)}
        found = check_api(stack, shops)
        found["storefront"] = check_storefront(stack, shops, found)
        found["mail"] = check_mail(stack, inbox.mailbox)
        if once:
            ok = found["healthz"] == 200 and found["waiting_backorders"] > 0
            click.echo(json.dumps({"did": story, "found": found, "ok": ok}))
            raise SystemExit(0 if ok else 1)
        from connector import scheduler

        background = scheduler.start(stack.runtime, sync=True)
        users = dashboard_users(stack, shops)
        click.echo(_where_to_look(stack, shops, found["mail"]["status_page"], users))
        try:
            while stack.thread.is_alive():
                stack.thread.join(1.0)
        except KeyboardInterrupt:
            pass
        finally:
            background.shutdown(wait=False)
    finally:
        stack.stop()
        stack.runtime.db.dispose()
        inbox.stop()
