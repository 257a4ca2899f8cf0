"""The periodic work: APScheduler in the serving process (embedded) or in one process at scale.

Dates move on their own: a lead-time promise lapses, late incoming stock passes its grace days.
So every live backorder is re-planned regularly; hourly, so each shop's midnight is caught
within the hour whatever its time zone.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from connector.commands import execute
from connector.models import Shop
from connector.runtime import Runtime
from connector.services.backorders import recompute_shop

log = logging.getLogger(__name__)


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


def start(runtime: Runtime) -> BackgroundScheduler:
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
    scheduler.start()
    return scheduler
