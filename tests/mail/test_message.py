"""The MIME message: what a mail client reads in the headers and which parts it can show."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from connector.mail import Rendered, build_message

RENDERED = Rendered(
    subject="Order #1042: ready to ship", text="Hello Anna\n", html="<p>Hello Anna</p>", locale="de"
)
SENT = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def _message(**changes: Any) -> EmailMessage:
    options: dict[str, Any] = {
        "sender": "Kaffeerösterei Nord <shop@roesterei.example>",
        "to": "Anna Weber <anna@example.com>",
        "reply_to": "support@roesterei.example",
        "message_id": "outbox-42",
        "sent_at": SENT,
    }
    options.update(changes)
    return build_message(RENDERED, **options)


def test_headers_name_sender_recipient_support_and_date() -> None:
    message = _message()

    assert message["From"].addresses[0].addr_spec == "shop@roesterei.example"
    assert message["From"].addresses[0].display_name == "Kaffeerösterei Nord"
    assert message["To"] == "Anna Weber <anna@example.com>"
    assert message["Reply-To"] == "support@roesterei.example"
    assert message["Subject"] == "Order #1042: ready to ship"
    assert message["Date"].datetime == SENT
    assert message["Content-Language"] == "de"
    assert message["Auto-Submitted"] == "auto-generated"


def test_text_and_html_are_alternatives_of_one_message() -> None:
    message = _message()

    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content() == "Hello Anna\n"
    assert message.get_body(("html",)).get_content().strip() == "<p>Hello Anna</p>"


def test_the_same_outbox_row_gives_the_same_message_id() -> None:
    assert _message()["Message-ID"] == _message()["Message-ID"] == "<outbox-42@roesterei.example>"
    odd = _message(message_id="line:7/placed v3")["Message-ID"]
    assert odd == _message(message_id="line:7/placed v3")["Message-ID"]
    assert odd.startswith("<") and odd.endswith("@roesterei.example>") and " " not in odd
    assert _message(message_id="<given@elsewhere.example>")["Message-ID"] == (
        "<given@elsewhere.example>"
    )


def test_without_an_id_each_message_gets_a_fresh_one_and_no_reply_to_is_left_out() -> None:
    first, second = _message(message_id=None, reply_to=None), _message(message_id=None)

    assert first["Message-ID"] != second["Message-ID"]
    assert first["Reply-To"] is None


def test_extra_headers_are_added_but_may_not_replace_ours() -> None:
    message = _message(headers={"X-Backorder-Kind": "ready"})

    assert message["X-Backorder-Kind"] == "ready"
    with pytest.raises(ValueError, match="Subject"):
        _message(headers={"Subject": "other"})


def test_a_newline_in_a_header_value_is_refused() -> None:
    with pytest.raises(ValueError):
        _message(to="anna@example.com\nBcc: everyone@example.com")
