"""E-mail: templates rendered per kind and locale, a MIME message, and the one SMTP sender.

`render` turns a message kind and its context into subject, text and HTML (built-in templates in
English and German, or a shop's own); `build_message` makes the MIME message; `SmtpSender` hands
it to the server named by SMTP_URL (forms in `connector.mail.smtp`). The outbox that decides what
to send and retries lives in `connector/services/notify.py`; nothing else talks SMTP.
"""

from __future__ import annotations

from connector.mail.errors import (
    MailError,
    MailPermanentError,
    MailTemporaryError,
    TemplateError,
    TemplateMissing,
)
from connector.mail.message import build_message
from connector.mail.render import (
    CUSTOMER_KINDS,
    MERCHANT_KINDS,
    Rendered,
    builtin_locales,
    check_override,
    known_kinds,
    render,
)
from connector.mail.smtp import SmtpConfig, SmtpSender, parse_smtp_url, sender_from_url

__all__ = [
    "CUSTOMER_KINDS",
    "MERCHANT_KINDS",
    "MailError",
    "MailPermanentError",
    "MailTemporaryError",
    "Rendered",
    "SmtpConfig",
    "SmtpSender",
    "TemplateError",
    "TemplateMissing",
    "build_message",
    "builtin_locales",
    "check_override",
    "known_kinds",
    "parse_smtp_url",
    "render",
    "sender_from_url",
]
