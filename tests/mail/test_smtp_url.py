"""SMTP_URL forms as documented in .env.example, and the mistakes refused at startup."""

from __future__ import annotations

import pytest

from connector.mail import SmtpSender, parse_smtp_url


@pytest.mark.parametrize(
    ("url", "host", "port", "security"),
    [
        ("smtp://mail.example.com", "mail.example.com", 25, "auto"),
        ("smtp://mail.example.com:2525?starttls=never", "mail.example.com", 2525, "never"),
        ("smtp://mail.example.com?starttls=required", "mail.example.com", 25, "starttls"),
        ("smtp+starttls://mail.example.com", "mail.example.com", 587, "starttls"),
        ("smtps://mail.example.com", "mail.example.com", 465, "tls"),
        ("SMTPS://[::1]:1465", "::1", 1465, "tls"),
    ],
)
def test_url_forms(url: str, host: str, port: int, security: str) -> None:
    config = parse_smtp_url(url)

    assert (config.host, config.port, config.security) == (host, port, security)
    assert config.verify and config.timeout == 30.0 and config.username is None


def test_credentials_are_url_quoted_and_options_read() -> None:
    config = parse_smtp_url(
        "smtps://shop%40example.com:p%40ss%3Aword@mail.example.com?timeout=5&verify=false&helo=a.b"
    )

    assert config.username == "shop@example.com"
    assert config.password == "p@ss:word"
    assert (config.timeout, config.verify, config.helo) == (5.0, False, "a.b")


def test_the_password_never_shows_in_a_repr() -> None:
    url = "smtps://shop:secret-pw@mail.example.com"

    assert "secret-pw" not in repr(parse_smtp_url(url))
    assert "secret-pw" not in repr(SmtpSender(url))


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "smtp://",
        "smtp://mail.example.com:notaport",
        "smtp://mail.example.com?timeout=soon",
        "smtp://mail.example.com?timeout=0",
        "smtp://mail.example.com?verify=maybe",
        "smtp://mail.example.com?tls=yes",
        "smtps://mail.example.com?starttls=never",
        "smtps://shöp:pw@mail.example.com",
    ],
)
def test_a_url_that_can_never_work_is_refused_without_repeating_it(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_smtp_url(url.replace("pw", "secret-pw"))

    assert "secret-pw" not in str(raised.value)
