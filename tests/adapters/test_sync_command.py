"""`backorder sync` as an operator runs it, against the sandbox WooCommerce store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from connector.cli import main
from sandbox.woocommerce.server import RunningWoo, start
from tests.conftest import ENCRYPTION_KEY, SECRET_KEY


@pytest.fixture
def woo() -> Iterator[RunningWoo]:
    running = start(variants=30, seed=2)
    yield running
    running.stop()


def test_add_a_store_then_sync_it(
    woo: RunningWoo,
    clean_db: Engine,
    database_url: str,
    tmp_path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "TOKEN_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "ALLOW_PRIVATE_STORE_URLS": "true",
        "REDIS_URL": None,
        "ADMIN_API_TOKEN": None,
    }
    runner = CliRunner()
    added = runner.invoke(
        main,
        [
            "shops",
            "add-woocommerce",
            "--url",
            woo.url,
            "--key",
            woo.consumer_key,
            "--secret",
            woo.consumer_secret,
        ],
        env=env,
    )
    assert added.exit_code == 0, added.output
    shop_id = added.output.split()[2].rstrip(":")
    synced = runner.invoke(main, ["sync", "--shop", shop_id, "--full"], env=env)
    assert synced.exit_code == 0, synced.output
    products = sum(1 for p in woo.store.products.values() if p.type != "variation")
    assert f"{products} products" in synced.output
    refused = runner.invoke(main, ["sync", "--shop", "999"], env=env)
    assert refused.exit_code == 1 and "no active shop with id 999" in refused.output
