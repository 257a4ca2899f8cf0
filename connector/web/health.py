"""Liveness, readiness and metrics: what a load balancer and Prometheus ask of each process."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connector.migrate import is_current
from connector.runtime import Runtime

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> dict[str, str]:
    """Alive: the process answers. Dependencies are /readyz's business."""
    return {"status": "ok"}


def _check(name: str, probe: Any) -> tuple[str, str | None]:
    try:
        reason = probe()
    except Exception as exc:  # any failure means not ready; the reason says which
        return name, f"{name} unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return name, reason


@health.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    runtime: Runtime = current_app.extensions["backorder"]

    def database() -> str | None:
        runtime.db.ping()
        return (
            None
            if is_current(runtime.db.engine)
            else ("database schema is not at the latest migration: run `backorder db upgrade`")
        )

    checks = dict([_check("database", database), _check("queue", runtime.check_queue)])
    problems = [reason for reason in checks.values() if reason]
    body = {
        "status": "ok" if not problems else "unavailable",
        "checks": {name: reason or "ok" for name, reason in checks.items()},
    }
    if problems:
        body["reason"] = "; ".join(problems)
        return body, 503
    return body, 200


@health.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
