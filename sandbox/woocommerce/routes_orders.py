"""Orders, order notes and refunds: /orders, /orders/<id>/notes, /orders/<id>/refunds, batch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from .errors import WooError
from .order_lines import update_lines
from .query import date_filter, id_list, order_items
from .rest import API, note_json, order_json, refund_json
from .routes_catalog import _try, check_batch_size
from .store import WooStore
from .web import args, body, flag, listing, need, ok, store

bp = Blueprint("woo_orders", __name__, url_prefix=API)
EDIT = ["POST", "PUT", "PATCH"]
HIDDEN_BY_ANY = ("trash", "checkout-draft", "auto-draft")


@bp.get("/orders")
def list_orders() -> Response:
    need("list")
    s = store()
    a = args()
    with s.lock:
        keep = date_filter(a, s.settings.timezone)
        wanted = {x.strip() for x in a.get("status", "any").split(",")}
        include = id_list(a.get("include", ""))
        product = int(a["product"]) if a.get("product", "").isdigit() else None
        items = []
        for o in s.orders.values():
            if "any" in wanted and o.status in HIDDEN_BY_ANY:
                continue
            if "any" not in wanted and o.status not in wanted:
                continue
            if include and o.id not in include:
                continue
            if a.get("customer") and str(o.customer_id) != a["customer"]:
                continue
            if product is not None and not any(
                product in (i.product_id, i.variation_id) for i in o.line_items
            ):
                continue
            if keep(o.date_created, o.date_modified):
                items.append(o)
        keys = {
            "date": lambda o: o.date_created,
            "id": lambda o: o.id,
            "modified": lambda o: o.date_modified,
            "include": lambda o: o.id,
            "title": lambda o: o.id,
            "slug": lambda o: o.id,
        }
        return listing(order_items(items, a, keys), order_json, "orders")


@bp.post("/orders")
def create_order() -> Response:
    need("create")
    s = store()
    with s.lock:
        return ok(order_json(s, _create(s, body())), 201)


@bp.get("/orders/<int:oid>")
def get_order(oid: int) -> Response:
    need("view")
    s = store()
    with s.lock:
        return ok(order_json(s, s.order(oid)))


@bp.route("/orders/<int:oid>", methods=EDIT)
def update_order(oid: int) -> Response:
    need("edit")
    s = store()
    with s.lock:
        return ok(order_json(s, _update(s, oid, body())))


@bp.post("/orders/batch")
def batch_orders() -> Response:
    need("batch")
    s = store()
    data = body()
    check_batch_size(data)
    out: dict[str, list[Any]] = {}
    with s.lock:
        if "create" in data:
            out["create"] = [_try(lambda d=d: order_json(s, _create(s, d))) for d in data["create"]]
        if "update" in data:
            out["update"] = [
                _try(lambda d=d: order_json(s, _update(s, int(d.get("id", 0)), d)))
                for d in data["update"]
            ]
        if "delete" in data:
            out["delete"] = [_try(lambda i=i: _trash(s, int(i))) for i in data["delete"]]
    return ok(out)


def _trash(s: WooStore, oid: int) -> dict[str, Any]:
    s.set_status(oid, "trash")
    return order_json(s, s.order(oid))


def _create(s: WooStore, data: dict[str, Any]) -> Any:
    lines = [
        (int(li.get("product_id", 0)), int(li.get("variation_id") or 0), int(li.get("quantity", 1)))
        for li in data.get("line_items") or []
    ]
    status = str(data.get("status") or "pending")
    if flag(data.get("set_paid", False)) and status == "pending":
        status = "processing"
    billing = data.get("billing") or {}
    order = s.create_order(
        lines,
        status=status,
        email=str(billing.get("email") or "customer@example.com"),
        billing=billing,
        customer_note=str(data.get("customer_note") or ""),
    )
    if data.get("meta_data"):
        s._upsert_meta(order.meta_data, data["meta_data"])
    return order


def _update(s: WooStore, oid: int, data: dict[str, Any]) -> Any:
    order = s.order(oid)
    if isinstance(data.get("line_items"), list):
        update_lines(s, order, data["line_items"])
    if data.get("customer_note") is not None:
        order.customer_note = str(data["customer_note"])
    if data.get("billing"):
        order.billing.update(data["billing"])
    if data.get("meta_data"):
        s._upsert_meta(order.meta_data, data["meta_data"])
    status = data.get("status")
    if flag(data.get("set_paid", False)) and order.status == "pending" and not status:
        status = "processing"
    if status and status != order.status:
        s.set_status(oid, str(status))
    else:
        order.date_modified = s.now()
        s._emit("order.updated", oid)
    return order


@bp.get("/orders/<int:oid>/notes")
def list_notes(oid: int) -> Response:
    need("list")
    s = store()
    kind = args().get("type", "any")
    with s.lock:
        s.order(oid)
        notes = [n for n in s.notes.values() if n.order_id == oid]
        if kind == "customer":
            notes = [n for n in notes if n.customer_note]
        elif kind == "internal":
            notes = [n for n in notes if not n.customer_note]
        notes.sort(key=lambda n: n.id, reverse=True)
        return ok([note_json(s, n) for n in notes])


@bp.post("/orders/<int:oid>/notes")
def create_note(oid: int) -> Response:
    need("create")
    s = store()
    data = body()
    if not data.get("note"):
        raise WooError(
            "rest_missing_callback_param", "Missing parameter(s): note", 400, params=["note"]
        )
    with s.lock:
        if oid not in s.orders:
            raise WooError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
        author = "admin" if flag(data.get("added_by_user", False)) else "system"
        n = s.add_note(
            oid,
            str(data["note"]),
            customer_note=flag(data.get("customer_note", False)),
            author=author,
        )
        return ok(note_json(s, n), 201)


def _note(s: WooStore, oid: int, nid: int) -> Any:
    if oid not in s.orders:
        raise WooError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
    n = s.notes.get(nid)
    if n is None or n.order_id != oid:
        raise WooError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
    return n


@bp.get("/orders/<int:oid>/notes/<int:nid>")
def get_note(oid: int, nid: int) -> Response:
    need("view")
    s = store()
    with s.lock:
        return ok(note_json(s, _note(s, oid, nid)))


@bp.delete("/orders/<int:oid>/notes/<int:nid>")
def delete_note(oid: int, nid: int) -> Response:
    need("delete")
    s = store()
    with s.lock:
        n = _note(s, oid, nid)
        if not flag(args().get("force", False)):
            raise WooError(
                "woocommerce_rest_trash_not_supported",
                "The resource does not support trashing.",
                501,
            )
        del s.notes[nid]
        return ok(note_json(s, n))


@bp.get("/orders/<int:oid>/refunds")
def list_refunds(oid: int) -> Response:
    need("list")
    s = store()
    with s.lock:
        order = s.order(oid)
        refunds = [s.refunds[r] for r in reversed(order.refunds)]
        return listing(refunds, refund_json, f"orders/{oid}/refunds")


@bp.post("/orders/<int:oid>/refunds")
def create_refund(oid: int) -> Response:
    """`wc_create_refund` through REST v3: `line_items [{id, quantity, refund_total}]`.

    As `RestApiUtil::adjust_create_refund_request_parameters`: without `amount`, the refund is
    the sum of the lines' `refund_total`. `api_restock` (default true) puts the units back;
    `api_refund` (default true) asks the payment gateway, and the sandbox's only gateway (bank
    transfer) cannot refund automatically, so WooCommerce refuses unless it is false.
    """
    need("create")
    s = store()
    data = body()
    items = data.get("line_items") or []
    lines = {int(li.get("id", 0)): int(li.get("quantity") or 0) for li in items}
    amount = data.get("amount")
    if amount in (None, ""):
        amount = f"{sum(float(li.get('refund_total') or 0) for li in items):.2f}"
    with s.lock:
        s.order(oid)
        if flag(data.get("api_refund", True)):
            raise WooError(
                "woocommerce_rest_cannot_create_order_refund",
                "The payment gateway for this order does not support automatic refunds.",
                500,
            )
        refund = s.refund_order(
            oid,
            str(amount),
            str(data.get("reason") or ""),
            restock=flag(data.get("api_restock", True)),
            lines=lines,
        )
        return ok(refund_json(s, refund), 201)


@bp.get("/orders/<int:oid>/refunds/<int:rid>")
def get_refund(oid: int, rid: int) -> Response:
    need("view")
    s = store()
    with s.lock:
        order = s.order(oid)
        if rid not in order.refunds:
            raise WooError("woocommerce_rest_invalid_id", "Invalid ID.", 404)
        return ok(refund_json(s, s.refunds[rid]))
