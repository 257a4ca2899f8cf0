"""What can go wrong with an e-mail, sorted by what the outbox should do about it.

The outbox (connector/services/notify.py) decides between "try again later" and "give up and show
the merchant" from the type alone, so every failure leaves this package as one of these. Messages
never carry a recipient, a body or a credential: they end up in logs and on the dashboard.
"""

from __future__ import annotations


class MailError(Exception):
    """Base of every failure of this package."""


class MailTemporaryError(MailError):
    """The server could not be reached or said "not now" (4xx): send the same message later."""


class MailPermanentError(MailError):
    """The server refused the recipient, the message or our credentials (5xx), or the SMTP_URL
    can never work as configured: retrying will not help, mark the message failed."""


class TemplateError(MailError):
    """A merchant's template does not compile or fails while rendering. The caller falls back to
    the built-in template, and the dashboard can show the message to the merchant."""


class TemplateMissing(LookupError):
    """No locale in the preference list has a template of the kind."""
