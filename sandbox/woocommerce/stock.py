"""Stock rules of WooCommerce core, as functions over the store's products.

Sources (woocommerce/woocommerce, plugins/woocommerce/includes/): abstract-wc-product.php
(`is_on_backorder`, `has_enough_stock`, `backorders_allowed`, `validate_props` status sync),
class-wc-product-variation.php (a variation whose own stock is unmanaged defers to its parent,
REST shows `manage_stock: "parent"`), class-wc-product-variable.php (parent status derived from
children), wc-stock-functions.php (`wc_reduce_stock_levels`, `wc_increase_stock_levels`) and
class-wc-checkout.php (the translated "Backordered" line meta = ordered - max(0, stock)).
"""

from __future__ import annotations

from collections.abc import Mapping

from .models import Product

ALLOWING = ("notify", "yes")


def stock_owner(product: Product, products: Mapping[int, Product]) -> Product | None:
    """The product whose `stock_quantity` counts for `product`, or None when stock is unmanaged."""
    if product.manage_stock:
        return product
    if product.type == "variation":
        parent = products.get(product.parent_id)
        if parent is not None and parent.manage_stock:
            return parent
    return None


def managed_status(owner: Product) -> str:
    """Status WooCommerce sets when managed stock changes (notify-no-stock amount 0)."""
    if owner.stock_quantity is not None and owner.stock_quantity > 0:
        return "instock"
    return "onbackorder" if owner.backorders in ALLOWING else "outofstock"


def effective_status(product: Product, products: Mapping[int, Product]) -> str:
    """The stock status a client sees, following a managing parent or a variable's children."""
    if product.type == "variable" and not product.manage_stock and product.variations:
        statuses = {
            effective_status(products[v], products) for v in product.variations if v in products
        }
        for status in ("instock", "onbackorder"):
            if status in statuses:
                return status
        return "outofstock"
    owner = stock_owner(product, products)
    return managed_status(owner) if owner is not None else product.stock_status


def backorders_of(product: Product, products: Mapping[int, Product]) -> str:
    """A deferring variation inherits its parent's backorder setting."""
    owner = stock_owner(product, products)
    return owner.backorders if owner is not None else product.backorders


def is_on_backorder(product: Product, products: Mapping[int, Product], qty: int = 0) -> bool:
    """`WC_Product::is_on_backorder()`: on-backorder status, or managed and allowed and short."""
    if effective_status(product, products) == "onbackorder":
        return True
    owner = stock_owner(product, products)
    return (
        owner is not None and owner.backorders in ALLOWING and (owner.stock_quantity or 0) - qty < 0
    )


def shortfall_reason(product: Product, products: Mapping[int, Product], qty: int) -> str | None:
    """Why checkout refuses `qty` of `product` (`is_in_stock` / `has_enough_stock`), else None."""
    if effective_status(product, products) == "outofstock" and not is_on_backorder(
        product, products
    ):
        return f'You cannot add "{product.name}" to the cart because the product is out of stock.'
    owner = stock_owner(product, products)
    if owner is None or owner.backorders in ALLOWING:
        return None
    remaining = owner.stock_quantity or 0
    if remaining >= qty:
        return None
    return (
        f'You cannot add that amount of "{product.name}" to the cart because there is not '
        f"enough stock ({remaining} remaining)."
    )
