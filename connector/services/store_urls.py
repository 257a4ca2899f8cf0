"""Which store addresses we accept: a leaked key must not turn us into a proxy to private hosts.

`woocommerce_url` checks the form of a URL; `check_store_address` resolves its host at install
time. Neither is the last word: DNS can change later, so the adapters re-check every connection
(`adapters.netguard`, the one address policy both use).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from adapters.base import StoreError
from adapters.netguard import check_url, is_public
from connector.services.errors import Invalid

SHOPIFY_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")
_PRIVATE_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa")


def shopify_domain(value: str) -> str:
    domain = value.strip().lower()
    if not SHOPIFY_DOMAIN.match(domain):
        raise Invalid("must be a shop domain such as example.myshopify.com", field="shop")
    return domain


def woocommerce_url(value: str, allow_private: bool) -> str:
    """Normalise a store URL; insist on public https unless ALLOW_PRIVATE_STORE_URLS."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("must be the store's http(s) address", field="url")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise Invalid("must not carry credentials, a query or a fragment", field="url")
    if not allow_private:
        if parts.scheme != "https":
            raise Invalid("must use https (ALLOW_PRIVATE_STORE_URLS is off)", field="url")
        if _is_private_host(parts.hostname):
            raise Invalid("must be a public host (ALLOW_PRIVATE_STORE_URLS is off)", field="url")
    netloc = parts.hostname.lower() + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def check_store_address(url: str, allow_private: bool, field: str = "url") -> None:
    """Install time: unless ALLOW_PRIVATE_STORE_URLS, the host must resolve to public addresses.

    Every address it resolves to must be public (a name with one private record is refused).
    """
    if allow_private:
        return
    try:
        check_url(url)
    except StoreError as exc:
        raise Invalid(f"must be a public https store: {exc}", field=field) from None


def _is_private_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(_PRIVATE_SUFFIXES) or "." not in host:
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not is_public(address)
