"""REST API authentication, as `WC_REST_Authentication` does it.

Source: woocommerce/woocommerce, plugins/woocommerce/includes/class-wc-rest-authentication.php
(`authenticate`, `perform_basic_authentication`, `get_oauth_parameters`, `check_oauth_signature`,
`join_with_equals_sign`, `normalize_parameters`, `check_oauth_timestamp_and_nonce`,
`check_permissions`) and wc-rest-functions.php (`wc_rest_urlencode_rfc3986`).

Over HTTPS: consumer_key/consumer_secret from the query string first, then HTTP Basic; if that
finds no key, OAuth is still tried. Over plain HTTP only OAuth 1.0a one-legged is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from .errors import WooError
from .models import ApiKey
from .store import WooStore

OAUTH_PARAMS = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
WINDOW = 15 * 60


@dataclass(frozen=True)
class AuthRequest:
    """What authentication reads from a request (PHP's $_GET/$_POST are last-wins maps)."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    authorization: str
    is_ssl: bool


@dataclass(frozen=True)
class AuthResult:
    """The authenticated key, or the error WooCommerce would set, or neither (anonymous)."""

    key: ApiKey | None = None
    error: WooError | None = None


def _auth_error(message: str, code: str = "woocommerce_rest_authentication_error") -> WooError:
    return WooError(code, message, 401)


def rfc3986(value: str) -> str:
    """`wc_rest_urlencode_rfc3986`: PHP rawurlencode (everything but A-Za-z0-9-_.~)."""
    return quote(value, safe="-_.~")


def authenticate(store: WooStore, req: AuthRequest) -> AuthResult:
    """Identify the API key of a request exactly as WooCommerce would."""
    if req.is_ssl:
        result = _basic(store, req)
        if result.key is not None or result.error is not None:
            return result
    return _oauth(store, req)


def _basic(store: WooStore, req: AuthRequest) -> AuthResult:
    ck = req.query.get("consumer_key", "")
    cs = req.query.get("consumer_secret", "")
    if not (ck and cs) and req.authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(req.authorization[6:].strip()).decode()
        except ValueError:
            decoded = ""
        ck, _, cs = decoded.partition(":")
    if not ck or not cs:
        return AuthResult()
    key = store.key_by_consumer_key(ck)
    if key is None:
        return AuthResult()
    if not hmac.compare_digest(key.consumer_secret, cs):
        return AuthResult(error=_auth_error("Consumer secret is invalid."))
    return AuthResult(key=key)


def _oauth_params(req: AuthRequest) -> tuple[dict[str, str], WooError | None]:
    params = {**req.query, **req.form}
    header = req.authorization.strip()
    if header.startswith("OAuth "):
        params.update(parse_oauth_header(header))
    missing = [n for n in OAUTH_PARAMS if not params.get(n)]
    if len(missing) == len(OAUTH_PARAMS):
        return {}, None
    if missing:
        noun = "parameter" if len(missing) == 1 else "parameters"
        message = f"Missing OAuth {noun} {', '.join(missing)}"
        return {}, _auth_error(message, "woocommerce_rest_authentication_missing_parameter")
    return params, None


def parse_oauth_header(header: str) -> dict[str, str]:
    """`parse_header`: oauth_* pairs of an `Authorization: OAuth …` header."""
    import re
    from urllib.parse import unquote_plus

    out = {}
    for name, quoted, bare in re.findall(r'(oauth_[a-z_-]*)=(?:"([^"]*)"|([^,]*))', header):
        out[name] = unquote_plus(quoted or bare)
    return out


def signature_base(method: str, url: str, params: dict[str, str]) -> str:
    """The string WooCommerce signs: METHOD & rawurlencode(url) & double-encoded pairs."""
    pairs = sorted(
        ((k, v) for k, v in params.items() if k != "oauth_signature"), key=lambda kv: kv[0].encode()
    )  # uksort(strcmp): byte order
    joined = "%26".join(rfc3986(f"{rfc3986(k)}={rfc3986(v)}") for k, v in pairs)
    return f"{method.upper()}&{rfc3986(url)}&{joined}"


def sign(secret: str, base: str, method: str = "HMAC-SHA256") -> str:
    """base64 HMAC with key = consumer secret + "&" (no token secret in one-legged OAuth)."""
    algo = hashlib.sha1 if method == "HMAC-SHA1" else hashlib.sha256
    digest = hmac.new((secret + "&").encode(), base.encode(), algo).digest()
    return base64.b64encode(digest).decode()


def _oauth(store: WooStore, req: AuthRequest) -> AuthResult:
    params, error = _oauth_params(req)
    if error is not None or not params:
        return AuthResult(error=error)
    key = store.key_by_consumer_key(params["oauth_consumer_key"])
    if key is None:
        return AuthResult(error=_auth_error("Consumer key is invalid."))
    scheme = "https" if req.is_ssl else "http"
    home = store.settings.site_url.rstrip("/")
    home = scheme + home[home.index(":") :] if ":" in home else home
    base = signature_base(req.method, home + req.path, params)
    method = params["oauth_signature_method"]
    if method not in ("HMAC-SHA1", "HMAC-SHA256"):
        return AuthResult(error=_auth_error("Invalid signature - signature method is invalid."))
    given = params["oauth_signature"].replace(" ", "+")
    if not hmac.compare_digest(sign(key.consumer_secret, base, method), given):
        return AuthResult(
            error=_auth_error("Invalid signature - provided signature does not match.")
        )
    return _timestamp_and_nonce(store, key, params["oauth_timestamp"], params["oauth_nonce"])


def _timestamp_and_nonce(store: WooStore, key: ApiKey, stamp: str, nonce: str) -> AuthResult:
    now = int(store.auth_clock().timestamp())
    try:
        timestamp = int(stamp)
    except ValueError:
        timestamp = 0
    if timestamp < now - WINDOW or timestamp > now + WINDOW:
        return AuthResult(error=_auth_error("Invalid timestamp."))
    with store.lock:
        if nonce in key.nonces.values():
            return AuthResult(error=_auth_error("Invalid nonce - nonce has already been used."))
        key.nonces[timestamp] = nonce
        for old in [t for t in key.nonces if t < now - WINDOW]:
            del key.nonces[old]
    return AuthResult(key=key)


def check_permissions(key: ApiKey, method: str) -> WooError | None:
    """A read key cannot write and a write key cannot read (both 401, as WooCommerce answers)."""
    if method in ("GET", "HEAD"):
        if key.permissions not in ("read", "read_write"):
            return _auth_error("The API key provided does not have read permissions.")
    elif method in ("POST", "PUT", "PATCH", "DELETE"):
        if key.permissions not in ("write", "read_write"):
            return _auth_error("The API key provided does not have write permissions.")
    elif method != "OPTIONS":
        return _auth_error("Unknown request method.")
    return None
