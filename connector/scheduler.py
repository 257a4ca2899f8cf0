"""The periodic work: APScheduler in the serving process (embedded) or in one process at scale.

Dates move on their own: a lead-time promise lapses, late incoming stock passes its grace days.
So every live backorder is re-planned regularly; hourly, so each shop's midnight is caught
within the hour whatever its time zone.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from connector import jobs
from connector.commands import execute
from connector.models import Shop
from connector.runtime import Runtime
from connector.services.backorders import recompute_shop

log = logging.getLogger(__name__)

REQUEUE_SECONDS = 30  # how soon a retry falls due or a crashed job's work is queued again


def recompute_all(runtime: Runtime) -> int:
    """Re-plan every active shop, one transaction per shop; returns the events raised."""
    with runtime.db.transaction() as session:
        shop_ids = list(
            session.scalars(select(Shop.id).where(Shop.status == "active").order_by(Shop.id))
        )
    raised = 0
    for shop_id in shop_ids:
        try:
            raised += len(
                execute(runtime, lambda s, i=shop_id: recompute_shop(s, runtime.clock, i))
            )
        except Exception:  # one shop's failure must not stop the others; it is logged
            log.exception("recompute failed for shop %s", shop_id)
    return raised


def sync_all(runtime: Runtime) -> int:
    """The reconciliation sync of every active shop: what webhooks missed, this repairs."""
    from adapters.base import NeedsReauthorization
    from connector.services.sync import SyncBusy, run_sync
    from connector.stores import adapter_for

    with runtime.db.transaction() as session:
        shops = session.scalars(
            select(Shop)
            .where(Shop.status == "active", Shop.needs_reauthorization.is_(False))
            .order_by(Shop.id)
        ).all()
    synced = 0
    for shop in shops:
        try:
            run_sync(runtime, adapter_for(runtime, shop), shop.id)
            synced += 1
        except (SyncBusy, NeedsReauthorization) as exc:
            log.info("sync of shop %s skipped: %s", shop.id, exc)
        except Exception:  # one store's failure must not stop the others; it is logged
            log.exception("sync failed for shop %s", shop.id)
    return synced


def start(runtime: Runtime, *, sync: bool = True) -> BackgroundScheduler:
    """Hourly re-plan; every 30 s, due retries and stragglers back on the job queue; and
    (unless `sync` is off) the reconciliation sync with jitter."""
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        recompute_all,
        "interval",
        hours=1,
        args=[runtime],
        id="recompute",
        max_instances=1,
        coalesce=True,
        next_run_time=runtime.clock.now(),  # once at start-up, then hourly
    )
    scheduler.add_job(
        jobs.requeue,
        "interval",
        seconds=REQUEUE_SECONDS,
        args=[runtime],
        id="requeue",
        max_instances=1,
        coalesce=True,
    )
    from connector.services.selling import reevaluate_all

    scheduler.add_job(
        reevaluate_all,  # selling on backorder: windows move with the calendar, not with events
        "interval",
        hours=24,
        args=[runtime],
        id="selling",
        max_instances=1,
        coalesce=True,
    )
    from connector.services.notify.periodic import late_check, send_digests

    for job, name in ((late_check, "late_check"), (send_digests, "digests")):
        scheduler.add_job(
            job,  # promises that lapsed; each shop's 08:00 digest, whatever its time zone
            "interval",
            hours=1,
            args=[runtime],
            id=name,
            max_instances=1,
            coalesce=True,
        )
    from connector.services.reorder import queue_all

    scheduler.add_job(
        queue_all,  # reorder points: demand moves day by day
        "interval",
        hours=24,
        args=[runtime],
        id="reorder",
        max_instances=1,
        coalesce=True,
    )
    if sync:
        scheduler.add_job(
            sync_all,
            "interval",
            minutes=runtime.settings.SYNC_INTERVAL_MINUTES,
            jitter=60,  # shops' syncs spread out instead of hitting the stores at once
            args=[runtime],
            id="sync",
            max_instances=1,
            coalesce=True,
        )
    scheduler.start()
    return scheduler
