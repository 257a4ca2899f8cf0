"""Processing one inbox delivery, exactly once, whatever crashes or runs twice.

Reading the store (some changes need a fetch) happens outside any transaction. Then one
transaction locks the inbox row, checks it is still `received`, applies the change and marks the
row done: the effect and the mark commit together or not at all. A worker killed mid-job leaves
the row `received`, and the sweep queues it again; a second worker on the same row finds it done.
A failed attempt is recorded with its error and retried with backoff; after the last attempt the
row stays `failed` until `backorder webhooks replay` runs it again.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session

from adapters.base import ShopRedact, StoreAdapter, WebhookChange
from connector import jobs
from connector.commands import execute
from connector.models import Shop, WebhookEvent
from connector.runtime import Runtime
from connector.services import redact
from connector.services.shops import shop_credentials
from connector.stores import adapter_from
from webhooks import metrics
from webhooks.topics import apply

log = logging.getLogger(__name__)

JOB = "webhook"
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)  # then 4 times longer: 30 s, 2 min, 8 min, 32 min, ~2 h
STRAGGLER_AGE = timedelta(seconds=30)  # younger rows are still on their first trip through
SWEEP_BATCH = 1000


def job_key(inbox_id: int) -> str:
    return f"webhook:{inbox_id}"


def backoff(attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`, with ±20 % jitter so retries do not march together."""
    delay = FIRST_RETRY * (4 ** (attempts - 1))
    return delay * random.uniform(0.8, 1.2)


def process(runtime: Runtime, inbox_id: int) -> str | None:
    """Run one delivery; returns the state it ended in (None: nothing to do)."""
    with runtime.db.transaction() as session:
        row = session.get(WebhookEvent, inbox_id)
        if row is None or not _due(row, runtime.clock.now()):
            return None
        topic, platform, shop_id = row.topic, row.platform, row.shop_id
        body: Any = json.loads(row.body)
        shop = session.get_one(Shop, shop_id)
        adapter = _adapter(runtime, shop)
    try:
        change = adapter.read_webhook(topic, body)  # may call the store: outside a transaction
        state = execute(runtime, lambda s: _apply(runtime, s, inbox_id, change))
    except Exception as exc:  # recorded on the row; the job itself never raises
        state = execute(runtime, lambda s, e=exc: _failed(runtime, s, inbox_id, e))
        log.warning("webhook %s (%s %s) failed: %s", inbox_id, platform, topic, type(exc).__name__)
        metrics.FAILED.labels(platform, "yes" if state == "failed" else "no").inc()
        return state
    if state is not None:
        metrics.PROCESSED.labels(platform, state).inc()
    return state


def _due(row: WebhookEvent, now: datetime) -> bool:
    return row.state == "received" and (row.next_attempt_at is None or row.next_attempt_at <= now)


def _adapter(runtime: Runtime, shop: Shop) -> StoreAdapter:
    """The shop's adapter; an uninstalled shop's has no credentials, and needs none for the
    topics that still arrive then (uninstall and the compliance requests carry everything)."""
    try:
        credentials = shop_credentials(runtime.vault, shop)
    except Exception:
        credentials = {}
    defaults = {"access_token": "", "consumer_key": "", "consumer_secret": ""}
    return adapter_from(runtime, shop.platform, shop.domain, {**defaults, **credentials})


def _apply(runtime: Runtime, session: Session, inbox_id: int, change: WebhookChange) -> str | None:
    row = session.get(WebhookEvent, inbox_id, with_for_update=True)
    if row is None or not _due(row, runtime.clock.now()):
        return None  # another worker finished it first
    shop = session.get_one(Shop, row.shop_id)
    row.attempts += 1
    state, reason = apply(runtime, session, shop, change)
    if isinstance(change, ShopRedact) and state == "done":
        return state  # the row went with the rest of the shop's data
    row.state, row.error = state, reason
    row.processed_at = runtime.clock.now()
    row.next_attempt_at = None
    return state


def _failed(runtime: Runtime, session: Session, inbox_id: int, error: Exception) -> str | None:
    row = session.get(WebhookEvent, inbox_id, with_for_update=True)
    if row is None or row.state != "received":
        return None
    row.attempts += 1
    row.error = f"{type(error).__name__}: {error}"[:2000]
    if row.attempts >= MAX_ATTEMPTS:
        row.state, row.next_attempt_at = "failed", None
    else:
        row.next_attempt_at = runtime.clock.now() + backoff(row.attempts)
    return row.state


def sweep(runtime: Runtime, everything: bool = False) -> int:
    """Queue deliveries that are due and not on their first trip (crashes, retries, restarts)."""
    now = runtime.clock.now()
    # A row on its first trip has no retry time; it is a straggler once it is old enough
    # (or, at a process's start, at once: nothing of an earlier run is queued here).
    first_trip: Any = WebhookEvent.next_attempt_at.is_(None)
    if not everything:
        if runtime.jobs.depth() > 0:
            # A backlog is being worked off and stragglers are most likely in it; queueing them
            # again would only pile up no-op jobs (Redis cannot tell). Look again when idle.
            first_trip = false()
        else:
            first_trip = and_(first_trip, WebhookEvent.received_at <= now - STRAGGLER_AGE)
    with runtime.db.transaction() as session:
        statement = (
            select(WebhookEvent.id)
            .where(
                WebhookEvent.state == "received",
                or_(first_trip, WebhookEvent.next_attempt_at <= now),
            )
            .order_by(WebhookEvent.id)
            .limit(SWEEP_BATCH)
        )
        ids = list(session.scalars(statement))
    for inbox_id in ids:
        runtime.jobs.enqueue(JOB, inbox_id, key=job_key(inbox_id))
    return len(ids)


def replay(
    runtime: Runtime,
    *,
    failed_only: bool = False,
    since: datetime | None = None,
    shop_id: int | None = None,
    inbox_id: int | None = None,
) -> list[int]:
    """Make failed deliveries (and, unless `failed_only`, ignored ones) due again; queue them.

    Ignored deliveries are replayed by default because "ignored" is often "not yet": a stock
    level for a variant the first sync had not brought in yet.
    """
    states = ("failed",) if failed_only else ("failed", "ignored")

    def reopen(session: Session) -> list[int]:
        statement = select(WebhookEvent).where(
            WebhookEvent.state.in_(states),
            WebhookEvent.body != redact.REDACTED_BODY,  # an erased customer's: nothing to run
        )
        if since is not None:
            statement = statement.where(WebhookEvent.received_at >= since)
        if shop_id is not None:  # the dashboard: one shop's, or one of its deliveries
            statement = statement.where(WebhookEvent.shop_id == shop_id)
        if inbox_id is not None:
            statement = statement.where(WebhookEvent.id == inbox_id)
        rows = session.scalars(statement.order_by(WebhookEvent.id)).all()
        for row in rows:
            row.state, row.attempts, row.next_attempt_at = "received", 0, None
        return [row.id for row in rows]

    ids = execute(runtime, reopen)
    for inbox_id in ids:
        runtime.jobs.enqueue(JOB, inbox_id, key=job_key(inbox_id))
    return ids


def register() -> None:
    jobs.register(JOB, process, sweep=sweep)
