"""A support agent's question, in Debian's Chromium: "when will my order ship?" — then the owner
moves the date and the customer's e-mail arrives at a real SMTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from werkzeug.serving import make_server

from connector.clock import FrozenClock
from connector.db import Database
from connector.runtime import Runtime, build_runtime
from connector.web import create_app
from tests.browser import browser as browser
from tests.conftest import test_settings
from tests.dashboard.support import PASSWORD, desk
from tests.mail.smtp_server import SmtpTestServer, running_smtp_server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with running_smtp_server(tls="none") as server:
        yield server


@pytest.fixture
def served(
    database_url: str, clock: FrozenClock, clean_db: Engine, smtp: SmtpTestServer
) -> Iterator[tuple[Runtime, str]]:
    settings = test_settings(database_url, SMTP_URL=smtp.url(), MAIL_FROM="shop@connector.test")
    runtime = build_runtime(
        settings, clock, Database(settings.DATABASE_URL, clock, engine=clean_db)
    )
    server = make_server("127.0.0.1", 0, create_app(runtime), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield runtime, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    if runtime.mailer is not None:
        runtime.mailer.close()


def test_find_the_order_set_an_eta_and_the_customer_is_told(
    served: tuple[Runtime, str], browser: Any, smtp: SmtpTestServer
) -> None:
    runtime, url = served
    d = desk(runtime)
    runtime.jobs.drain()  # the "placed" e-mail: Ada knows 11 December
    assert [m.message["To"] for m in smtp.received] == ["ada@example.com"]

    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(f"{url}/app/")
    page.fill("input[name=email]", d.owner)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/app/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)

    # "Hi, this is Ada Lovelace, where is my order?"
    page.fill("input[name=q]", "ada@example.com")
    page.click("button:has-text('Find')")
    page.click(f"a[href='/app/orders/{d.order_id}']")
    eta = page.locator("td.eta").first
    assert "2026-12-11" in eta.text_content() and "lead_time" in eta.text_content()
    page.screenshot(path=str(SCREENSHOTS / "order.png"), full_page=True)

    page.fill("input[name=eta]", "2026-12-18")
    page.click("button:has-text('Set ETA')")
    page.wait_for_selector("text=Saved.")
    assert "2026-12-18" in page.locator("td.eta").first.text_content()

    runtime.jobs.drain()  # the outbox sends the "later" e-mail
    later = [m for m in smtp.received if m.message["X-Backorder-Kind"] == "eta_later"]
    assert len(later) == 1 and later[0].message["To"] == "ada@example.com"
    assert "18 December" in later[0].part("plain")
