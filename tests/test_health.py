"""Liveness, readiness with reasons, and Prometheus metrics."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from connector.clock import FrozenClock
from connector.db import Database
from connector.runtime import Runtime
from connector.web import create_app
from tests.conftest import skip_or_fail, test_settings


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_with_database_and_in_process_queue(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "queue": "ok"}


def test_readyz_503_names_an_unreachable_database(runtime: Runtime) -> None:
    if runtime.settings.is_sqlite:
        url = "sqlite:////nonexistent-dir/for/sure/backorder.db"
    else:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/none"
    broken = replace(runtime, db=Database(url, FrozenClock(runtime.clock.now())))
    response = create_app(broken).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"].startswith("database unreachable")
    assert response.json["checks"]["queue"] == "ok"


def test_readyz_503_names_an_unreachable_queue(runtime: Runtime) -> None:
    settings = test_settings(runtime.settings.DATABASE_URL, REDIS_URL="redis://127.0.0.1:1/0")
    response = create_app(replace(runtime, settings=settings)).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["queue"].startswith("queue unreachable")
    assert "queue unreachable" in response.json["reason"]


def test_readyz_with_a_real_redis(runtime: Runtime) -> None:
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis not reachable at 127.0.0.1:6379: {exc}")
    settings = test_settings(runtime.settings.DATABASE_URL, REDIS_URL="redis://127.0.0.1:6379/0")
    response = create_app(replace(runtime, settings=settings)).test_client().get("/readyz")
    assert response.status_code == 200, response.json


def test_readyz_503_when_schema_is_behind(runtime: Runtime) -> None:
    from connector.migrate import downgrade, upgrade

    downgrade(runtime.db.engine, "base")
    try:
        response = create_app(runtime).test_client().get("/readyz")
    finally:
        upgrade(runtime.db.engine)
    assert response.status_code == 503
    assert "backorder db upgrade" in response.json["checks"]["database"]


def test_metrics_count_requests_by_route_template(client: FlaskClient) -> None:
    client.get("/healthz")
    client.get("/api/v1/variants/12345")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'backorder_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="/api/v1/variants/<int:variant_id>",status="401"' in text
    assert "/api/v1/variants/12345" not in text


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_need_no_token(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200
