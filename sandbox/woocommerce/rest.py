"""REST v3 representations: the JSON WooCommerce returns for each record.

Field lists and shapes follow the documented responses in woocommerce-rest-api-docs
(`source/includes/wp-api-v3/*.md`, copied under shared/reference/woocommerce/). Call these with
`store.lock` held so a representation is one consistent snapshot; the webhook worker uses them
too, which is how a payload shows the resource as it is at delivery time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .models import LineItem, Meta, Note, Order, Product, Refund, RefundItem, Webhook
from .stock import ALLOWING, backorders_of, effective_status, is_on_backorder, stock_owner
from .store import WooStore, order_total

API = "/wp-json/wc/v3"


def dates(store: WooStore, name: str, value: datetime | None) -> dict[str, str | None]:
    """`wc_rest_prepare_date_response` pair: site-local and GMT, both without offset."""
    if value is None:
        return {name: None, f"{name}_gmt": None}
    local = value.astimezone(ZoneInfo(store.settings.timezone))
    return {
        name: local.strftime("%Y-%m-%dT%H:%M:%S"),
        f"{name}_gmt": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    }


def meta_list(rows: list[Meta]) -> list[dict[str, Any]]:
    """Public meta rows (keys starting with "_" are hidden, as in WooCommerce)."""
    return [{"id": m.id, "key": m.key, "value": m.value} for m in rows if not m.key.startswith("_")]


def links(store: WooStore, path: str, collection: str, up: str | None = None) -> dict[str, Any]:
    """The `_links` block."""
    base = store.settings.site_url.rstrip("/") + API
    out: dict[str, Any] = {
        "self": [{"href": f"{base}/{path}"}],
        "collection": [{"href": f"{base}/{collection}"}],
    }
    if up:
        out["up"] = [{"href": f"{base}/{up}"}]
    return out


def _price_html(store: WooStore, price: str) -> str:
    if not price:
        return ""
    return (
        '<span class="woocommerce-Price-amount amount">'
        '<span class="woocommerce-Price-currencySymbol">'
        f"&#36;</span>{price}</span>"
    )


def _stock_fields(store: WooStore, p: Product) -> dict[str, Any]:
    products = store.products
    owner = stock_owner(p, products)
    if p.type == "variation" and not p.manage_stock and owner is not None:
        manage: bool | str = "parent"
    else:
        manage = p.manage_stock
    backorders = backorders_of(p, products)
    return {
        "manage_stock": manage,
        "stock_quantity": owner.stock_quantity if owner is not None else None,
        "stock_status": effective_status(p, products),
        "backorders": backorders,
        "backorders_allowed": backorders in ALLOWING,
        "backordered": is_on_backorder(p, products),
    }


def _common(store: WooStore, p: Product) -> dict[str, Any]:
    price = p.sale_price or p.regular_price
    return {
        "sku": p.sku,
        "price": price,
        "regular_price": p.regular_price,
        "sale_price": p.sale_price,
        **dates(store, "date_on_sale_from", None),
        **dates(store, "date_on_sale_to", None),
        "on_sale": bool(p.sale_price),
        "status": p.status,
        "purchasable": bool(price) and p.status == "publish",
        "virtual": False,
        "downloadable": False,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
        "tax_status": "taxable",
        "tax_class": "",
    }


def product_json(store: WooStore, p: Product) -> dict[str, Any]:
    """A product as `GET /products/<id>` returns it."""
    if p.type == "variation":
        return variation_json(store, p)
    site = store.settings.site_url.rstrip("/")
    common = _common(store, p)
    return {
        "id": p.id,
        "name": p.name,
        "slug": p.slug,
        "permalink": f"{site}/product/{p.slug}/",
        **dates(store, "date_created", p.date_created),
        **dates(store, "date_modified", p.date_modified),
        "type": p.type,
        "status": p.status,
        "featured": False,
        "catalog_visibility": "visible",
        "description": p.description,
        "short_description": p.short_description,
        "sku": p.sku,
        "price": common["price"],
        "regular_price": p.regular_price,
        "sale_price": p.sale_price,
        **dates(store, "date_on_sale_from", None),
        **dates(store, "date_on_sale_to", None),
        "price_html": _price_html(store, common["price"]),
        "on_sale": common["on_sale"],
        "purchasable": common["purchasable"],
        "total_sales": p.total_sales,
        "virtual": False,
        "downloadable": False,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
        "external_url": "",
        "button_text": "",
        "tax_status": "taxable",
        "tax_class": "",
        **_stock_fields(store, p),
        "sold_individually": False,
        "weight": p.weight,
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_required": True,
        "shipping_taxable": True,
        "shipping_class": "",
        "shipping_class_id": 0,
        "reviews_allowed": True,
        "average_rating": "0.00",
        "rating_count": 0,
        "related_ids": list(p.related_ids),
        "upsell_ids": [],
        "cross_sell_ids": [],
        "parent_id": 0,
        "purchase_note": "",
        "categories": [dict(c) for c in p.categories],
        "tags": [dict(t) for t in p.tags],
        "images": [],
        "attributes": [dict(a) for a in p.attributes],
        "default_attributes": [],
        "variations": list(p.variations),
        "grouped_products": [],
        "menu_order": 0,
        "meta_data": meta_list(p.meta_data),
        "_links": links(store, f"products/{p.id}", "products"),
    }


def variation_json(store: WooStore, v: Product) -> dict[str, Any]:
    """A variation as `GET /products/<parent>/variations/<id>` returns it."""
    parent = store.products.get(v.parent_id)
    slug = parent.slug if parent else ""
    query = "&".join(
        f"attribute_pa_{str(a.get('name', '')).lower()}={str(a.get('option', '')).lower()}"
        for a in v.attributes
    )
    site = store.settings.site_url.rstrip("/")
    return {
        "id": v.id,
        **dates(store, "date_created", v.date_created),
        **dates(store, "date_modified", v.date_modified),
        "description": v.description,
        "permalink": f"{site}/product/{slug}/?{query}",
        **_common(store, v),
        **_stock_fields(store, v),
        "weight": v.weight,
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_class": "",
        "shipping_class_id": 0,
        "image": None,
        "attributes": [dict(a) for a in v.attributes],
        "menu_order": 0,
        "meta_data": meta_list(v.meta_data),
        "parent_id": v.parent_id,
        "_links": links(
            store,
            f"products/{v.parent_id}/variations/{v.id}",
            f"products/{v.parent_id}/variations",
            up=f"products/{v.parent_id}",
        ),
    }


def _number(value: float) -> float | int:
    """PHP's json_encode writes whole floats without a fraction (`"price": 3`)."""
    return int(value) if float(value).is_integer() else round(value, 6)


def line_item_json(i: LineItem | RefundItem, *, private_meta: bool) -> dict[str, Any]:
    """A line as `get_order_item_data` shows it. An order hides meta whose key starts with `_`;
    a refund's lines (negative quantity and totals) show every meta, `_refunded_item_id`
    included."""
    subtotal = getattr(i, "line_subtotal", i.price * i.quantity)
    total = getattr(i, "line_total", i.price * i.quantity)
    # `get_item_total`: the stored total per unit, not the product's current price.
    price = total / i.quantity if i.quantity else i.price
    return {
        "id": i.id,
        "name": i.name,
        "product_id": i.product_id,
        "variation_id": i.variation_id,
        "quantity": i.quantity,
        "tax_class": "",
        "subtotal": f"{subtotal:.2f}",
        "subtotal_tax": "0.00",
        "total": f"{total:.2f}",
        "total_tax": "0.00",
        "taxes": [],
        "meta_data": [
            {
                "id": m.id,
                "key": m.key,
                "value": m.value,
                "display_key": m.key,
                "display_value": str(m.value),
            }
            for m in i.meta_data
            if private_meta or not m.key.startswith("_")
        ],
        "sku": i.sku,
        "price": _number(price),
    }


def order_json(store: WooStore, o: Order) -> dict[str, Any]:
    """An order as `GET /orders/<id>` returns it."""
    lines = [line_item_json(i, private_meta=False) for i in o.line_items]
    shipping_total = sum(float(s["total"]) for s in o.shipping_lines)
    return {
        "id": o.id,
        "parent_id": 0,
        "number": str(o.id),
        "order_key": o.order_key,
        "created_via": o.created_via,
        "version": store.settings.wc_version,
        "status": o.status,
        "currency": o.currency,
        **dates(store, "date_created", o.date_created),
        **dates(store, "date_modified", o.date_modified),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": f"{shipping_total:.2f}",
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": order_total(o),
        "total_tax": "0.00",
        "prices_include_tax": False,
        "customer_id": o.customer_id,
        "customer_ip_address": "",
        "customer_user_agent": "",
        "customer_note": o.customer_note,
        "billing": dict(o.billing),
        "shipping": dict(o.shipping),
        "payment_method": o.payment_method,
        "payment_method_title": o.payment_method_title,
        "transaction_id": "",
        **dates(store, "date_paid", o.date_paid),
        **dates(store, "date_completed", o.date_completed),
        "cart_hash": "",
        "meta_data": meta_list(o.meta_data),
        "line_items": lines,
        "tax_lines": [],
        "shipping_lines": [dict(s) for s in o.shipping_lines],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [
            {"id": r, "reason": store.refunds[r].reason, "total": f"-{store.refunds[r].amount}"}
            for r in o.refunds
        ],
        "_links": links(store, f"orders/{o.id}", "orders"),
    }


def note_json(store: WooStore, n: Note) -> dict[str, Any]:
    """An order note."""
    return {
        "id": n.id,
        "author": n.author,
        **dates(store, "date_created", n.date_created),
        "note": n.note,
        "customer_note": n.customer_note,
        "_links": links(
            store,
            f"orders/{n.order_id}/notes/{n.id}",
            f"orders/{n.order_id}/notes",
            up=f"orders/{n.order_id}",
        ),
    }


def refund_json(store: WooStore, r: Refund) -> dict[str, Any]:
    """An order refund."""
    return {
        "id": r.id,
        **dates(store, "date_created", r.date_created),
        "amount": r.amount,
        "reason": r.reason,
        "refunded_by": 1,
        "refunded_payment": False,
        "meta_data": [],
        "line_items": [line_item_json(i, private_meta=True) for i in r.line_items],
        "_links": links(
            store,
            f"orders/{r.order_id}/refunds/{r.id}",
            f"orders/{r.order_id}/refunds",
            up=f"orders/{r.order_id}",
        ),
    }


HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product"],
    "product.updated": [
        "woocommerce_process_product_meta",
        "woocommerce_update_product",
        "woocommerce_product_set_stock",
        "woocommerce_variation_set_stock",
    ],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}


def webhook_json(store: WooStore, w: Webhook) -> dict[str, Any]:
    """A webhook subscription."""
    resource, _, event = w.topic.partition(".")
    return {
        "id": w.id,
        "name": w.name,
        "status": w.status,
        "topic": w.topic,
        "resource": resource,
        "event": event,
        "hooks": HOOKS.get(w.topic, [f"{event}"] if resource == "action" else []),
        "delivery_url": w.delivery_url,
        **dates(store, "date_created", w.date_created),
        **dates(store, "date_modified", w.date_modified),
        "_links": links(store, f"webhooks/{w.id}", "webhooks"),
    }


def resource_json(store: WooStore, resource: str, resource_id: int) -> dict[str, Any] | None:
    """What a webhook delivers for `resource` #id now (None if it is gone)."""
    if resource == "order" and resource_id in store.orders:
        return order_json(store, store.orders[resource_id])
    if resource == "product" and resource_id in store.products:
        return product_json(store, store.products[resource_id])
    return None
