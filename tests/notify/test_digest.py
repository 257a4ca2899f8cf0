"""The merchant's daily digest: at 08:00 shop-local, once a day, only with something to say."""

from __future__ import annotations

from datetime import date, timedelta

from connector.clock import FrozenClock
from connector.models import IncomingStock, Shop
from connector.runtime import Runtime
from connector.services.notify.periodic import send_digests
from tests.mail.smtp_server import SmtpTestServer
from tests.notify.conftest import notifications
from tests.shops import make_shop


def test_the_digest_goes_at_eight_once_a_day_with_what_to_report(
    runtime: Runtime, clock: FrozenClock, smtp: SmtpTestServer
) -> None:
    shop = make_shop(runtime)  # America/Chicago: 15:00 UTC is 09:00 there
    assert send_digests(runtime) == 0  # nobody to send it to
    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).digest_recipients = "owner@northwind.example"
    assert send_digests(runtime) == 0  # nothing to report
    with runtime.db.transaction() as session:
        session.add(  # a shipment due on the 1st, never received (the API refuses past dates)
            IncomingStock(
                shop_id=shop.shop_id,
                variant_id=shop.variants["SHOE-42"],
                quantity=5,
                expected_on=date(2026, 11, 1),
                reference="PO-LATE",
            )
        )
    assert send_digests(runtime) == 1
    assert send_digests(runtime) == 0  # one per local day
    runtime.jobs.drain()  # type: ignore[attr-defined]
    (row,) = notifications(runtime, "digest")
    assert (
        row.status == "sent"
        and row.payload["context"]["late_incoming"][0]["reference"] == "PO-LATE"
    )
    (received,) = smtp.received
    assert received.rcpt_tos == ["owner@northwind.example"]
    assert "PO-LATE" in received.part("plain")
    clock.advance(timedelta(hours=20))  # 05:00 the next morning in Chicago: not yet
    assert send_digests(runtime) == 0
    clock.advance(timedelta(hours=3))
    assert send_digests(runtime) == 1
    assert len(notifications(runtime, "digest")) == 2
