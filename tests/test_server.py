"""The production server and the demo, run as an operator runs them: as processes."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.runtime import Runtime
from tests.conftest import ENCRYPTION_KEY, SECRET_KEY
from tests.processes import BACKORDER, free_port, wait_until_up
from tests.shops import make_shop


@pytest.fixture
def server(runtime: Runtime, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": runtime.settings.DATABASE_URL,
        "SECRET_KEY": SECRET_KEY,
        "TOKEN_ENCRYPTION_KEY": ENCRYPTION_KEY,
    }
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [BACKORDER, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/healthz", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_answers_health_and_the_api(server: str, runtime: Runtime) -> None:
    shop = make_shop(runtime)
    assert requests.get(f"{server}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{server}/readyz", timeout=5).status_code == 200
    response = requests.get(f"{server}/api/v1/variants?sku=SHOE-43", headers=shop.auth, timeout=5)
    assert response.status_code == 200
    assert response.json()["items"][0]["available"] == 5
    assert response.headers["Server"] == "backorder"  # waitress, not Flask's dev server


def test_demo_once_runs_the_scenario_against_both_sandbox_stores(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "SECRET_KEY", "TOKEN_ENCRYPTION_KEY")
    }
    result = subprocess.run(
        [BACKORDER, "demo", "--once"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True
    synced = summary["did"]["first_sync"]
    assert synced["shopify"]["products"] > 0 and synced["woocommerce"]["products"] > 0
    assert synced["shopify"]["orders"] > 0 and synced["woocommerce"]["orders"] > 0
    queue = summary["found"]["queue"]
    assert queue and all(row["eta"] and row["eta_source"] for row in queue)
    # The purchase order the merchant recorded is what the first backordered line waits for.
    assert any(row["eta_source"] == "incoming:PO-DEMO-1" for row in queue)
    assert (tmp_path / ".demo" / "backorder.db").exists()
