"""Which store addresses we accept: a leaked key must not turn us into a proxy to private hosts."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

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


def _is_private_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(_PRIVATE_SUFFIXES) or "." not in host:
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global
