"""The core's own jobs: work the queue runs that did not come in through a webhook."""

from __future__ import annotations

import logging

from adapters.base import NeedsReauthorization
from connector import jobs
from connector.bus import PublishedEvent
from connector.runtime import Runtime

log = logging.getLogger(__name__)

SYNC = "sync"


def sync_key(shop_id: int) -> str:
    return f"sync:{shop_id}"


def sync_job(runtime: Runtime, shop_id: int, full: bool = False) -> None:
    """A shop's sync as a job (the first one after an install, or one an operator asked for).

    Nothing is lost if this job is: the scheduled reconciliation finds a shop whose cursors
    never completed and walks it in full.
    """
    from connector.services.sync import SyncBusy, run_sync_for

    try:
        summary = run_sync_for(runtime, shop_id, full=full)
    except SyncBusy as exc:
        log.info("sync of shop %s skipped: %s", shop_id, exc)
        return
    except NeedsReauthorization:
        log.warning("sync of shop %s stopped: the store refused our credentials", shop_id)
        return
    log.info("sync of shop %s done: %s", shop_id, summary.records)
    # The history is in: its reorder points need not wait for the daily run.
    runtime.jobs.enqueue(REORDER, shop_id, key=f"{REORDER}:{shop_id}")


def register() -> None:
    from connector.services import notify, self_service, store_writes

    jobs.register(SYNC, sync_job)
    jobs.register(ALTERNATIVES, alternatives_job)
    jobs.register(REORDER, reorder_job)
    store_writes.register()
    self_service.register()  # customers' cancels and switches from the status page
    notify.register()


ALTERNATIVES = "backorder_alternatives"
REORDER = "reorder"


def reorder_job(runtime: Runtime, shop_id: int) -> None:
    """A shop's reorder points recomputed (daily, after a first sync, or when asked)."""
    from connector.services.reorder import recompute_shop

    recompute_shop(runtime, shop_id)


def alternatives_job(runtime: Runtime, backorder_id: int) -> None:
    """Rank and store a new backorder's alternatives; a replay finds them stored and stops."""
    from connector.services.alternatives import store_for_backorder

    with runtime.db.transaction() as session:
        store_for_backorder(session, runtime.clock, backorder_id)


def subscribe(runtime: Runtime) -> None:
    """Bus subscriptions of the core: each enqueues a job keyed by what it is about."""
    # Importing the service installs the hooks that keep the alternatives index's rows current.
    from connector.services import alternatives  # noqa: F401

    jobs.register(ALTERNATIVES, alternatives_job)  # whoever enqueues it can also run it

    def on_backorder_created(event: PublishedEvent) -> None:
        backorder_id = event.payload.get("backorder_id")
        if backorder_id is not None:
            runtime.jobs.enqueue(ALTERNATIVES, backorder_id, key=f"alternatives:{backorder_id}")

    runtime.bus.subscribe("BackorderCreated", on_backorder_created)

    from connector.services import storefront

    storefront.subscribe(runtime)  # backorder state pushed back to the stores

    from connector.services import selling

    selling.subscribe(runtime)  # selling on backorder switched on the stores

    from connector.services import notify

    notify.subscribe(runtime)  # customers told, through the notification outbox

    from connector.services import reorder_alerts

    reorder_alerts.subscribe(runtime)  # the merchant's webhook hears of reorder points
