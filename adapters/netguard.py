"""Which network addresses a store may be reached at, checked where the socket is opened.

A store URL is user input: whoever starts an install could point it at our own network
(loopback, private ranges, the cloud metadata service) and use us as a proxy. Checking the URL
once at install is not enough: DNS can answer differently later, and a public store can redirect
to a private host. So `guard_session` mounts a transport adapter whose connections resolve the
name themselves, refuse it unless *every* address is public, and open the socket to the very
address that was checked: there is no second lookup for DNS to answer differently (no
time-of-check/time-of-use gap). TLS is unchanged: urllib3 wraps the socket with the URL's
hostname as SNI and verifies the certificate against that hostname, and the Host header is the
URL's. Each redirect hop is a new request through the same adapter, so it is checked the same way.

`ALLOW_PRIVATE_STORE_URLS=true` (development, the sandbox) means callers do not mount the guard.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from adapters.base import StoreError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 5
SHOPIFY_SUFFIX = ".myshopify.com"

# Cloud metadata services. 169.254.169.254 and fd00:ec2::254 are link-local / unique-local and
# caught anyway; Azure's wire server is a public address, so `is_global` alone lets it through.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "168.63.129.16", "100.100.100.200")
)
# IANA "not globally reachable" blocks that this Python's `is_global` still calls global
# (192.0.0.0/24 holds Oracle Cloud's metadata service at 192.0.0.192).
_NOT_GLOBAL = (ipaddress.ip_network("192.0.0.0/24"),)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(StoreError):
    """The store's host is not a public address and ALLOW_PRIVATE_STORE_URLS is off.

    Not an `OSError`, so nothing treats it as a transient network failure worth retrying.
    """


class UnresolvableHost(StoreError):
    """The store's host name does not resolve."""


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address that is no cloud metadata service.

    IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address.teredo is not None:
            return False
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_unspecified
        and address not in METADATA_ADDRESSES
        and not any(address in network for network in _NOT_GLOBAL)
    )


def is_shopify_host(host: str) -> bool:
    """Shopify's own shop domains: their DNS is Shopify's, not the merchant's."""
    return host.lower().rstrip(".").endswith(SHOPIFY_SUFFIX)


def public_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """`getaddrinfo` results for host:port; raises unless every address is public."""
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    if not infos:
        raise UnresolvableHost(f"{host} has no address")
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not is_public(address):
            raise BlockedAddress(
                f"{host} resolves to {address}, which is not a public address "
                "(ALLOW_PRIVATE_STORE_URLS is off)"
            )
    return infos


def check_url(url: str) -> None:
    """The install-time check: https, and a host that resolves to public addresses only."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise BlockedAddress("store URLs must use https (ALLOW_PRIVATE_STORE_URLS is off)")
    try:
        public_addresses(parts.hostname, parts.port or 443)
    except socket.gaierror as exc:
        raise UnresolvableHost(f"{parts.hostname} does not resolve: {exc.strerror}") from None


def guard_session(session: requests.Session) -> requests.Session:
    """Route every http(s) request of `session` through the address guard; cap redirects."""
    adapter = PublicAddressAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.max_redirects = min(session.max_redirects, MAX_REDIRECTS)
    return session


class PublicAddressAdapter(HTTPAdapter):
    """A `requests` transport that connects only to public addresses, over https only."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url or "")
        if parts.scheme != "https":
            # Host only: the query of a signed WooCommerce URL carries the consumer key.
            raise BlockedAddress(
                f"refusing plain http to {parts.hostname} (ALLOW_PRIVATE_STORE_URLS is off)"
            )
        return super().send(request, *args, **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # A proxy would resolve the store's name where we cannot check the answer.
        raise BlockedAddress(
            "an HTTP(S) proxy is configured; the store address guard needs direct connections "
            "(unset the proxy for store traffic, or set ALLOW_PRIVATE_STORE_URLS=true)"
        )


class _GuardedConnectionMixin:
    """Replaces urllib3's `_new_conn`: resolve once, check, connect to the checked address."""

    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        try:
            infos = public_addresses(self.host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        error: OSError | None = None
        timed_out = False
        for family, kind, proto, _name, sockaddr in infos:
            try:
                sock = open_socket(family, kind, proto, sockaddr, self)
            except TimeoutError as exc:
                error = exc
                timed_out = True
            except OSError as exc:
                error = exc
                timed_out = False
            else:
                sys.audit("http.client.connect", self, self.host, self.port)
                return sock
        if error is not None and timed_out:
            message = f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            raise ConnectTimeoutError(self, message) from error
        raise NewConnectionError(  # type: ignore[arg-type]
            self, f"Failed to establish a new connection: {error}"
        ) from error


def open_socket(
    family: int, kind: int, proto: int, sockaddr: Any, conn: _GuardedConnectionMixin
) -> socket.socket:
    """Connect one socket to exactly `sockaddr`: urllib3's own steps, minus its name lookup."""
    sock = socket.socket(family, kind, proto)
    try:
        for option in conn.socket_options or ():
            sock.setsockopt(*option)
        if isinstance(conn.timeout, int | float):
            sock.settimeout(conn.timeout)
        if conn.source_address:
            sock.bind(conn.source_address)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection
