"""WooCommerce product and variation JSON → `StoreProduct` / `StoreVariant`.

Pure functions (no HTTP) so the mapping rules can be read and tested on their own.

Stock: WooCommerce reports only what is left to sell (`stock_quantity`, negative when
backordered), so levels carry `on_hand=None` and `available=stock_quantity` at the one
pseudo-location "default". A variation with `manage_stock: "parent"` sells from its parent's
pool: it gets the parent's quantity, and `inventory_item_external_id` names the pool (the parent
id; otherwise the variant's own id) so the core can tell that several variants share one stock.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.base import StoreInventoryLevel, StoreProduct, StoreVariant
from adapters.woocommerce.dates import modified_at

LOCATION = "default"
ALLOWING_BACKORDERS = ("notify", "yes")
STATUS = {
    "publish": "active",
    "draft": "draft",
    "pending": "draft",
    "private": "draft",
    "future": "draft",
    "trash": "archived",
}


def price_of(value: Any) -> Decimal:
    """WooCommerce prices are strings ("" when unset) or, on order lines, JSON numbers."""
    if value in (None, ""):
        return Decimal("0")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal("0")


def _policy(record: dict[str, Any]) -> str:
    return "continue" if record.get("backorders") in ALLOWING_BACKORDERS else "deny"


def _stock(
    variant_id: str, record: dict[str, Any], parent: dict[str, Any] | None
) -> tuple[bool, str | None, tuple[StoreInventoryLevel, ...]]:
    """(managed, inventory item id, levels) following `manage_stock` true / "parent" / false."""
    manage = record.get("manage_stock")
    owner = record if manage is True else parent if manage == "parent" else None
    if owner is None or owner.get("stock_quantity") is None:
        return False, None, ()
    level = StoreInventoryLevel(
        variant_external_id=variant_id,
        location_external_id=LOCATION,
        on_hand=None,
        available=int(owner["stock_quantity"]),
        updated_at=modified_at(owner),
    )
    return True, str(owner["id"]), (level,)


def variation_variant(variation: dict[str, Any], parent: dict[str, Any]) -> StoreVariant:
    """A variation of a variable product; its id is the variant id."""
    vid = str(variation["id"])
    options = {
        str(a.get("name", "")): str(a.get("option", "")) for a in variation.get("attributes") or []
    }
    managed, item, levels = _stock(vid, variation, parent)
    return StoreVariant(
        external_id=vid,
        sku=variation.get("sku") or "",
        title=" / ".join(options.values()) or str(parent.get("name", "")),
        price=price_of(variation.get("price")),
        options=options,
        inventory_policy=_policy(variation),
        updated_at=modified_at(variation),
        inventory_item_external_id=item,
        managed=managed,
        levels=levels,
    )


def simple_variant(product: dict[str, Any]) -> StoreVariant:
    """A simple product is its own single variant (variant id = product id)."""
    pid = str(product["id"])
    options = {
        str(a.get("name", "")): str(a["options"][0])
        for a in product.get("attributes") or []
        if len(a.get("options") or []) == 1
    }
    managed, item, levels = _stock(pid, product, None)
    return StoreVariant(
        external_id=pid,
        sku=product.get("sku") or "",
        title=str(product.get("name", "")),
        price=price_of(product.get("price")),
        options=options,
        inventory_policy=_policy(product),
        updated_at=modified_at(product),
        inventory_item_external_id=item,
        managed=managed,
        levels=levels,
    )


def store_product(product: dict[str, Any], variations: list[dict[str, Any]]) -> StoreProduct:
    """A product with its variants (`variations` is ignored unless the product is variable)."""
    if product.get("type") == "variable":
        variants = tuple(variation_variant(v, product) for v in variations)
    elif product.get("type") in ("grouped", "external"):
        variants = ()  # nothing of ours to stock: a group of others, or sold elsewhere
    else:
        variants = (simple_variant(product),)
    categories = product.get("categories") or []
    return StoreProduct(
        external_id=str(product["id"]),
        title=str(product.get("name", "")),
        updated_at=modified_at(product),
        handle=str(product.get("slug", "")),
        description=str(product.get("description", "")),
        product_type=str(categories[0].get("name", "")) if categories else "",
        tags=tuple(str(t.get("name", "")) for t in product.get("tags") or []),
        status=STATUS.get(str(product.get("status")), "draft"),
        variants=variants,
    )
