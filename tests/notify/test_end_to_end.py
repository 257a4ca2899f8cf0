"""Customers told by e-mail, end to end: a WooCommerce sandbox store, sync, jobs, real SMTP."""

from __future__ import annotations

from datetime import timedelta

from connector.runtime import Runtime
from sandbox.woocommerce.server import RunningWoo
from tests.mail.smtp_server import SmtpTestServer
from tests.notify.conftest import notifications
from tests.storefront_push.conftest import Harness


def _text(message: object) -> str:
    body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    return str(body.get_content())


def test_a_short_order_sends_one_placed_mail_with_the_eta_and_alternatives(
    runtime: Runtime, shop: Harness, woo: RunningWoo, products: dict[str, int], smtp: SmtpTestServer
) -> None:
    order_id = woo.store.place_order([(products["kettle"], 0, 3)], email="jane@example.com")
    shop.sync()
    (row,) = notifications(runtime)
    assert (row.kind, row.status, row.channel) == ("placed", "sent", "email")
    assert len(smtp.received) == 1
    received = smtp.received[0]
    assert received.rcpt_tos == ["jane@example.com"]
    message = received.message
    text = _text(message)
    eta = row.payload["eta"]
    assert eta is not None
    from connector.mail.formats import date_long

    assert date_long(eta, "en") in text
    assert "Steel Kettle" in text
    assert message["Message-ID"].startswith(f"<notification-{row.id}@")
    assert "/status/" in text
    assert str(order_id) in str(message["Subject"]) + text
    shop.sync(full=True)  # a replay of everything: nothing new
    assert len(smtp.received) == 1 and len(notifications(runtime)) == 1


def _subjects(smtp: SmtpTestServer) -> list[str]:
    return [str(r.message["Subject"]) for r in smtp.received]


def _backorder_id(runtime: Runtime) -> int:
    from sqlalchemy import select

    from connector.models import Backorder

    with runtime.db.transaction() as session:
        return session.scalars(select(Backorder.id)).one()


def _set_eta(runtime: Runtime, shop: Harness, days: int) -> None:
    """The merchant moves the line's ETA `days` from what the customer was told."""
    from datetime import date

    from connector.commands import execute
    from connector.services.backorders import Unset, change_backorder

    told = date.fromisoformat(notifications(runtime, "placed")[0].payload["eta"])
    execute(
        runtime,
        lambda s: change_backorder(
            s,
            runtime.clock,
            shop.shop_id,
            _backorder_id(runtime),
            manual_eta=told + timedelta(days=days),
            priority=Unset,
        ),
    )
    shop.drain()


def test_a_restock_sends_one_ready_mail(
    runtime: Runtime, shop: Harness, woo: RunningWoo, products: dict[str, int], smtp: SmtpTestServer
) -> None:
    woo.store.place_order([(products["kettle"], 0, 3)])
    shop.sync()
    woo.store.restock(products["kettle"], 0, 5)
    shop.sync(full=True)
    shop.sync(full=True)
    assert [(n.kind, n.status) for n in notifications(runtime)] == [
        ("placed", "sent"),
        ("ready", "sent"),
    ]
    assert len(smtp.received) == 2 and "ready to ship" in _subjects(smtp)[1]


def test_an_eta_moved_earlier_within_the_threshold_says_nothing_and_later_says_so(
    runtime: Runtime, shop: Harness, woo: RunningWoo, products: dict[str, int], smtp: SmtpTestServer
) -> None:
    woo.store.place_order([(products["kettle"], 0, 3)])
    shop.sync()
    _set_eta(runtime, shop, -1)  # the shop's threshold is 2 days
    assert len(smtp.received) == 1
    _set_eta(runtime, shop, 6)
    assert [n.kind for n in notifications(runtime)] == ["placed", "eta_later"]
    assert len(smtp.received) == 2 and "new date" in _subjects(smtp)[1]
    later = notifications(runtime, "eta_later")[0]
    assert later.status == "sent" and later.payload["told_eta"] != later.payload["eta"]


def test_smtp_down_then_up_delivers_every_message_once(
    runtime: Runtime, shop: Harness, woo: RunningWoo, products: dict[str, int], smtp: SmtpTestServer
) -> None:
    from connector.services.notify import send

    smtp.stop()
    for email in ("a@example.com", "b@example.com"):
        woo.store.place_order([(products["kettle"], 0, 2)], email=email)
    shop.sync()
    rows = notifications(runtime)
    assert [(n.status, n.attempts) for n in rows] == [("pending", 1)] * 2
    assert all(n.last_error and "MailTemporaryError" in n.last_error for n in rows)
    smtp.start()
    runtime.clock.advance(timedelta(minutes=1))  # past the first backoff (30 s ± 20 %)
    assert send.sweep(runtime) == 2
    shop.drain()
    assert [n.status for n in notifications(runtime)] == ["sent", "sent"]
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["a@example.com", "b@example.com"]
    runtime.clock.advance(timedelta(hours=3))
    send.sweep(runtime, True)
    shop.drain()
    assert len(smtp.received) == 2


def test_a_promise_that_passes_sends_one_late_mail_with_a_new_date(
    runtime: Runtime, shop: Harness, woo: RunningWoo, products: dict[str, int], smtp: SmtpTestServer
) -> None:
    from datetime import date

    from connector.scheduler import recompute_all
    from connector.services.notify.periodic import late_check

    woo.store.place_order([(products["kettle"], 0, 3)])
    shop.sync()
    told = date.fromisoformat(notifications(runtime, "placed")[0].payload["eta"])
    runtime.clock.advance(timedelta(days=(told - runtime.clock.now().date()).days + 2))
    recompute_all(runtime)  # the hourly re-plan moves the lapsed promise
    shop.drain()
    late_check(runtime)
    shop.drain()
    (late,) = notifications(runtime, "late")
    assert late.status == "sent" and date.fromisoformat(late.payload["eta"]) > told
    assert len(smtp.received) == 2 and "sorry, we are late" in _subjects(smtp)[1]
    runtime.clock.advance(timedelta(hours=1))
    late_check(runtime)
    shop.drain()
    assert len(smtp.received) == 2


def test_a_kind_switched_off_sends_nothing(
    runtime: Runtime, shop: Harness, woo: RunningWoo, products: dict[str, int], smtp: SmtpTestServer
) -> None:
    from connector.models import Shop

    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).mail_kinds = {"placed": "off"}
    woo.store.place_order([(products["kettle"], 0, 3)])
    shop.sync()
    assert notifications(runtime) == [] and smtp.received == []


def test_platform_hands_the_message_to_the_store_and_sends_no_mail(
    runtime: Runtime, shop: Harness, woo: RunningWoo, products: dict[str, int], smtp: SmtpTestServer
) -> None:
    from connector.models import Shop

    with runtime.db.transaction() as session:
        session.get_one(Shop, shop.shop_id).mail_kinds = {"placed": "platform"}
    order_id = woo.store.place_order([(products["kettle"], 0, 3)])
    shop.sync()
    (row,) = notifications(runtime)
    assert (row.channel, row.status) == ("platform", "sent"), row.payload
    notes = [n for n in woo.store.notes.values() if n.order_id == order_id and n.customer_note]
    assert len(notes) == 1 and "Steel Kettle" in notes[0].note
    assert smtp.received == []


def test_an_order_in_german_gets_the_german_mail(
    runtime: Runtime, shop: Harness, woo: RunningWoo, products: dict[str, int], smtp: SmtpTestServer
) -> None:
    from connector.models import Order

    order_id = woo.store.place_order([(products["kettle"], 0, 3)])
    shop.sync(send=False)
    with runtime.db.transaction() as session:
        session.get_one(Order, shop.order_id(str(order_id))).locale = "de"
    shop.drain()
    (received,) = smtp.received
    assert str(received.message["Subject"]).startswith("Bestellung")
    assert notifications(runtime)[0].payload["locale"] == "de"


def test_without_smtp_url_mail_waits_without_spending_attempts(
    runtime: Runtime, shop: Harness, woo: RunningWoo, products: dict[str, int], smtp: SmtpTestServer
) -> None:
    import dataclasses

    from connector.services.notify import send

    woo.store.place_order([(products["kettle"], 0, 3)])
    shop.sync(send=False)
    (row,) = notifications(runtime)
    unset = dataclasses.replace(
        runtime, settings=runtime.settings.model_copy(update={"SMTP_URL": None})
    )
    assert send.run(unset, row.id) == "pending"
    (row,) = notifications(runtime)
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, "SMTP_URL is not set")
    shop.drain()
    assert notifications(runtime)[0].status == "sent" and len(smtp.received) == 1
