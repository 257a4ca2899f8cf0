"""Store URLs must lead to public hosts: checked at install, and again on every connection.

DNS is faked by replacing `socket.getaddrinfo`; connections the guard lets through are sent to a
local TLS server (whose certificate names the fake hosts) by replacing `netguard.open_socket`,
which records the address the guard chose. Nothing here needs the internet.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient

from adapters import netguard
from adapters.base import StoreError
from adapters.netguard import BlockedAddress, PublicAddressAdapter, guard_session, is_public
from adapters.shopify import ShopifyAdapter
from adapters.woocommerce import WooCommerceAdapter
from connector.runtime import Runtime
from connector.stores import adapter_from
from sandbox.woocommerce.server import RunningWoo
from sandbox.woocommerce.server import start as start_woo
from sandbox.woocommerce.store import WooStore

STORE = "shop.example.com"
PUBLIC_IP = "93.184.215.14"
PRIVATE = ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fc00::1"]
NAMES = [STORE, "internal.example.com"]


# ---------------------------------------------------------------------------- fakes


class FakeDNS:
    """Answers for the names it knows; anything else goes to the real resolver (127.0.0.1)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.records: dict[str, list[str]] = {}

    def __call__(self, host: Any, port: Any, family: int = 0, type: int = 0, *rest: Any) -> Any:
        if host not in self.records:
            return self.real(host, port, family, type, *rest)
        if not self.records[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = []
        for ip in self.records[host]:
            if ":" in ip:
                answers.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0)))
            else:
                answers.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)))
        return answers


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


class TLSStore(ThreadingHTTPServer):
    """A tiny https store answering `system_status`, or redirecting, as `mode` says."""

    mode = "ok"
    seen: list[tuple[str, str, str | None]]  # (Host header, path, SNI) per request
    sni: str | None = None
    dialled: list[str]  # the addresses the guard connected to


class Handler(BaseHTTPRequestHandler):
    server: TLSStore

    def do_GET(self) -> None:
        self.server.seen.append((self.headers.get("Host", ""), self.path, self.server.sni))
        if self.server.mode == "to_private":
            self._redirect("https://internal.example.com/wp-json/wc/v3/system_status")
        elif self.server.mode == "loop":
            self._redirect(f"https://{STORE}/loop/{len(self.server.seen)}")
        else:
            body = {
                "environment": {"home_url": f"https://{STORE}", "site_title": "Guarded"},
                "settings": {"currency": "EUR", "timezone": "UTC"},
            }
            self._send(200, json.dumps(body).encode(), "application/json")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the fake names (its own trust anchor)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, STORE)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in NAMES]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "store.pem", directory / "store.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TLSStore, Path]]:
    cert_path, key_path = _certificate(tmp_path_factory.mktemp("tls"))
    server = TLSStore(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)

    def remember_sni(_sock: Any, name: str | None, _context: Any) -> None:
        server.sni = name

    context.sni_callback = remember_sni
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, cert_path
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(
    tls_store: tuple[TLSStore, Path], dns: FakeDNS, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TLSStore]:
    """The TLS store reachable as https://shop.example.com (a public address, as far as we know)."""
    server, cert_path = tls_store
    server.mode, server.seen, server.sni = "ok", [], None
    dialled: list[str] = []
    port = server.server_address[1]

    def dial(family: int, kind: int, proto: int, sockaddr: Any, conn: Any) -> socket.socket:
        dialled.append(sockaddr[0])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(("127.0.0.1", port))  # wherever the guard meant to go, it reaches us
        return sock

    monkeypatch.setattr(netguard, "open_socket", dial)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_path))  # woocommerce.API sends verify=True
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    dns.records[STORE] = [PUBLIC_IP]
    server.dialled = dialled
    yield server


def guarded_woo(url: str = f"https://{STORE}", **kwargs: Any) -> WooCommerceAdapter:
    sleeps: list[float] = kwargs.pop("sleeps", [])
    return WooCommerceAdapter(
        url, "ck_x", "cs_y", allow_private=False, sleep=sleeps.append, **kwargs
    )


# ---------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # cloud metadata
        ("168.63.129.16", False),  # Azure's wire server: a public address, still refused
        ("0.1.2.3", False),  # "this network"
        ("::1", False),
        ("fc00::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped private
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        (PUBLIC_IP, True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_only_global_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


# ---------------------------------------------------------------------------- install time


def _install(client: FlaskClient, url: str = f"https://{STORE}") -> Any:
    return client.get("/woocommerce/install", query_string={"store_url": url})


@pytest.mark.parametrize("address", PRIVATE)
def test_install_refuses_a_store_that_resolves_to_a_private_address(
    client: FlaskClient, dns: FakeDNS, address: str
) -> None:
    dns.records[STORE] = [address]
    answer = _install(client)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["field"] == "store_url" and "not a public address" in error["message"]


def test_install_refuses_a_name_with_any_private_record(client: FlaskClient, dns: FakeDNS) -> None:
    dns.records[STORE] = [PUBLIC_IP, "10.0.0.1"]
    assert _install(client).status_code == 400


def test_install_refuses_a_name_that_does_not_resolve(client: FlaskClient, dns: FakeDNS) -> None:
    dns.records[STORE] = []
    answer = _install(client)
    assert answer.status_code == 400 and "does not resolve" in answer.get_json()["error"]["message"]


def test_install_accepts_a_public_store(client: FlaskClient, dns: FakeDNS) -> None:
    dns.records[STORE] = [PUBLIC_IP, "2606:4700:4700::1111"]
    answer = _install(client)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(f"https://{STORE}/wc-auth/v1/authorize?")


# ---------------------------------------------------------------------------- connect time


def test_the_guard_connects_to_the_checked_address_with_the_hostname_for_tls(
    store: TLSStore,
) -> None:
    assert guarded_woo().shop().name == "Guarded"
    assert store.dialled == [PUBLIC_IP]
    host, path, sni = store.seen[0]
    assert (host, sni) == (STORE, STORE)  # Host header and SNI name the store, not the IP
    assert path.startswith("/wp-json/wc/v3/system_status")


def test_the_certificate_is_still_checked_against_the_hostname(
    store: TLSStore, dns: FakeDNS
) -> None:
    dns.records["elsewhere.example.org"] = [PUBLIC_IP]  # a name the certificate does not hold
    with pytest.raises(StoreError, match="certificate"):
        guarded_woo("https://elsewhere.example.org").shop()
    assert store.seen == []


def test_a_connect_is_refused_when_dns_turns_private_after_the_install_check(
    client: FlaskClient, store: TLSStore, dns: FakeDNS, runtime: Runtime
) -> None:
    assert _install(client).status_code == 302  # public when checked
    dns.records[STORE] = ["10.0.0.5"]  # ... and private when we connect
    sleeps: list[float] = []
    with pytest.raises(BlockedAddress, match=re.escape("10.0.0.5")):
        guarded_woo(sleeps=sleeps).shop()
    assert store.dialled == [] and store.seen == []
    assert sleeps == []  # a refusal is final, not retried

    # The connector builds its adapters guarded (ALLOW_PRIVATE_STORE_URLS is off here).
    keys = {"consumer_key": "ck_x", "consumer_secret": "cs_y"}
    adapter = adapter_from(runtime, "woocommerce", f"https://{STORE}", keys)
    assert isinstance(adapter, WooCommerceAdapter)
    assert isinstance(adapter.client.session.get_adapter(f"https://{STORE}"), PublicAddressAdapter)


def test_a_redirect_from_a_public_store_to_a_private_host_is_refused(
    store: TLSStore, dns: FakeDNS
) -> None:
    dns.records["internal.example.com"] = ["10.0.0.7"]
    store.mode = "to_private"
    with pytest.raises(BlockedAddress, match=re.escape("internal.example.com")):
        guarded_woo().shop()
    assert store.dialled == [PUBLIC_IP]
    assert [host for host, _, _ in store.seen] == [STORE]


def test_redirects_are_capped(store: TLSStore) -> None:
    store.mode = "loop"
    session = guard_session(requests.Session())
    with pytest.raises(requests.TooManyRedirects):
        session.get(f"https://{STORE}/loop/0", timeout=5)
    assert len(store.seen) == netguard.MAX_REDIRECTS + 1


def test_plain_http_is_refused_unless_private_addresses_are_allowed(dns: FakeDNS) -> None:
    dns.records[STORE] = [PUBLIC_IP]
    with pytest.raises(BlockedAddress, match="plain http"):
        guarded_woo(f"http://{STORE}").shop()


@pytest.fixture
def woo(runtime: Runtime) -> Iterator[RunningWoo]:
    running = start_woo(store=WooStore(clock=runtime.clock.now), variants=5, seed=5)
    yield running
    running.stop()


def test_allow_private_reaches_a_local_store_that_the_guard_refuses(woo: RunningWoo) -> None:
    open_store = WooCommerceAdapter(
        woo.url, woo.consumer_key, woo.consumer_secret, allow_private=True
    )
    assert open_store.shop().domain == "127.0.0.1"
    with pytest.raises(BlockedAddress):
        guarded_woo(woo.url).shop()


def test_shopify_admin_urls_are_guarded_unless_they_are_shopify_own(dns: FakeDNS) -> None:
    dns.records["admin.example.net"] = ["10.0.0.9"]
    sleeps: list[float] = []
    gateway = ShopifyAdapter(
        "guarded.myshopify.com",
        "shpat_x",
        admin_base_url="https://admin.example.net/admin/api/{version}",
        allow_private=False,
        sleep=sleeps.append,
    )
    with pytest.raises(BlockedAddress, match=re.escape("10.0.0.9")):
        gateway.shop()
    assert sleeps == []
    shopify_own = ShopifyAdapter("guarded.myshopify.com", "shpat_x", allow_private=False)
    transport = shopify_own.transport.session.get_adapter("https://guarded.myshopify.com")
    assert not isinstance(transport, PublicAddressAdapter)
