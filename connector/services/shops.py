"""Installing and removing shops; credentials go into the vault on the way in."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.clock import Clock
from connector.models import Shop
from connector.services.errors import Conflict, NotFound
from connector.services.store_urls import shopify_domain, woocommerce_url
from connector.vault import CredentialVault


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


def shop_credentials(vault: CredentialVault, shop: Shop) -> dict[str, Any]:
    return vault.open(shop.credentials)


def reseal_all(session: Session, vault: CredentialVault) -> int:
    """Re-encrypt every shop's credentials under the newest key; returns how many."""
    shops = session.scalars(select(Shop)).all()
    for shop in shops:
        shop.credentials = vault.reseal(shop.credentials)
    return len(shops)
