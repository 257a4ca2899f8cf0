"""The `backorder` command: operators' and merchants' entry point."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from cryptography.fernet import Fernet

from connector.config import ConfigurationError, load_settings
from connector.runtime import Runtime, build_runtime
from connector.services.errors import ServiceError


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_runtime(**overrides: Any) -> Runtime:
    try:
        settings = load_settings(**overrides)
    except ConfigurationError as exc:
        for line in str(exc).splitlines():
            click.echo(f"configuration error: {line}", err=True)
        sys.exit(2)
    from connector.logs import configure_logging

    configure_logging(settings.LOG_LEVEL)
    return build_runtime(settings)


def with_runtime(command: Callable[..., Any]) -> Callable[..., Any]:
    """Load settings (exit 2 with one line per bad setting) and turn service errors into lines."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        runtime = load_runtime()
        try:
            return command(runtime, *args, **kwargs)
        except ServiceError as exc:
            _fail(f"{exc.field}: {exc.message}" if exc.field else exc.message)
        finally:
            runtime.db.dispose()

    return run


@click.group()
@click.version_option(package_name="backorder-connector")
def main() -> None:
    """Backorder Connector: keep the customers who order what is out of stock."""


# ---- serve -------------------------------------------------------------------------------------


def _ensure_schema(runtime: Runtime) -> None:
    from connector.migrate import is_current, upgrade

    if is_current(runtime.db.engine):
        return
    if runtime.settings.is_sqlite:
        # The embedded default: one process on SQLite migrates its own file.
        upgrade(runtime.db.engine)
        return
    _fail("the database is not at the latest migration: run `backorder db upgrade` first")


def serve_app(
    runtime: Runtime,
    host: str,
    port: int,
    threads: int,
    scheduler: bool = True,
    sync: bool = True,
    add_routes: Callable[[Any], None] | None = None,
) -> None:
    """Serve the app with waitress; `add_routes(app)`, for benchmarks only, adds routes first
    (bench.webhook_server's bare ceiling route, served by this very server and process layout).
    """
    import waitress

    from connector import jobs
    from connector import scheduler as periodic
    from connector.web import create_app

    _ensure_schema(runtime)
    app = create_app(runtime)
    if add_routes is not None:
        add_routes(app)
    local = runtime.jobs if isinstance(runtime.jobs, jobs.InProcessQueue) else None
    if local is not None:
        # The embedded deployment: this process also works the queue, starting with whatever
        # a previous run left in the inbox.
        local.start(runtime.settings.WORKER_THREADS)
        jobs.requeue(runtime, everything=True)
    background = periodic.start(runtime, sync=sync) if scheduler else None
    click.echo(f"serving on http://{host}:{port}", err=True)
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="backorder")
    finally:
        if background is not None:
            background.shutdown(wait=False)
        if local is not None:
            local.stop()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 128))
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Run the periodic jobs in this process; at scale, exactly one process should.",
)
@with_runtime
def serve(runtime: Runtime, host: str, port: int, threads: int, scheduler: bool) -> None:
    """Serve the web app, API and webhooks with waitress (production WSGI server).

    Without REDIS_URL this process also runs the job queue (WORKER_THREADS threads); with it,
    jobs go to Redis and `backorder worker` processes run them.
    """
    serve_app(runtime, host, port, threads, scheduler)


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty (tests, cron).")
@with_runtime
def worker(runtime: Runtime, burst: bool) -> None:
    """Run jobs from the Redis queue (REDIS_URL); start as many as the load needs."""
    from rq import SimpleWorker

    from connector import jobs
    from connector.web import register_jobs

    if not isinstance(runtime.jobs, jobs.RedisQueue):
        _fail("REDIS_URL is not set: without Redis, `backorder serve` runs the jobs itself")
        return
    _ensure_schema(runtime)
    register_jobs()
    jobs.bind_worker(runtime)
    # Work a crash or a Redis restart left behind goes back on the queue before we start.
    jobs.requeue(runtime, everything=True)
    click.echo(f"worker taking jobs from {jobs.QUEUE_NAME!r}", err=True)
    SimpleWorker([runtime.jobs.queue], connection=runtime.jobs.connection).work(
        burst=burst, logging_level=runtime.settings.LOG_LEVEL
    )


# ---- db ----------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_runtime
def db_upgrade(runtime: Runtime, revision: str) -> None:
    """Apply migrations up to REVISION."""
    from connector.migrate import current_revision, upgrade

    upgrade(runtime.db.engine, revision)
    click.echo(f"database at revision {current_revision(runtime.db.engine)}")


# ---- shops -------------------------------------------------------------------------------------


@main.group()
def shops() -> None:
    """Installed shops."""


@shops.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_runtime
def shops_list(runtime: Runtime, as_json: bool) -> None:
    from sqlalchemy import select

    from connector.models import Shop

    with runtime.db.transaction() as session:
        for shop in session.scalars(select(Shop).order_by(Shop.id)):
            row = {
                "id": shop.id,
                "platform": shop.platform,
                "domain": shop.domain,
                "status": shop.status,
                "installed_at": shop.installed_at.isoformat(),
            }
            if as_json:
                click.echo(json.dumps(row))
            else:
                click.echo("{id:>5}  {platform:<12} {status:<12} {domain}".format(**row))


@shops.command("add-shopify")
@click.option("--shop", required=True, help="example.myshopify.com")
@click.option("--access-token", required=True, help="The custom app's Admin API access token.")
@with_runtime
def shops_add_shopify(runtime: Runtime, shop: str, access_token: str) -> None:
    """Add a Shopify store through a merchant-made custom app."""
    from connector.services.shops import add_shopify_custom_app

    with runtime.db.transaction() as session:
        row = add_shopify_custom_app(
            session, runtime.clock, runtime.vault, shop=shop, access_token=access_token
        )
        click.echo(f"added shop {row.id}: shopify {row.domain}")


@shops.command("add-woocommerce")
@click.option("--url", required=True, help="The store's address, https://shop.example.com")
@click.option("--key", required=True, help="REST API consumer key (ck_…)")
@click.option("--secret", required=True, help="REST API consumer secret (cs_…)")
@with_runtime
def shops_add_woocommerce(runtime: Runtime, url: str, key: str, secret: str) -> None:
    """Add a WooCommerce store with REST API keys."""
    from connector.services.shops import add_woocommerce

    with runtime.db.transaction() as session:
        row = add_woocommerce(
            session,
            runtime.clock,
            runtime.vault,
            url=url,
            consumer_key=key,
            consumer_secret=secret,
            allow_private=runtime.settings.ALLOW_PRIVATE_STORE_URLS,
        )
        click.echo(f"added shop {row.id}: woocommerce {row.domain}")


@shops.command("remove")
@click.argument("shop_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_runtime
def shops_remove(runtime: Runtime, shop_id: int, yes: bool) -> None:
    """Remove a shop and delete every row it owns."""
    from connector.services.shops import get_shop, remove_shop

    with runtime.db.transaction() as session:
        shop = get_shop(session, shop_id)
        if not yes:
            click.confirm(
                f"Delete {shop.platform} shop {shop.domain} and all its data?", abort=True
            )
        remove_shop(session, shop_id)
    click.echo(f"removed shop {shop_id} and its data")


# ---- tokens and keys ---------------------------------------------------------------------------


@main.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.option("--shop", "shop_id", required=True, type=int, help="The shop the token may see.")
@click.option("--name", default="", help="A label to tell tokens apart.")
@with_runtime
def tokens_create(runtime: Runtime, shop_id: int, name: str) -> None:
    """Print a new API token for one shop. It is shown once and stored only as a digest."""
    from connector.services.tokens import create_token

    with runtime.db.transaction() as session:
        token = create_token(session, shop_id, name)
    click.echo(token)


@main.group()
def users() -> None:
    """Dashboard accounts."""


@users.command("add")
@click.option("--shop", "shop_id", required=True, type=int, help="The shop the user may see.")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["owner", "agent"]), default="agent", show_default=True)
@click.password_option(help="At least 10 characters; asked for when not given.")
@with_runtime
def users_add(runtime: Runtime, shop_id: int, email: str, role: str, password: str) -> None:
    """Create a dashboard user: an agent reads, an owner also acts."""
    from connector.services.errors import ServiceError
    from connector.services.users import add_user

    try:
        with runtime.db.transaction() as session:
            user = add_user(session, runtime.clock, shop_id, email, password, role)
            click.echo(f"user {user.id} ({user.email}, {user.role}) of shop {shop_id}")
    except ServiceError as exc:
        _fail(str(exc))


@main.group()
def keys() -> None:
    """Secrets for configuration."""


@keys.command("generate")
def keys_generate() -> None:
    """Print fresh SECRET_KEY and TOKEN_ENCRYPTION_KEY lines for .env."""
    import secrets

    click.echo(f"SECRET_KEY={secrets.token_urlsafe(48)}")
    click.echo(f"TOKEN_ENCRYPTION_KEY={Fernet.generate_key().decode()}")


@keys.command("rotate")
@with_runtime
def keys_rotate(runtime: Runtime) -> None:
    """Re-encrypt every shop's credentials with the first TOKEN_ENCRYPTION_KEY."""
    from connector.services.shops import reseal_all

    with runtime.db.transaction() as session:
        count = reseal_all(session, runtime.vault)
    click.echo(f"re-encrypted the credentials of {count} shop(s)")


# ---- demo --------------------------------------------------------------------------------------


@main.command()
@click.option("--once", is_flag=True, help="Seed, check the API, print one JSON line, exit.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
def demo(once: bool, host: str, port: int) -> None:
    """Install the app into both sandbox stores, sync them, play a scenario, then serve."""
    from connector.demo import run_demo

    run_demo(load_runtime, once=once, host=host, port=port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--shopify-port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port.",
)
@click.option(
    "--woocommerce-port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port.",
)
@click.option("--variants", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--seed", default=1, show_default=True, type=int)
def sandbox(host: str, shopify_port: int, woocommerce_port: int, variants: int, seed: int) -> None:
    """Run the emulated Shopify and WooCommerce stores; print how to connect as one JSON line."""
    from sandbox.run import serve_forever, start_both

    serve_forever(
        start_both(
            host,
            shopify_port=shopify_port,
            woocommerce_port=woocommerce_port,
            variants=variants,
            seed=seed,
        )
    )


def _sync_with_progress(runtime: Runtime, adapter: Any, shop_id: int, full: bool) -> Any:
    """One shop's sync with a live count per resource on the terminal."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from connector.services.sync import run_sync

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns) as bar:
        tasks = {r: bar.add_task(f"shop {shop_id} {r}", total=None) for r in ("products", "orders")}
        return run_sync(
            runtime,
            adapter,
            shop_id,
            full=full,
            progress=lambda resource, n: bar.advance(tasks[resource], n),
        )


@main.command()
@click.option("--shop", "shop_id", type=int, help="One shop; default every active shop.")
@with_runtime
def reorder(runtime: Runtime, shop_id: int | None) -> None:
    """Recompute forecasts and reorder points now (the scheduler does it daily)."""
    from sqlalchemy import select

    from connector.models import Shop
    from connector.services.reorder import recompute_shop

    with runtime.db.transaction() as session:
        query = select(Shop.id).where(Shop.status == "active").order_by(Shop.id)
        ids = list(session.scalars(query.where(Shop.id == shop_id) if shop_id else query))
    if shop_id and not ids:
        _fail(f"no active shop with id {shop_id}")
    for one in ids:
        run = recompute_shop(runtime, one)
        click.echo(
            f"shop {one}: {run.variants} variants, {run.at_or_below} at or below their reorder "
            f"point ({run.newly_reached} newly)"
        )


@main.command()
@click.option("--shop", "shop_id", type=int, help="One shop; default every active shop.")
@click.option("--full", is_flag=True, help="Read everything, not only what changed.")
@with_runtime
def sync(runtime: Runtime, shop_id: int | None, full: bool) -> None:
    """Read products, stock and orders from the stores into the model, with progress."""
    from sqlalchemy import select

    from adapters.base import StoreError
    from connector.models import Shop
    from connector.services.sync import SyncBusy
    from connector.stores import adapter_for

    with runtime.db.transaction() as session:
        query = select(Shop).where(Shop.status == "active").order_by(Shop.id)
        shops = session.scalars(query.where(Shop.id == shop_id) if shop_id else query).all()
    if shop_id and not shops:
        _fail(f"no active shop with id {shop_id}")
    failed = False
    for shop in shops:
        try:
            summary = _sync_with_progress(runtime, adapter_for(runtime, shop), shop.id, full)
        except (SyncBusy, StoreError) as exc:
            failed = True
            click.echo(f"shop {shop.id}: {exc}", err=True)
            continue
        click.echo(
            f"shop {shop.id} ({shop.domain}): {summary.records.get('products', 0)} products, "
            f"{summary.records.get('orders', 0)} orders, "
            f"{sum(summary.skipped.values())} skipped, {summary.events} backorder event(s)"
        )
    if failed:
        sys.exit(1)


@main.command()
@click.option("--shop", "shop_id", type=int, help="One shop; default every active shop.")
@with_runtime
def recompute(runtime: Runtime, shop_id: int | None) -> None:
    """Re-plan every live backorder now: what the scheduler does every hour."""
    from connector.commands import execute
    from connector.scheduler import recompute_all
    from connector.services.backorders import recompute_shop

    if shop_id is None:
        click.echo(f"{recompute_all(runtime)} change(s)")
        return
    events = execute(runtime, lambda s: recompute_shop(s, runtime.clock, shop_id))
    click.echo(f"shop {shop_id}: {len(events)} change(s)")


# ---- webhooks ----------------------------------------------------------------------------------


@main.group()
def webhooks() -> None:
    """The webhook inbox."""


@webhooks.command("replay")
@click.option("--failed", "failed_only", is_flag=True, help="Only deliveries that failed.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]),
    help="Only deliveries received at or after this time (UTC).",
)
@with_runtime
def webhooks_replay(runtime: Runtime, failed_only: bool, since: Any) -> None:
    """Run failed (and ignored) deliveries again; what was already applied has no second effect.

    Without REDIS_URL the deliveries run here and now; with it, they go to the workers.
    """
    from datetime import UTC

    from connector import jobs
    from connector.web import register_jobs
    from webhooks.process import replay

    register_jobs()
    ids = replay(
        runtime, failed_only=failed_only, since=since.replace(tzinfo=UTC) if since else None
    )
    ran = runtime.jobs.drain() if isinstance(runtime.jobs, jobs.InProcessQueue) else 0
    click.echo(json.dumps({"replayed": len(ids), "ran_here": ran}))
