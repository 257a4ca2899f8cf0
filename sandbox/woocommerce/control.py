"""The sandbox's own doors: `/_sandbox/*` scenario controls and WooCommerce's `/wc-auth/v1/`.

`/_sandbox/` is not WooCommerce: it lets a demo or a test in another process play the merchant
and the shoppers (JSON POSTs mirroring the store's scenario methods). `/wc-auth/v1/authorize`
emulates the app key flow of class-wc-auth.php with the merchant auto-approving (or denying).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlparse

import requests
from flask import Blueprint, Response, redirect, request

from .errors import WooError
from .web import body, dispatcher, ok, store

control = Blueprint("woo_control", __name__, url_prefix="/_sandbox")
wc_auth = Blueprint("woo_auth", __name__, url_prefix="/wc-auth/v1")


@control.errorhandler(WooError)
def _control_error(e: WooError) -> Response:
    return ok(e.body(), e.status)


@control.get("/state")
def state() -> Response:
    return ok(store().state())


@control.post("/place-order")
def place_order() -> Response:
    d = body()
    lines = [(int(a), int(b), int(c)) for a, b, c in d["lines"]]
    oid = store().place_order(
        lines, status=d.get("status", "processing"), email=d.get("email", "customer@example.com")
    )
    return ok({"id": oid}, 201)


@control.post("/restock")
def restock() -> Response:
    d = body()
    store().restock(int(d["product_id"]), int(d.get("variation_id", 0)), int(d["quantity"]))
    return ok({"ok": True})


@control.post("/cancel")
def cancel() -> Response:
    store().cancel_order(int(body()["order_id"]))
    return ok({"ok": True})


@control.post("/complete")
def complete() -> Response:
    store().complete_order(int(body()["order_id"]))
    return ok({"ok": True})


@control.post("/edit")
def edit() -> Response:
    d = body()
    store().edit_order_quantity(int(d["order_id"]), int(d["line_item_id"]), int(d["quantity"]))
    return ok({"ok": True})


@control.post("/refund")
def refund() -> Response:
    """`{order_id, amount?, reason?, restock?, lines?: {line item id: units}}`."""
    d = body()
    lines = d.get("lines")
    r = store().refund_order(
        int(d["order_id"]),
        d.get("amount"),
        d.get("reason", ""),
        restock=bool(d.get("restock", False)),
        lines={int(k): int(v) for k, v in lines.items()} if lines is not None else None,
    )
    return ok({"id": r.id}, 201)


@control.post("/update-product")
def update_product() -> Response:
    d = dict(body())
    pid = int(d.pop("id"))
    store().update_product(pid, **d)
    return ok({"ok": True})


@control.post("/fail")
def fail() -> Response:
    d = body()
    store().fail_next(int(d.get("n", 1)), int(d.get("status", 503)))
    return ok({"ok": True})


@control.post("/slow")
def slow() -> Response:
    store().slow_answers(float(body().get("seconds", 0)))
    return ok({"ok": True})


@control.post("/drop-webhook")
def drop_webhook() -> Response:
    store().drop_next_webhook(int(body().get("n", 1)))
    return ok({"ok": True})


@control.post("/create-key")
def create_key() -> Response:
    d = body()
    k = store().create_key(d.get("permissions", "read_write"), int(d.get("user_id", 1)))
    return ok(
        {
            "key_id": k.key_id,
            "consumer_key": k.consumer_key,
            "consumer_secret": k.consumer_secret,
            "permissions": k.permissions,
        },
        201,
    )


@control.post("/wait-webhooks")
def wait_webhooks() -> Response:
    return ok({"idle": dispatcher().wait_idle(float(body().get("timeout", 5)))})


def _with_query(url: str, params: dict[str, Any]) -> str:
    """`add_query_arg`: append to an existing query string."""
    return url + ("&" if urlparse(url).query else "?") + urlencode(params)


def _die(message: str) -> Response:
    """`wp_die(..., 'Access denied', 401)`: an HTML error page, not JSON."""
    html = f"<html><head><title>Access denied</title></head><body><p>Error: {message}.</p></body></html>"  # noqa: E501
    return Response(html, 401, mimetype="text/html")


@wc_auth.get("/authorize")
def authorize() -> Response:
    """The merchant approves at once (or denies with `deny=1`); keys are posted to the callback.

    As class-wc-auth.php: the key is deleted and the merchant sees a 401 error page unless the
    callback answers exactly 200; on success the browser goes to return_url?success=1&user_id=.
    """
    a = {k: v for k, v in request.args.items()}
    for name in ("app_name", "scope", "user_id", "return_url", "callback_url"):
        if not a.get(name):
            return _die(f"{name.replace('_', ' ')} is required")
    if a["scope"] not in ("read", "write", "read_write"):
        return _die("Invalid scope " + a["scope"])
    s = store()
    if s.settings.require_https_callback and not a["callback_url"].startswith("https://"):
        return _die("The callback_url needs to be over SSL")
    if a.get("deny") in ("1", "true"):
        return redirect(_with_query(a["return_url"], {"success": 0, "user_id": a["user_id"]}))
    key = s.create_key(a["scope"], 1, f"{a['app_name']} - API ({s.now():%Y-%m-%d %H:%M:%S})")
    data = {
        "key_id": key.key_id,
        "user_id": a["user_id"],
        "consumer_key": key.consumer_key,
        "consumer_secret": key.consumer_secret,
        "key_permissions": key.permissions,
    }
    try:
        answer = requests.post(
            a["callback_url"],
            data=json.dumps(data),
            headers={"Content-Type": "application/json;charset=UTF-8"},
            timeout=60,
        )
        code = answer.status_code
    except requests.RequestException as exc:
        s.delete_key(key.key_id)
        return _die(str(exc))
    if code != 200:
        s.delete_key(key.key_id)
        return _die(
            "An error occurred in the request and at the time were unable to send the consumer data"
        )
    return redirect(_with_query(a["return_url"], {"success": 1, "user_id": a["user_id"]}))
