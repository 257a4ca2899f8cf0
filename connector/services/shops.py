"""Installing, uninstalling and removing shops; credentials go into the vault on the way in.

An uninstall keeps the shop's history (a reinstall picks it up again) but destroys what let us
act for the store: the credentials, the API tokens, and everything still waiting to be sent.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.clock import Clock
from connector.models import ApiToken, Notification, Shop, StoreWrite
from connector.services.errors import Conflict, NotFound
from connector.services.store_urls import shopify_domain, woocommerce_url
from connector.vault import CredentialVault

log = logging.getLogger(__name__)

# What `shops.credentials` holds once an uninstall destroyed them: no ciphertext, nothing to open.
CREDENTIALS_DESTROYED = ""
# Outbox rows an uninstall (or a customer's erasure) stopped before they went out.
CANCELLED = "cancelled"


class ShopUninstalled(Conflict):
    """The shop uninstalled the app: we hold no credentials for it until it is reinstalled."""

    code = "shop_uninstalled"


def add_shop(
    session: Session,
    clock: Clock,
    vault: CredentialVault,
    *,
    platform: str,
    domain: str,
    credentials: dict[str, Any],
    name: str = "",
    timezone: str = "UTC",
) -> Shop:
    existing = session.scalar(select(Shop).where(Shop.platform == platform, Shop.domain == domain))
    if existing is not None and existing.status == "active":
        raise Conflict(f"{platform} shop {domain} is already installed (id {existing.id})")
    if existing is not None:
        # A reinstall keeps the shop's history and settings, with fresh credentials.
        existing.status = "active"
        existing.uninstalled_at = None
        existing.installed_at = clock.now()
        existing.credentials = vault.seal(credentials)
        # Fresh credentials from the merchant: whatever the store refused before is settled.
        existing.needs_reauthorization = False
        return existing
    shop = Shop(
        platform=platform,
        domain=domain,
        name=name or domain,
        status="active",
        installed_at=clock.now(),
        credentials=vault.seal(credentials),
        timezone=timezone,
    )
    session.add(shop)
    session.flush()
    return shop


def add_shopify_custom_app(
    session: Session, clock: Clock, vault: CredentialVault, *, shop: str, access_token: str
) -> Shop:
    """A merchant-made custom app: its Admin API token is the whole credential."""
    return add_shop(
        session,
        clock,
        vault,
        platform="shopify",
        domain=shopify_domain(shop),
        credentials={"access_token": access_token},
    )


def add_woocommerce(
    session: Session,
    clock: Clock,
    vault: CredentialVault,
    *,
    url: str,
    consumer_key: str,
    consumer_secret: str,
    allow_private: bool,
) -> Shop:
    return add_shop(
        session,
        clock,
        vault,
        platform="woocommerce",
        domain=woocommerce_url(url, allow_private),
        credentials={
            "consumer_key": consumer_key,
            "consumer_secret": consumer_secret,
            # WooCommerce signs webhooks with it; letters and digits only, as it advises.
            "webhook_secret": secrets.token_hex(24),
        },
    )


def get_shop(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise NotFound(f"no shop with id {shop_id}")
    return shop


def remove_shop(session: Session, shop_id: int) -> None:
    """Delete the shop and, by cascade, every row it owns."""
    session.delete(get_shop(session, shop_id))


def uninstall_shop(session: Session, clock: Clock, shop_id: int) -> None:
    """The merchant removed the app: nothing more is sent to or for the store, history stays.

    Credentials are destroyed (not merely flagged), pending store writes and customer messages
    are cancelled, and the shop's API tokens revoked. The scheduler leaves non-active shops
    alone, and a reinstall (`add_shop`) brings the shop back with new credentials. Idempotent:
    a repeated uninstall keeps the first `uninstalled_at`. A shop already erased is a no-op.
    """
    shop = session.get(Shop, shop_id)
    if shop is None:
        log.info("uninstall of shop %s: no such shop (already erased); nothing to do", shop_id)
        return
    now = clock.now()
    if shop.status != "uninstalled":
        shop.status = "uninstalled"
        shop.uninstalled_at = now
    shop.credentials = CREDENTIALS_DESTROYED
    shop.sync_lease_until = None
    writes = _cancel_pending(session, StoreWrite, shop_id, now)
    messages = _cancel_pending(session, Notification, shop_id, now)
    tokens = session.execute(
        update(ApiToken)
        .where(ApiToken.shop_id == shop_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    log.info(
        "shop %s uninstalled: credentials destroyed, %d store writes and %d notifications "
        "cancelled, %d API tokens revoked",
        shop_id,
        writes,
        messages,
        tokens,
    )


def _cancel_pending(
    session: Session, model: type[StoreWrite] | type[Notification], shop_id: int, now: datetime
) -> int:
    return session.execute(
        update(model)
        .where(model.shop_id == shop_id, model.status.in_(("pending", "sending")))
        .values(status=CANCELLED, next_attempt_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def shop_credentials(vault: CredentialVault, shop: Shop) -> dict[str, Any]:
    """The store credentials, decrypted; an uninstalled shop has none, and says so."""
    if shop.status == "uninstalled" or shop.credentials == CREDENTIALS_DESTROYED:
        raise ShopUninstalled(
            f"shop {shop.id} ({shop.domain}) is uninstalled: its credentials were destroyed; "
            "it must be reinstalled before we can reach the store"
        )
    return vault.open(shop.credentials)


def reseal_all(session: Session, vault: CredentialVault) -> int:
    """Re-encrypt every shop's credentials under the newest key; returns how many."""
    shops = session.scalars(
        select(Shop).where(Shop.credentials != CREDENTIALS_DESTROYED).order_by(Shop.id)
    ).all()
    for shop in shops:
        shop.credentials = vault.reseal(shop.credentials)
    return len(shops)
