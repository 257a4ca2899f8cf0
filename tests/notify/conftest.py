"""A WooCommerce sandbox store installed as a shop, and a real SMTP server the product sends to.

The sandbox fixtures come from tests/storefront_push/conftest.py; the runtime is built here so
its SMTP_URL names the test server (and its bus wakes the queue the harness drains).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connector.clock import FrozenClock
from connector.db import Database
from connector.models import Notification
from connector.runtime import Runtime, build_runtime
from sandbox.woocommerce.server import RunningWoo
from tests.conftest import test_settings
from tests.mail.smtp_server import SmtpTestServer, running_smtp_server
from tests.storefront_push.conftest import SHOPIFY_SECRET, Harness, install_woo
from tests.storefront_push.conftest import woo as woo


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with running_smtp_server(tls="none") as server:
        yield server


@pytest.fixture
def runtime(
    database_url: str, clock: FrozenClock, clean_db: Engine, smtp: SmtpTestServer
) -> Iterator[Runtime]:
    settings = test_settings(
        database_url,
        ALLOW_PRIVATE_STORE_URLS=True,
        SHOPIFY_API_SECRET=SHOPIFY_SECRET,
        SMTP_URL=smtp.url(),
        MAIL_FROM="Backorders <backorders@connector.test>",
    )
    built = build_runtime(settings, clock, Database(settings.DATABASE_URL, clock, engine=clean_db))
    yield built
    if built.mailer is not None:
        built.mailer.close()


@pytest.fixture
def products(woo: RunningWoo) -> dict[str, int]:
    """A kettle with one in stock, sold on backorder; mugs aplenty (its alternative)."""
    store = woo.store
    kettle = store.new_product(
        name="Kettle",
        sku="KETTLE",
        regular_price="39.00",
        manage_stock=True,
        stock_quantity=1,
        backorders="notify",
    )
    other = store.new_product(
        name="Steel Kettle",
        sku="KETTLE-STEEL",
        regular_price="42.00",
        manage_stock=True,
        stock_quantity=10,
    )
    return {"kettle": kettle.id, "steel": other.id}


@pytest.fixture
def shop(runtime: Runtime, woo: RunningWoo, products: dict[str, int]) -> Harness:
    return install_woo(runtime, woo)


def notifications(runtime: Runtime, kind: str | None = None) -> list[Notification]:
    with runtime.db.transaction() as session:
        statement = select(Notification).order_by(Notification.id)
        if kind is not None:
            statement = statement.where(Notification.kind == kind)
        return list(session.scalars(statement))


def mails(smtp: SmtpTestServer, subject_has: str | None = None) -> list[Any]:
    found = [r.message for r in smtp.received]
    return [m for m in found if subject_has is None or subject_has in str(m["Subject"])]
