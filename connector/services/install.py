"""Install use cases: Shopify's code grant and token exchange, WooCommerce's app key flow.

Each flow has a start (issue a nonce, return where to send the merchant) and a finish (the
store's callback). A finish checks everything it can before it touches the store, confirms the
credentials with the store, and stores the shop and spends the nonce in one transaction, so any
refusal leaves nothing stored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import StoreAdapter, StoreError
from adapters.shopify.oauth import SubjectTokenRefused, exchange_code, exchange_session_token
from adapters.woocommerce import WooCommerceAdapter
from connector.commands import execute
from connector.models import Shop
from connector.runtime import Runtime
from connector.services import nonces
from connector.services.errors import Invalid, ServiceError
from connector.services.nonces import InstallRefused
from connector.services.shops import ShopUninstalled, add_shop, add_woocommerce, shop_credentials
from connector.services.store_urls import check_store_address, shopify_domain, woocommerce_url
from connector.stores import adapter_for, adapter_from

log = logging.getLogger(__name__)

APP_NAME = "Backorder Connector"
CALLBACK_MAX_AGE = timedelta(minutes=5)
SESSION_TOKEN_LEEWAY = timedelta(seconds=10)  # clock skew Shopify allows on session tokens
SHOPIFY_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/edited",
    "inventory_levels/update",
    "products/update",
    "app/uninstalled",
)
WOOCOMMERCE_TOPICS = (
    "order.created",
    "order.updated",
    "order.deleted",
    "product.created",
    "product.updated",
    "product.deleted",
)


class NotConfigured(ServiceError):
    """The operator has not set what this flow needs (the web maps it to 503)."""

    code = "not_configured"


# ---------------------------------------------------------------------------- Shopify


def callback_hmac(params: dict[str, str], secret: str) -> str:
    """Shopify's callback signature: every param but `hmac`, sorted `k=v` joined by `&`."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def callback_hmac_ok(params: dict[str, str], secret: str) -> bool:
    return hmac.compare_digest(callback_hmac(params, secret), params.get("hmac", ""))


def shopify_authorize_host(admin_base_url: str, shop: str) -> str:
    """`https://{shop}` for real stores; the sandbox's own origin when the template is its URL."""
    if "{shop}" in admin_base_url:
        return f"https://{shop}"
    parts = urlsplit(admin_base_url)
    return f"{parts.scheme}://{parts.netloc}"


def _shopify_app(runtime: Runtime) -> tuple[str, str]:
    key, secret = runtime.settings.SHOPIFY_API_KEY, runtime.settings.SHOPIFY_API_SECRET
    if not key or not secret:
        raise NotConfigured("Shopify installs need SHOPIFY_API_KEY and SHOPIFY_API_SECRET")
    return key, secret


def _valid_shop(value: str) -> str:
    try:
        return shopify_domain(value)
    except Invalid as exc:
        raise InstallRefused(exc.message, field="shop") from None


def start_shopify_install(runtime: Runtime, shop: str) -> str:
    """Issue the OAuth state and return the store's authorize URL to redirect the merchant to."""
    api_key, _ = _shopify_app(runtime)
    domain = _valid_shop(shop)
    state = execute(runtime, lambda s: nonces.issue(s, runtime.clock, "shopify", domain))
    settings = runtime.settings
    query = urlencode(
        {
            "client_id": api_key,
            "scope": settings.SHOPIFY_SCOPES,
            "redirect_uri": f"{settings.APP_URL}/shopify/callback",
            "state": state,
        }
    )
    host = shopify_authorize_host(settings.SHOPIFY_ADMIN_BASE_URL, domain)
    return f"{host}/admin/oauth/authorize?{query}"


def _check_timestamp(runtime: Runtime, value: str) -> None:
    try:
        sent = datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        raise InstallRefused("timestamp is missing or not a number", field="timestamp") from None
    if abs(runtime.clock.now() - sent) > CALLBACK_MAX_AGE:
        raise InstallRefused("timestamp is more than 5 minutes off; retry", field="timestamp")


def finish_shopify_install(runtime: Runtime, params: dict[str, str]) -> int:
    """Verify the callback, trade the code for a token, subscribe, store; returns the shop id."""
    api_key, api_secret = _shopify_app(runtime)
    if not callback_hmac_ok(params, api_secret):
        raise InstallRefused("hmac does not match; the callback was not signed by Shopify", "hmac")
    _check_timestamp(runtime, params.get("timestamp", ""))
    domain = _valid_shop(params.get("shop", ""))
    state = params.get("state", "")
    nonce = execute(runtime, lambda s: nonces.check(s, runtime.clock, "shopify", state, "state"))
    if nonce.target != domain:
        raise InstallRefused("shop is not the shop this install was started for", field="shop")
    if not params.get("code"):
        raise InstallRefused("code is missing", field="code")

    host = shopify_authorize_host(runtime.settings.SHOPIFY_ADMIN_BASE_URL, domain)
    try:
        answer = exchange_code(host, api_key, api_secret, params["code"])
    except StoreError as exc:
        raise InstallRefused(str(exc), field="code") from exc
    return _complete_shopify_install(
        runtime,
        domain,
        answer,
        spend=lambda s: nonces.spend(s, runtime.clock, "shopify", state, "state"),
    )


class SessionTokenRefused(InstallRefused):
    """An embedded app's session token we do not accept; the web maps it to 401."""

    code = "invalid_session_token"


def verify_session_token(runtime: Runtime, id_token: str, shop: str) -> dict[str, Any]:
    """The session token's claims, if it is ours, for `shop`, and current; else refused.

    HS256 with the app secret (or the previous one during a rotation), `aud` our API key, `exp`
    and `nbf` within SESSION_TOKEN_LEEWAY of our clock, `dest` the shop and `iss` on its host.
    PyJWT checks the signature; times are checked against `runtime.clock`, not the wall clock.
    """
    api_key, api_secret = _shopify_app(runtime)
    claims: dict[str, Any] | None = None
    for secret in (api_secret, runtime.settings.SHOPIFY_API_SECRET_PREVIOUS):
        if not secret:
            continue
        try:
            claims = jwt.decode(
                id_token,
                secret,
                algorithms=["HS256"],
                options={
                    "require": ["aud", "dest", "exp", "iss"],
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            raise SessionTokenRefused("id_token is not a session token", "id_token") from None
    if claims is None:
        raise SessionTokenRefused("id_token was not signed with this app's secret", "id_token")
    if claims.get("aud") != api_key:
        raise SessionTokenRefused("id_token was issued for another app (aud)", "id_token")
    now = runtime.clock.now().timestamp()
    leeway = SESSION_TOKEN_LEEWAY.total_seconds()
    try:
        expires, not_before = float(claims["exp"]), float(claims.get("nbf", 0))
    except (TypeError, ValueError):
        raise SessionTokenRefused("id_token has an unreadable exp or nbf", "id_token") from None
    if now > expires + leeway:
        raise SessionTokenRefused("id_token has expired; reload the app", "id_token")
    if now < not_before - leeway:
        raise SessionTokenRefused("id_token is not valid yet", "id_token")
    dest = urlsplit(str(claims["dest"])).hostname or ""
    issuer = urlsplit(str(claims["iss"])).hostname or ""
    if dest != shop or issuer != dest:
        raise SessionTokenRefused("id_token was issued for another shop (dest)", "id_token")
    return claims


def finish_shopify_token_exchange(runtime: Runtime, id_token: str, shop: str) -> int:
    """An embedded app's first load: verify the session token, exchange it, install; the id.

    Shopify's managed installation has already installed the app; we only need an offline
    token. A shop that is active with working credentials keeps them (no exchange on every
    load); a new, uninstalled or re-authorising shop gets an expiring offline token and is
    installed like `finish_shopify_install` does it: store, subscribe, queue the first sync.
    """
    api_key, api_secret = _shopify_app(runtime)
    if not shop:
        raise InstallRefused("shop is missing", field="shop")
    if not id_token:
        raise InstallRefused("id_token is missing", field="id_token")
    domain = _valid_shop(shop)
    verify_session_token(runtime, id_token, domain)
    installed = execute(runtime, lambda s: _working_shopify_shop(s, runtime, domain))
    if installed is not None:
        return installed
    host = shopify_authorize_host(runtime.settings.SHOPIFY_ADMIN_BASE_URL, domain)
    try:
        answer = exchange_session_token(host, api_key, api_secret, id_token)
    except SubjectTokenRefused as exc:
        raise SessionTokenRefused(str(exc), field="id_token") from exc
    except StoreError as exc:
        raise InstallRefused(str(exc), field="id_token") from exc
    return _complete_shopify_install(runtime, domain, answer)


def _working_shopify_shop(session: Session, runtime: Runtime, domain: str) -> int | None:
    """The id of an active shop with an access token that needs no re-authorisation, or None."""
    shop = session.scalar(select(Shop).where(Shop.platform == "shopify", Shop.domain == domain))
    if shop is None or shop.status != "active" or shop.needs_reauthorization:
        return None
    try:
        credentials = shop_credentials(runtime.vault, shop)
    except ShopUninstalled:
        return None
    return shop.id if credentials.get("access_token") else None


def _complete_shopify_install(
    runtime: Runtime,
    domain: str,
    answer: dict[str, Any],
    spend: Callable[[Session], object] | None = None,
) -> int:
    """Both Shopify paths' end: subscribe with the new token, store (and `spend`), first sync.

    The first full sync is queued after the commit; if that job is lost, the scheduler's
    reconciliation finds a shop never synced and walks it in full.
    """
    template = runtime.settings.SHOPIFY_ADMIN_BASE_URL
    credentials = _shopify_credentials(runtime, answer, template)
    adapter = adapter_from(runtime, "shopify", domain, credentials)
    _subscribe(adapter, SHOPIFY_TOPICS, f"{runtime.settings.APP_URL}/webhooks/shopify")

    def store(session: Session) -> int:
        if spend is not None:
            spend(session)
        return _install(session, runtime, "shopify", domain, credentials).id

    shop_id = execute(runtime, store)
    _first_sync(runtime, shop_id)
    return shop_id


def _shopify_credentials(runtime: Runtime, answer: dict[str, Any], template: str) -> dict[str, Any]:
    credentials: dict[str, Any] = {"access_token": answer["access_token"]}
    if "{shop}" not in template:
        credentials["admin_base_url"] = template  # the sandbox: one fixed URL, not a template
    if answer.get("refresh_token"):
        credentials["refresh_token"] = answer["refresh_token"]
    if answer.get("expires_in"):
        expires = runtime.clock.now() + timedelta(seconds=int(answer["expires_in"]))
        credentials["expires_at"] = expires.isoformat()
    return credentials


def _first_sync(runtime: Runtime, shop_id: int) -> None:
    """Queue the first full sync: the install answers now, the catalogue arrives in a job."""
    from connector.tasks import SYNC, sync_key

    runtime.jobs.enqueue(SYNC, shop_id, True, key=sync_key(shop_id))


# ---------------------------------------------------------------------------- WooCommerce


def start_woocommerce_install(runtime: Runtime, store_url: str) -> str:
    """Issue the key flow's user_id and return the store's authorize URL."""
    settings = runtime.settings
    try:
        url = woocommerce_url(store_url, settings.ALLOW_PRIVATE_STORE_URLS)
        # Resolved now; the adapter checks again on every connection (DNS may change).
        check_store_address(url, settings.ALLOW_PRIVATE_STORE_URLS)
    except Invalid as exc:
        raise InstallRefused(exc.message, field="store_url") from None
    user_id = execute(runtime, lambda s: nonces.issue(s, runtime.clock, "woocommerce", url))
    query = urlencode(
        {
            "app_name": APP_NAME,
            "scope": "read_write",
            "user_id": user_id,
            "return_url": f"{settings.APP_URL}/woocommerce/return",
            "callback_url": f"{settings.APP_URL}/woocommerce/callback",
        }
    )
    return f"{url}/wc-auth/v1/authorize?{query}"


def finish_woocommerce_install(runtime: Runtime, payload: dict[str, Any]) -> int:
    """Check the unsigned POST against our nonce, confirm the keys, store, subscribe."""
    fields = {}
    for name in ("user_id", "consumer_key", "consumer_secret", "key_permissions"):
        value = payload.get(name)
        if not isinstance(value, str | int) or value == "":
            raise InstallRefused(f"{name} is missing", field=name)
        fields[name] = str(value)
    if fields["key_permissions"] != "read_write":
        raise InstallRefused("the key must be read_write", field="key_permissions")
    user_id = fields["user_id"]
    nonce = execute(
        runtime, lambda s: nonces.check(s, runtime.clock, "woocommerce", user_id, "user_id")
    )
    url = nonce.target
    keys = {"consumer_key": fields["consumer_key"], "consumer_secret": fields["consumer_secret"]}
    try:  # the POST is unsigned: only the store accepting the keys proves they are real
        adapter_from(runtime, "woocommerce", url, keys).shop()
    except (StoreError, requests.RequestException) as exc:
        raise InstallRefused(f"the store did not accept the keys: {exc}", "consumer_key") from exc

    def store(session: Session) -> int:
        nonces.spend(session, runtime.clock, "woocommerce", user_id, "user_id")
        shop = _install(session, runtime, "woocommerce", url, keys)
        address = f"{runtime.settings.APP_URL}/webhooks/woocommerce/{shop.id}"
        # Inside the transaction: the address names the shop id, and a refusal must undo it.
        _subscribe(adapter_for(runtime, shop), WOOCOMMERCE_TOPICS, address)
        return shop.id

    shop_id = execute(runtime, store)
    _first_sync(runtime, shop_id)
    return shop_id


def woocommerce_return(runtime: Runtime, success: str, user_id: str) -> tuple[bool, str]:
    """What to tell the merchant back from the store: installed, denied, or not confirmed."""
    if success != "1":
        return False, "Access was denied: Backorder Connector is not installed."
    if execute(runtime, lambda s: nonces.was_used(s, "woocommerce", user_id)):
        return True, "Backorder Connector is installed. The first sync starts within minutes."
    return False, "The store did not send us working keys; please start the install again."


# ---------------------------------------------------------------------------- shared


def _install(
    session: Session, runtime: Runtime, platform: str, domain: str, credentials: dict[str, Any]
) -> Shop:
    """Add the shop, or give an installed one its fresh credentials (a reinstall re-authorises)."""
    existing = session.scalar(select(Shop).where(Shop.platform == platform, Shop.domain == domain))
    if existing is not None and existing.status == "active":
        old = shop_credentials(runtime.vault, existing)
        if "webhook_secret" in old:  # keep signing with the secret our subscriptions know
            credentials = {**credentials, "webhook_secret": old["webhook_secret"]}
        elif platform == "woocommerce":
            credentials = {**credentials, "webhook_secret": secrets.token_hex(24)}
        existing.credentials = runtime.vault.seal(credentials)
        existing.needs_reauthorization = False
        return existing
    if platform == "woocommerce":
        return add_woocommerce(
            session,
            runtime.clock,
            runtime.vault,
            url=domain,
            consumer_key=credentials["consumer_key"],
            consumer_secret=credentials["consumer_secret"],
            allow_private=runtime.settings.ALLOW_PRIVATE_STORE_URLS,
        )
    return add_shop(
        session,
        runtime.clock,
        runtime.vault,
        platform=platform,
        domain=domain,
        credentials=credentials,
    )


def _subscribe(adapter: StoreAdapter, topics: tuple[str, ...], address: str) -> None:
    """Register each topic's webhook unless the store already has it (reinstalls, retries).

    WooCommerce signs with a secret stored on each webhook, ours per install: the store's
    existing webhooks for `address` are re-signed with the current secret and reactivated, or a
    reinstall with a new secret would leave them signing with the destroyed one. Shopify signs
    with the app's secret: nothing to update there.
    """
    try:
        hooks = adapter.list_webhooks()
        have = {(hook.topic, hook.address) for hook in hooks}
        if isinstance(adapter, WooCommerceAdapter):
            for hook in hooks:
                if hook.address == address:
                    adapter.update_webhook(hook.external_id)
        for topic in topics:
            if (topic, address) not in have:
                adapter.register_webhook(topic, address)
    except (StoreError, requests.RequestException) as exc:
        raise InstallRefused(f"the store refused our webhooks: {exc}", field="webhooks") from exc
