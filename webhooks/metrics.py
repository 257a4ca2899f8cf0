"""What the intake and its workers count, for Prometheus (`GET /metrics`)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select

from connector.models import WebhookEvent
from connector.runtime import Runtime

RECEIVED = Counter(
    "backorder_webhooks_received_total",
    "Deliveries acknowledged with 200 (outcome: stored, duplicate or ping)",
    ["platform", "outcome"],
)
REJECTED = Counter(
    "backorder_webhooks_rejected_total",
    "Deliveries refused (reason: signature, unknown_shop, too_large, invalid_json, ...)",
    ["platform", "reason"],
)
DUPLICATES = Counter(
    "backorder_webhooks_duplicates_total",
    "Deliveries seen before: acknowledged, not stored or processed again",
    ["platform"],
)
PROCESSED = Counter(
    "backorder_webhooks_processed_total",
    "Deliveries processed (outcome: done, or ignored: unknown topic, older than held)",
    ["platform", "outcome"],
)
FAILED = Counter(
    "backorder_webhooks_failed_total",
    "Processing attempts that failed (final: no = will be retried, yes = gave up)",
    ["platform", "final"],
)
ACK_LATENCY = Histogram(
    "backorder_webhooks_ack_seconds",
    "Time from reading a delivery to acknowledging it",
    ["platform"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
INBOX_BATCH = Histogram(
    "backorder_webhooks_inbox_batch_size",
    "Deliveries stored by one commit of the inbox writer (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
QUEUE_DEPTH = Gauge("backorder_jobs_queued", "Jobs waiting in this process's view of the queue")
INBOX_WAITING = Gauge(
    "backorder_webhooks_waiting", "Inbox deliveries stored and not yet processed (all processes)"
)


_children: dict[tuple[Any, ...], Any] = {}


def _child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, looked up once: the intake counts on every acknowledgement."""
    child = _children.get((metric, labels))
    if child is None:  # a race only makes two look-ups of the one child
        child = _children[(metric, labels)] = metric.labels(*labels)
    return child


def acknowledged(platform: str, outcome: str, seconds: float | None) -> None:
    """A 200: counted by outcome; its time from reading the delivery to answering, if any."""
    _child(RECEIVED, platform, outcome).inc()
    if seconds is not None:
        _child(ACK_LATENCY, platform).observe(seconds)


def rejected(platform: str, reason: str) -> None:
    _child(REJECTED, platform, reason).inc()


def duplicate(platform: str) -> None:
    _child(DUPLICATES, platform).inc()


def watch(runtime: Runtime) -> None:
    """Read the depths when Prometheus scrapes, from the queue and from the inbox itself."""
    QUEUE_DEPTH.set_function(runtime.jobs.depth)

    def waiting() -> float:
        with runtime.db.transaction() as session:
            return float(
                session.scalar(
                    select(func.count())
                    .select_from(WebhookEvent)
                    .where(WebhookEvent.state == "received")
                )
                or 0
            )

    INBOX_WAITING.set_function(waiting)
