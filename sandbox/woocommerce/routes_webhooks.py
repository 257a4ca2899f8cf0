"""Webhook subscriptions: /webhooks (list, get, create with ping, update, delete with force)."""

from __future__ import annotations

from flask import Blueprint, Response

from .errors import WooError
from .query import order_items
from .rest import API, webhook_json
from .web import args, body, dispatcher, flag, listing, need, ok, store

bp = Blueprint("woo_webhooks", __name__, url_prefix=API)


@bp.get("/webhooks")
def list_webhooks() -> Response:
    need("list")
    s = store()
    a = args()
    with s.lock:
        status = a.get("status", "all")
        items = [w for w in s.webhooks.values() if status in ("all", w.status)]
        keys = {"date": lambda w: w.date_created, "id": lambda w: w.id, "title": lambda w: w.name}
        return listing(order_items(items, a, keys), webhook_json, "webhooks")


@bp.post("/webhooks")
def create_webhook() -> Response:
    """Create, then ping; like WooCommerce's REST controller, a failed ping does not fail the call
    (the admin screen is what reports it): the error is kept in `store.ping_errors`."""
    need("create")
    s = store()
    data = body()
    for name in ("topic", "delivery_url"):
        if not data.get(name):
            raise WooError(
                f"woocommerce_rest_webhook_missing_{name}",
                f"Webhook {name.replace('_', ' ')} is required.",
                400,
            )
    with s.lock:
        w = s.add_webhook(
            str(data["topic"]),
            str(data["delivery_url"]),
            secret=str(data.get("secret") or ""),
            name=str(data.get("name") or ""),
            status=str(data.get("status") or "active"),
        )
    dispatcher().ping(w.id)  # outside the lock: a slow receiver must not stall the store
    with s.lock:
        return ok(webhook_json(s, w), 201)


@bp.get("/webhooks/<int:wid>")
def get_webhook(wid: int) -> Response:
    need("view")
    s = store()
    with s.lock:
        return ok(webhook_json(s, s.webhook(wid)))


@bp.route("/webhooks/<int:wid>", methods=["POST", "PUT", "PATCH"])
def update_webhook(wid: int) -> Response:
    need("edit")
    s = store()
    with s.lock:
        return ok(webhook_json(s, s.update_webhook(wid, **body())))


@bp.delete("/webhooks/<int:wid>")
def delete_webhook(wid: int) -> Response:
    need("delete")
    s = store()
    with s.lock:
        w = s.webhook(wid)
        if not flag(args().get("force", False)):
            raise WooError(
                "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501
            )
        answer = webhook_json(s, w)
        del s.webhooks[wid]
        return ok(answer)
