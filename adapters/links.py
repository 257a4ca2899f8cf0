"""Where a store shows a product to shoppers: platform knowledge, kept with the adapters.

Shopify: `/products/<handle>?variant=<id>`; WooCommerce: WordPress resolves `?product=<slug>`.
The storefront widget runs on the shop's own pages (whatever custom domain it has), so it gets a
relative Shopify link; an e-mail is read elsewhere and gets an absolute one.
"""

from __future__ import annotations

from urllib.parse import quote


def product_url(
    platform: str,
    store_url: str,
    handle: str | None,
    variant_external_id: str,
    *,
    absolute: bool = True,
) -> str | None:
    """None when the store never told us the product's handle or slug."""
    if not handle:
        return None
    slug = quote(handle, safe="")
    base = store_url.rstrip("/")
    if platform == "shopify":
        path = f"/products/{slug}?variant={quote(variant_external_id, safe='')}"
        if not absolute:
            return path
        if not base.startswith(("http://", "https://")):
            base = f"https://{base}"
        return base + path
    return f"{base}/?product={slug}"
