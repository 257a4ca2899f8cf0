"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, in a thread, keeping what it receives.

Use it from any test package:

    from tests.mail.smtp_server import running_smtp_server, smtp_server  # noqa: F401 (fixture)

    def test_x(smtp_server): ...                      # plain SMTP, no auth
    with running_smtp_server(tls="starttls", users={"shop": "secret"}) as server: ...

`tls`: "none", "starttls" (offered; `require_starttls=True` to insist) or "implicit" (smtps).
`users`: AUTH required with these user names and passwords. The TLS certificate is self-signed
for localhost/127.0.0.1, made at test time; `server.client_ssl_context()` trusts it.
"""

from __future__ import annotations

import asyncio
import atexit
import ipaddress
import shutil
import socket
import ssl
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Tls = Literal["none", "starttls", "implicit"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    user: str | None  # who authenticated, None without AUTH
    tls: bool  # the message travelled encrypted

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, message_from_bytes(self.content, policy=policy.default))

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_subtype() == subtype, f"no {subtype} part"
        return cast(str, cast(EmailMessage, body).get_content())


@dataclass(frozen=True)
class SelfSignedCertificate:
    cert_file: Path
    key_file: Path
    pem: str


class _Handler:
    def __init__(self, server: SmtpTestServer) -> None:
        self._server = server

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self._server.refuse.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self._server.received.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                content=cast(bytes, envelope.original_content or envelope.content or b""),
                user=session.auth_data if session.authenticated else None,
                tls=session.ssl is not None or self._server.tls == "implicit",
            )
        )
        return "250 Message accepted"


class _Controller(Controller):
    """Remembers every connection's protocol object so a test can drop them."""

    def __init__(self, owner: SmtpTestServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner

    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # AUTH over implicit TLS: aiosmtpd only counts STARTTLS as TLS and warns.
            warnings.simplefilter("ignore", UserWarning)
            smtp = super().factory()
        self._owner._sessions.append(smtp)
        return smtp


class SmtpTestServer:
    def __init__(
        self,
        *,
        tls: Tls = "none",
        require_starttls: bool = False,
        users: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.tls = tls
        self.users = dict(users or {})
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.received: list[Received] = []
        # recipient address → the reply refusing it, e.g. "550 5.1.1 No such user"
        self.refuse: dict[str, str] = {}
        self._sessions: list[SMTP] = []
        self._baseline = 0
        self._require_starttls = require_starttls
        self._controller: _Controller | None = None

    @property
    def connections(self) -> int:
        """Client connections since start (the controller's own readiness probe not counted)."""
        return len(self._sessions) - self._baseline

    def url(self, scheme: str | None = None, *, user: str | None = None, query: str = "") -> str:
        """An SMTP_URL for this server; `user` takes its password from `users`."""
        from urllib.parse import quote

        scheme = (
            scheme or {"none": "smtp", "starttls": "smtp+starttls", "implicit": "smtps"}[self.tls]
        )
        auth = ""
        if user is not None:
            auth = f"{quote(user, safe='')}:{quote(self.users.get(user, ''), safe='')}@"
        suffix = f"?{query}" if query else ""
        return f"{scheme}://{auth}{self.host}:{self.port}{suffix}"

    def client_ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self_signed_certificate().pem)

    def start(self) -> SmtpTestServer:
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "server_hostname": "smtp.test",
            "ready_timeout": 10.0,
        }
        if self.tls == "implicit":
            kwargs["ssl_context"] = _server_context()
        if self.tls == "starttls":
            kwargs["tls_context"] = _server_context()
            kwargs["require_starttls"] = self._require_starttls
        if self.users:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_required"] = True
            kwargs["auth_require_tls"] = self.tls == "starttls"
        self._controller = _Controller(self, _Handler(self), **kwargs)
        self._controller.start()
        self._baseline = len(self._sessions)
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self.drop_connections()
            self._controller.stop()
            self._controller = None

    def drop_connections(self) -> None:
        """Cut every open client connection, as a server restarting or timing out idle ones."""
        assert self._controller is not None
        loop = self._controller.loop

        async def cut() -> None:
            open_ones = [s for s in self._sessions if s.transport is not None]
            for smtp in open_ones:
                raw = getattr(smtp, "_original_transport", None) or smtp.transport
                raw.abort()
            deadline = loop.time() + 5
            while any(s.transport is not None for s in open_ones) and loop.time() < deadline:
                await asyncio.sleep(0.01)

        asyncio.run_coroutine_threadsafe(cut(), loop).result(timeout=10)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            if user in self.users and self.users[user] == password:
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)


@contextmanager
def running_smtp_server(**options: Any) -> Iterator[SmtpTestServer]:
    server = SmtpTestServer(**options).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    """A plain SMTP server without auth: `smtp_server.url()` is its SMTP_URL."""
    with running_smtp_server(tls="none") as server:
        yield server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return cast(int, probe.getsockname()[1])


@lru_cache(maxsize=1)
def self_signed_certificate() -> SelfSignedCertificate:
    """A self-signed certificate for localhost and 127.0.0.1, made once per test run."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory = Path(tempfile.mkdtemp(prefix="smtp-test-cert-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return SelfSignedCertificate(directory / "cert.pem", directory / "key.pem", pem.decode())


def _server_context() -> ssl.SSLContext:
    certificate = self_signed_certificate()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert_file, certificate.key_file)
    return context
