"""SmtpSender against a real SMTP server (aiosmtpd): plain, STARTTLS, implicit TLS, AUTH, the
failures the outbox must tell apart, and one connection reused across sends."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from connector.mail import (
    MailPermanentError,
    MailTemporaryError,
    SmtpSender,
    build_message,
    render,
    sender_from_url,
)
from tests.mail.contexts import customer
from tests.mail.smtp_server import SmtpTestServer, free_port, running_smtp_server, smtp_server

__all__ = ["smtp_server"]  # the fixture, imported for these tests

PASSWORD = "p@ss:w/rd %+"
CUSTOMER = "anna@example.com"


def _message(to: str = CUSTOMER, message_id: str = "outbox-1") -> EmailMessage:
    rendered = render("placed", customer(), locales=["en"])
    return build_message(
        rendered,
        sender="Kaffeerösterei Nord <shop@roesterei.example>",
        to=f"Anna Weber <{to}>",
        reply_to="support@roesterei.example",
        message_id=message_id,
        sent_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    )


def test_a_plain_send_arrives_with_its_headers_and_both_parts(smtp_server: SmtpTestServer) -> None:
    with SmtpSender(smtp_server.url()) as sender:
        sender.send(_message())

    [received] = smtp_server.received
    assert received.mail_from == "shop@roesterei.example"
    assert received.rcpt_tos == [CUSTOMER]
    assert received.message["To"] == f"Anna Weber <{CUSTOMER}>"
    assert received.message["Reply-To"] == "support@roesterei.example"
    # (Python's parser keeps the space of a subject folded onto its second line)
    assert received.message["Subject"].strip().startswith("Order #1042: Espresso grinder Mignon")
    assert received.message["Message-ID"] == "<outbox-1@roesterei.example>"
    assert "27 November 2026" in received.part("plain")
    assert "<strong>27 November 2026</strong>" in received.part("html")
    assert not received.tls


def test_starttls_and_auth_with_a_quoted_password() -> None:
    users = {"shop@roesterei.example": PASSWORD}
    with running_smtp_server(tls="starttls", require_starttls=True, users=users) as server:
        sender = SmtpSender(
            server.url("smtp+starttls", user="shop@roesterei.example"),
            ssl_context=server.client_ssl_context(),
        )
        with sender:
            sender.send(_message())

        [received] = server.received
        assert received.tls
        assert received.user == "shop@roesterei.example"


def test_plain_smtp_url_upgrades_to_starttls_when_offered() -> None:
    with running_smtp_server(tls="starttls") as server:
        with SmtpSender(server.url("smtp"), ssl_context=server.client_ssl_context()) as sender:
            sender.send(_message())

        assert server.received[0].tls


def test_starttls_never_stays_plain() -> None:
    with running_smtp_server(tls="starttls") as server:
        with SmtpSender(server.url("smtp", query="starttls=never")) as sender:
            sender.send(_message())

        assert not server.received[0].tls


def test_smtp_starttls_url_refuses_a_server_without_starttls(smtp_server: SmtpTestServer) -> None:
    with pytest.raises(MailPermanentError, match="STARTTLS"):
        SmtpSender(smtp_server.url("smtp+starttls")).send(_message())

    assert smtp_server.received == []


@pytest.mark.parametrize("trust", ["test CA", "verify=false"])
def test_smtps_with_auth(trust: str) -> None:
    with running_smtp_server(tls="implicit", users={"shop": PASSWORD}) as server:
        if trust == "test CA":
            sender = SmtpSender(server.url(user="shop"), ssl_context=server.client_ssl_context())
        else:
            sender = SmtpSender(server.url(user="shop", query="verify=false"))
        with sender:
            sender.send(_message())

        assert server.received[0].tls and server.received[0].user == "shop"


def test_an_untrusted_certificate_is_refused_and_retried_later() -> None:
    with running_smtp_server(tls="implicit") as server:
        with pytest.raises(MailTemporaryError, match="TLS"):
            SmtpSender(server.url()).send(_message())

        assert server.received == []


def test_a_wrong_password_is_permanent_and_names_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_smtp_server(tls="starttls", users={"shop": PASSWORD}) as server:
        sender = SmtpSender(
            server.url(user="shop").replace("p%40ss", "wrong"),
            ssl_context=server.client_ssl_context(),
        )
        with pytest.raises(MailPermanentError, match="535") as raised:
            sender.send(_message())

        assert server.received == []
    assert "wrong" not in str(raised.value) and "wrong" not in repr(sender)
    assert "wrong" not in caplog.text and CUSTOMER not in caplog.text


def test_credentials_are_never_sent_unencrypted_to_another_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running_smtp_server(users={"shop": PASSWORD}) as server:
        sender = SmtpSender(server.url("smtp", user="shop"))
        sender.send(_message())  # to this machine, plain AUTH is allowed
        sender.close()
        monkeypatch.setattr("connector.mail.smtp._is_loopback", lambda host: False)

        with pytest.raises(MailPermanentError, match="unencrypted"):
            SmtpSender(server.url("smtp", user="shop")).send(_message())

        assert [r.user for r in server.received] == ["shop"]


def test_a_server_that_is_down_is_a_temporary_error() -> None:
    sender = SmtpSender(f"smtp://127.0.0.1:{free_port()}?timeout=2")

    with pytest.raises(MailTemporaryError, match="cannot reach"):
        sender.send(_message())


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("550 5.1.1 <{}>: no such user", MailPermanentError),
        ("450 4.2.1 mailbox busy", MailTemporaryError),
    ],
)
def test_a_refused_recipient_is_classified_and_not_named(
    smtp_server: SmtpTestServer, reply: str, error: type[Exception]
) -> None:
    smtp_server.refuse[CUSTOMER] = reply.format(CUSTOMER)

    with SmtpSender(smtp_server.url()) as sender:
        with pytest.raises(error) as raised:
            sender.send(_message())
        sender.send(_message(to="ben@example.com"))  # the sender is still usable

    assert CUSTOMER not in str(raised.value)
    assert [r.rcpt_tos for r in smtp_server.received] == [["ben@example.com"]]


def test_one_connection_carries_many_messages(smtp_server: SmtpTestServer) -> None:
    with SmtpSender(smtp_server.url()) as sender:
        for number in range(5):
            sender.send(_message(message_id=f"outbox-{number}"))

    assert len(smtp_server.received) == 5
    assert smtp_server.connections == 1


def test_a_dropped_connection_is_reopened_and_the_message_sent_once(
    smtp_server: SmtpTestServer,
) -> None:
    with SmtpSender(smtp_server.url()) as sender:
        sender.send(_message(message_id="outbox-1"))
        smtp_server.drop_connections()
        sender.send(_message(message_id="outbox-2"))

    ids = [r.message["Message-ID"] for r in smtp_server.received]
    assert ids == ["<outbox-1@roesterei.example>", "<outbox-2@roesterei.example>"]
    assert smtp_server.connections == 2


def test_a_server_restart_between_sends_is_survived() -> None:
    port = free_port()
    with running_smtp_server(port=port) as first, SmtpSender(first.url()) as sender:
        sender.send(_message(message_id="outbox-1"))
        first.stop()
        with pytest.raises(MailTemporaryError):
            sender.send(_message(message_id="outbox-2"))
        with running_smtp_server(port=port) as second:
            sender.send(_message(message_id="outbox-2"))

            assert [r.message["Message-ID"] for r in second.received] == [
                "<outbox-2@roesterei.example>"
            ]


def test_threads_share_one_sender_safely(smtp_server: SmtpTestServer) -> None:
    errors: list[BaseException] = []

    def send_ten(worker: int) -> None:
        try:
            for number in range(10):
                sender.send(_message(message_id=f"outbox-{worker}-{number}"))
        except BaseException as exc:  # reported below, a thread cannot fail the test itself
            errors.append(exc)

    with SmtpSender(smtp_server.url()) as sender:
        threads = [threading.Thread(target=send_ten, args=(w,)) for w in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert errors == []
    assert len({r.message["Message-ID"] for r in smtp_server.received}) == 30
    assert smtp_server.connections == 1


def test_no_smtp_url_means_no_sender() -> None:
    assert sender_from_url(None) is None
    assert sender_from_url("  ") is None
    assert isinstance(sender_from_url("smtps://mail.example.com"), SmtpSender)
