"""`backorder sandbox` as the demo and the end-to-end tests use it: one JSON line, two stores."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from woocommerce import API

BACKORDER = str(Path(sys.executable).with_name("backorder"))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(
        [BACKORDER, "sandbox", "--variants", "50"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        assert line, "the command printed nothing"
        yield json.loads(line)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_line_has_the_fields_product_md_fixes(sandbox: dict[str, Any]) -> None:
    assert set(sandbox) == {"shopify", "woocommerce"}
    assert set(sandbox["shopify"]) == {
        "shop",
        "admin_base_url",
        "api_key",
        "api_secret",
        "access_token",
    }
    assert set(sandbox["woocommerce"]) == {"url", "consumer_key", "consumer_secret"}


def test_the_shopify_store_answers_with_those_credentials(sandbox: dict[str, Any]) -> None:
    shopify = sandbox["shopify"]
    response = requests.post(
        f"{shopify['admin_base_url']}/graphql.json",
        json={"query": "{ shop { myshopifyDomain } }"},
        headers={"X-Shopify-Access-Token": shopify["access_token"]},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["data"]["shop"]["myshopifyDomain"] == shopify["shop"]


def test_the_woocommerce_store_answers_the_official_client(sandbox: dict[str, Any]) -> None:
    woo = sandbox["woocommerce"]
    client = API(
        url=woo["url"],
        consumer_key=woo["consumer_key"],
        consumer_secret=woo["consumer_secret"],
        version="wc/v3",
        timeout=10,
    )
    response = client.get("products", params={"per_page": 2})
    assert response.status_code == 200
    total = int(response.headers["X-WP-Total"])
    assert total >= 2 and len(response.json()) == 2
