"""REST-style webhook bodies, shaped like the samples in Shopify's webhook reference.

Shopify webhooks still carry the REST representation (numeric ids, snake_case, tags as one
comma-separated string, times in the shop's offset) even for GraphQL apps; see the samples in
shared/reference/shopify/webhooks/ (shopify.dev/docs/api/webhooks, "orders/create" etc.).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sandbox.shopify.models import InventoryLevel, LineItem, Order, Product, Variant

if TYPE_CHECKING:
    from sandbox.shopify.store import ShopifyStore


def local_time(store: ShopifyStore, value: datetime | None) -> str | None:
    """ISO 8601 in the shop's timezone, as webhook bodies show it ("…-05:00")."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(store.shop.ianaTimezone)).isoformat(timespec="seconds")


def _money(store: ShopifyStore, amount: str) -> dict[str, Any]:
    money = {"amount": amount, "currency_code": store.shop.currencyCode}
    return {"shop_money": money, "presentment_money": dict(money)}


def _line(store: ShopifyStore, line: LineItem) -> dict[str, Any]:
    variant = store.variants[line.variant_number]
    return {
        "id": line.number,
        "admin_graphql_api_id": line.id,
        "variant_id": line.variant_number,
        "product_id": line.product_number,
        "title": line.title,
        "variant_title": line.variantTitle or None,
        "name": line.name,
        "sku": line.sku,
        "quantity": line.quantity,
        "current_quantity": line.currentQuantity,
        "fulfillable_quantity": line.fulfillableQuantity,
        "fulfillment_status": "fulfilled" if line.fulfilled >= line.quantity else None,
        "price": line.price,
        "price_set": _money(store, line.price),
        "requires_shipping": True,
        "taxable": True,
        "gift_card": False,
        "vendor": store.products[variant.product_number].vendor,
        "variant_inventory_management": "shopify",
        "properties": [],
    }


def order(store: ShopifyStore, record: Order) -> dict[str, Any]:
    """orders/create, orders/updated, orders/cancelled, orders/fulfilled… body."""
    subtotal = sum(float(li.price) * li.currentQuantity for li in record.lines)
    amount = f"{subtotal:.2f}"
    status = store.display_fulfillment_status(record)
    return {
        "id": record.number,
        "admin_graphql_api_id": record.id,
        "name": record.name,
        "number": record.order_number - 1000,
        "order_number": record.order_number,
        "email": record.email,
        "contact_email": record.email,
        "customer_locale": record.customerLocale,
        "created_at": local_time(store, record.createdAt),
        "updated_at": local_time(store, record.updatedAt),
        "processed_at": local_time(store, record.createdAt),
        "cancelled_at": local_time(store, record.cancelledAt),
        "cancel_reason": record.cancelReason.lower() if record.cancelReason else None,
        "closed_at": None,
        "confirmed": True,
        "currency": store.shop.currencyCode,
        "presentment_currency": store.shop.currencyCode,
        "financial_status": record.displayFinancialStatus.lower(),
        "fulfillment_status": {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}.get(
            status
        ),
        "current_subtotal_price": amount,
        "current_total_price": amount,
        "subtotal_price": amount,
        "total_price": amount,
        "total_price_set": _money(store, amount),
        "tags": ", ".join(record.tags),
        "note": record.note,
        "note_attributes": [],
        "source_name": "web",
        "test": False,
        "customer": {
            "id": record.customer_number,
            "email": record.email,
            # The sandbox's customers have no name of their own: GraphQL's displayName shows the
            # e-mail's local part, which Shopify derives from first_name + last_name.
            "first_name": record.email.split("@")[0],
            "last_name": None,
            "admin_graphql_api_id": f"gid://shopify/Customer/{record.customer_number}",
        },
        "line_items": [_line(store, li) for li in record.lines],
        "shipping_lines": [
            {
                "id": record.number + 1,
                "title": record.shipping_title,
                "code": record.shipping_title,
                "price": "0.00",
                "source": "shopify",
            }
        ],
        "fulfillments": [],
        "refunds": [],
    }


def order_edit(store: ShopifyStore, record: Order, line: LineItem, delta: int) -> dict[str, Any]:
    """orders/edited body: the edit's additions and removals."""
    change = {"id": line.number, "delta": abs(delta)}
    return {
        "order_edit": {
            "id": store.ids.next(),
            "app_id": None,
            "created_at": local_time(store, store.clock()),
            "notify_customer": False,
            "order_id": record.number,
            "staff_note": "",
            "user_id": None,
            "line_items": {
                "additions": [change] if delta > 0 else [],
                "removals": [change] if delta < 0 else [],
            },
        }
    }


def order_edit_committed(
    store: ShopifyStore,
    record: Order,
    additions: list[dict[str, int]],
    removals: list[dict[str, int]],
    staff_note: str | None,
) -> dict[str, Any]:
    """orders/edited body of a committed edit session (several lines at once)."""
    return {
        "order_edit": {
            "id": store.ids.next(),
            "app_id": None,
            "created_at": local_time(store, store.clock()),
            "notify_customer": False,
            "order_id": record.number,
            "staff_note": staff_note or "",
            "user_id": None,
            "line_items": {"additions": additions, "removals": removals},
        }
    }


def inventory_level(store: ShopifyStore, level: InventoryLevel) -> dict[str, Any]:
    """inventory_levels/update body (exactly the sample's keys)."""
    return {
        "inventory_item_id": level.item_number,
        "location_id": level.location_number,
        "available": level.available,
        "updated_at": local_time(store, level.updatedAt),
        "admin_graphql_api_id": level.id,
    }


def variant(store: ShopifyStore, record: Variant) -> dict[str, Any]:
    """REST variant (products/update variants[], variants/out_of_stock)."""
    options = [o["value"] for o in record.selectedOptions] + [None, None, None]
    quantity = store.available(record)
    return {
        "admin_graphql_api_id": record.id,
        "id": record.number,
        "product_id": record.product_number,
        "title": record.title,
        "sku": record.sku,
        "price": record.price,
        "compare_at_price": None,
        "barcode": None,
        "position": record.position,
        "inventory_policy": record.inventoryPolicy.lower(),
        "inventory_item_id": record.item_number,
        "inventory_quantity": quantity,
        "old_inventory_quantity": quantity,
        "option1": options[0],
        "option2": options[1],
        "option3": options[2],
        "taxable": True,
        "image_id": None,
        "created_at": local_time(store, record.createdAt),
        "updated_at": local_time(store, record.updatedAt),
    }


def product(store: ShopifyStore, record: Product) -> dict[str, Any]:
    """products/update body."""
    variants = [store.variants[n] for n in record.variant_numbers]
    return {
        "admin_graphql_api_id": record.id,
        "id": record.number,
        "title": record.title,
        "handle": record.handle,
        "body_html": record.description,
        "product_type": record.productType,
        "vendor": record.vendor,
        "status": record.status.lower(),
        "tags": ", ".join(record.tags),
        "created_at": local_time(store, record.createdAt),
        "updated_at": local_time(store, record.updatedAt),
        "published_at": local_time(store, record.createdAt),
        "published_scope": "web",
        "template_suffix": None,
        "variants": [variant(store, v) for v in variants],
        "options": [],
        "images": [],
        "image": None,
        "media": [],
        "variant_gids": [
            {"admin_graphql_api_id": v.id, "updated_at": v.updatedAt.isoformat()} for v in variants
        ],
        "has_variants_that_requires_components": False,
        "category": None,
    }


def shop(store: ShopifyStore) -> dict[str, Any]:
    """app/uninstalled (and shop/update) body: the REST shop."""
    s = store.shop
    return {
        "id": s.number,
        "name": s.name,
        "email": s.email,
        "domain": s.myshopifyDomain,
        "myshopify_domain": s.myshopifyDomain,
        "currency": s.currencyCode,
        "iana_timezone": s.ianaTimezone,
        "country_code": "US",
        "plan_name": "basic",
        "plan_display_name": "Basic",
        "primary_location_id": store.primary_location().number,
        "created_at": None,
        "updated_at": None,
    }


def bulk_finish(store: ShopifyStore, operation: Any) -> dict[str, Any]:
    """bulk_operations/finish body."""
    return {
        "admin_graphql_api_id": operation.id,
        "completed_at": local_time(store, operation.completedAt),
        "created_at": local_time(store, operation.createdAt),
        "error_code": operation.errorCode.lower() if operation.errorCode else None,
        "status": operation.status.lower(),
        "type": operation.type.lower(),
    }


def compliance(store: ShopifyStore, topic: str) -> dict[str, Any]:
    """customers/data_request, customers/redact and shop/redact bodies."""
    base = {"shop_id": store.shop.number, "shop_domain": store.shop.myshopifyDomain}
    if topic == "shop/redact":
        return base
    orders = list(store.orders.values())[:3]
    email = orders[0].email if orders else "customer@example.com"
    customer = {
        "id": orders[0].customer_number if orders else 1,
        "email": email,
        "phone": None,
    }
    ids = [o.number for o in orders if o.email == email]
    if topic == "customers/redact":
        return {**base, "customer": customer, "orders_to_redact": ids}
    return {
        **base,
        "orders_requested": ids,
        "customer": customer,
        "data_request": {"id": store.ids.next()},
    }
