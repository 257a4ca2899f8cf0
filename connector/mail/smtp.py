"""The one place that talks SMTP. Configured by one URL, `SMTP_URL`:

    smtp://host:25                  plain; STARTTLS is used whenever the server offers it
    smtp://host:25?starttls=never   plain, never STARTTLS (a local relay or test server)
    smtp+starttls://host:587        STARTTLS required: nothing is sent if the server lacks it
    smtps://host:465                implicit TLS from the first byte
    smtps://user:pa%40ss@host:465   AUTH with URL-quoted user name and password
    ...?timeout=10                  seconds for connecting and each command (default 30)
    ...?verify=false                do not check the server's certificate: development only
    ...?helo=mail.example.com       the name we greet with (default: this machine's name)

Credentials are only ever sent over TLS (or to a server on this machine). A `SmtpSender` keeps
one connection open and reuses it for the next message. Before a reuse it looks whether the
server said anything since (a close, a 421 goodbye: the socket is readable) and only then checks
with NOOP, reopening if the server closed it meanwhile, so the message itself is only ever handed
over once per `send`. A NOOP before every message would double the round trips of a burst of a
thousand e-mails; a silent socket costs no round trip. Should one be gone all the same, that send
fails as temporary and its message goes again later: never lost, never twice. Failures come out as
`MailTemporaryError` (try again later) or `MailPermanentError` (do not); their messages name no
recipient and no credential.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import select
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import lru_cache
from types import TracebackType
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from connector.mail.errors import MailError, MailPermanentError, MailTemporaryError

log = logging.getLogger(__name__)

Security = Literal["auto", "never", "starttls", "tls"]
_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("auto", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
_OPTIONS = frozenset({"starttls", "timeout", "verify", "helo"})
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: Security
    timeout: float
    verify: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    helo: str | None = None


def parse_smtp_url(url: str, *, timeout: float = 30.0) -> SmtpConfig:
    """Raises ValueError for a URL that can never work; the message never repeats the URL,
    which may hold a password."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in _SCHEMES:
        raise ValueError("SMTP_URL must start with smtp://, smtp+starttls:// or smtps://")
    security, default_port = _SCHEMES[parts.scheme.lower()]
    if not parts.hostname:
        raise ValueError("SMTP_URL names no host")
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError("SMTP_URL has an invalid port") from None
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if not (username or "").isascii() or not (password or "").isascii():
        raise ValueError("SMTP_URL user name and password must be ASCII (smtplib sends no other)")
    unknown = set(options) - _OPTIONS
    if unknown:
        raise ValueError(f"SMTP_URL has unknown options: {sorted(unknown)}")
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        security=_security(security, options.get("starttls")),
        timeout=_timeout(options.get("timeout"), timeout),
        verify=_flag(options.get("verify", "true")),
        username=username,
        password=password,
        helo=options.get("helo") or None,
    )


class SmtpSender:
    """Hands messages to one SMTP server, one at a time (a lock guards the connection)."""

    def __init__(
        self, url: str, *, timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """`ssl_context`: to trust a private CA (tests); default: the system's trust store."""
        self.config = parse_smtp_url(url, timeout=timeout)
        self._ssl = ssl_context or _default_context(self.config.verify)
        self._lock = threading.Lock()
        self._connection: smtplib.SMTP | None = None
        self.connections_opened = 0

    def __repr__(self) -> str:
        return f"SmtpSender({self.config.security}://{self.config.host}:{self.config.port})"

    def send(self, message: EmailMessage) -> None:
        """Raises MailTemporaryError or MailPermanentError."""
        with self._lock:
            try:
                self._ready_connection().send_message(message)
            except BaseException as exc:
                self._discard()  # whatever went wrong, the next send starts on a clean line
                if isinstance(exc, smtplib.SMTPException | OSError):
                    raise _classified(exc, self.config) from None
                raise

    def close(self) -> None:
        with self._lock:
            self._discard()

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _ready_connection(self) -> smtplib.SMTP:
        if self._connection is not None:
            if not _has_news(self._connection):
                return self._connection
            try:
                alive = self._connection.noop()[0] == 250
            except (smtplib.SMTPException, OSError):
                alive = False
            if alive:
                return self._connection
            self._discard()
        self._connection = self._open()
        return self._connection

    def _open(self) -> smtplib.SMTP:
        config = self.config
        helo = config.helo or _local_hostname()
        connection: smtplib.SMTP
        if config.security == "tls":
            connection = smtplib.SMTP_SSL(
                config.host, config.port, helo, timeout=config.timeout, context=self._ssl
            )
        else:
            connection = smtplib.SMTP(config.host, config.port, helo, timeout=config.timeout)
        self.connections_opened += 1
        try:
            connection.ehlo_or_helo_if_needed()
            encrypted = config.security == "tls"
            if config.security in ("auto", "starttls") and connection.has_extn("starttls"):
                connection.starttls(context=self._ssl)
                connection.ehlo_or_helo_if_needed()
                encrypted = True
            if config.security == "starttls" and not encrypted:
                raise MailPermanentError(
                    "the SMTP server does not offer STARTTLS and SMTP_URL requires it"
                )
            if config.username:
                if not encrypted and not _is_loopback(config.host):
                    raise MailPermanentError(
                        "refusing to send SMTP credentials unencrypted: use smtps:// or "
                        "smtp+starttls://"
                    )
                connection.login(config.username, config.password or "")
        except BaseException:
            _close(connection, polite=False)
            raise
        return connection

    def _discard(self) -> None:
        if self._connection is not None:
            _close(self._connection, polite=True)
            self._connection = None


def _has_news(connection: smtplib.SMTP) -> bool:
    """Whether the server sent anything on an idle connection (it never speaks unasked, but
    to close it): a readable socket, or bytes TLS has already buffered."""
    sock = connection.sock
    if sock is None:
        return True
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # closed under us
        return True
    return bool(readable)


def sender_from_url(url: str | None) -> SmtpSender | None:
    """None when no SMTP_URL is set: e-mail is off, nothing leaves the machine."""
    if url is None or not url.strip():
        return None
    return SmtpSender(url)


def _classified(exc: BaseException, config: SmtpConfig) -> MailError:
    where = f"{config.host}:{config.port}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        kind = MailTemporaryError if codes and all(400 <= c < 500 for c in codes) else None
        return (kind or MailPermanentError)(f"{where} refused the recipient ({codes})")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailPermanentError(f"{where} refused our credentials ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        reply = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        reason = f"{where} answered {exc.smtp_code}: {_scrubbed(reply)}"
        return (MailTemporaryError if exc.smtp_code < 500 else MailPermanentError)(reason)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailPermanentError(f"{where}: {exc}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailTemporaryError(f"{where} closed the connection")
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return MailTemporaryError(f"TLS with {where} failed: {getattr(exc, 'reason', None) or exc}")
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        return MailTemporaryError(f"cannot reach the SMTP server {where}: {reason}")
    return MailTemporaryError(f"SMTP with {where} failed: {type(exc).__name__}")


def _scrubbed(reply: str) -> str:
    """A server's reply often quotes the address it refused; logs and the dashboard must not."""
    return _ADDRESS.sub("<address>", " ".join(reply.split()))[:200]


def _close(connection: smtplib.SMTP, *, polite: bool) -> None:
    try:
        if polite:
            connection.quit()
        else:
            connection.close()
    except (smtplib.SMTPException, OSError):
        connection.close()


def _default_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        log.warning("SMTP_URL has verify=false: the mail server's certificate is not checked")
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@lru_cache(maxsize=1)
def _local_hostname() -> str:
    """smtplib looks this up (DNS) on every connection unless given; once is enough."""
    return socket.getfqdn() or "localhost"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _security(scheme_default: Security, starttls: str | None) -> Security:
    if starttls is None:
        return scheme_default
    choice = starttls.lower()
    if scheme_default != "auto" or choice not in ("auto", "never", "required"):
        raise ValueError("starttls= is one of auto, never, required, and only for smtp://")
    return {"auto": "auto", "never": "never", "required": "starttls"}[choice]  # type: ignore[return-value]


def _timeout(value: str | None, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError("SMTP_URL timeout= must be a number of seconds") from None
    if not 0 < seconds <= 600:
        raise ValueError("SMTP_URL timeout= must be between 0 and 600 seconds")
    return seconds


def _flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("SMTP_URL verify= must be true or false")
