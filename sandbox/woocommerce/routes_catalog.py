"""Products and variations: /products, /products/<id>/variations, /variations, batch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort

from .errors import WooError
from .models import Product
from .query import date_filter, id_list, order_items
from .rest import API, product_json, variation_json
from .stock import effective_status
from .store import WooStore
from .web import args, body, flag, listing, need, ok, store

bp = Blueprint("woo_catalog", __name__, url_prefix=API)
EDIT = ["POST", "PUT", "PATCH"]
BATCH_LIMIT = 100  # woocommerce_rest_batch_items_limit


def _sort_keys() -> dict[str, Any]:
    return {
        "date": lambda p: p.date_created,
        "id": lambda p: p.id,
        "modified": lambda p: p.date_modified,
        "title": lambda p: p.name.lower(),
        "slug": lambda p: p.slug,
        "include": lambda p: p.id,
    }


def _select(s: WooStore, candidates: list[Product]) -> list[Product]:
    """Apply the list filters WooCommerce offers on products and variations."""
    a = args()
    keep = date_filter(a, s.settings.timezone)
    status = a.get("status", "any")
    skus = {x.strip() for x in a["sku"].split(",")} if a.get("sku") else None
    include = id_list(a.get("include", ""))
    exclude = id_list(a.get("exclude", ""))
    parents = id_list(a["parent"]) if a.get("parent") else None
    search = a.get("search", "").lower()
    out = []
    for p in candidates:
        if status == "any" and p.status == "trash":
            continue
        if status != "any" and p.status != status:
            continue
        if skus is not None and p.sku not in skus:
            continue
        if a.get("type") and p.type != a["type"]:
            continue
        if parents is not None and p.parent_id not in parents:
            continue
        if a.get("stock_status") and effective_status(p, s.products) != a["stock_status"]:
            continue
        if a.get("category") and not any(str(c["id"]) == a["category"] for c in p.categories):
            continue
        if (include and p.id not in include) or p.id in exclude:
            continue
        if search and search not in p.name.lower():
            continue
        if keep(p.date_created, p.date_modified):
            out.append(p)
    return order_items(out, a, _sort_keys())


@bp.get("/products")
def list_products() -> Response:
    need("list")
    s = store()
    with s.lock:
        items = _select(s, [p for p in s.products.values() if p.type != "variation"])
        return listing(items, product_json, "products")


@bp.post("/products")
def create_product() -> Response:
    need("create")
    s = store()
    with s.lock:
        return ok(product_json(s, s.new_product(**body())), 201)


@bp.get("/products/<int:pid>")
def get_product(pid: int) -> Response:
    need("view")
    s = store()
    with s.lock:
        return ok(product_json(s, s.product(pid)))


@bp.route("/products/<int:pid>", methods=EDIT)
def update_product(pid: int) -> Response:
    need("edit")
    s = store()
    with s.lock:
        s.product(pid)
        return ok(product_json(s, s.update_product(pid, **_writable(body()))))


@bp.delete("/products/<int:pid>")
def delete_product(pid: int) -> Response:
    need("delete")
    s = store()
    with s.lock:
        before = product_json(s, s.product(pid))
        s.delete_product(pid, force=flag(args().get("force", False)))
        return ok(before if flag(args().get("force", False)) else product_json(s, s.products[pid]))


@bp.get("/products/<int:pid>/variations")
def list_variations(pid: int) -> Response:
    need("list")
    s = store()
    with s.lock:
        parent = s.product(pid)
        items = _select(s, [s.products[v] for v in parent.variations])
        return listing(items, variation_json, f"products/{pid}/variations")


@bp.get("/variations")
def list_all_variations() -> Response:
    """All variations of the store (GET /wc/v3/variations, WooCommerce 10.3+), each with its
    `parent_id`; the product list filters apply (`parent=1,2` keeps those products' variations).
    A store set to an older version has no such route."""
    s = store()
    if not s.settings.serves_variations_collection:
        abort(404)  # rendered as WordPress's rest_no_route
    need("list")
    with s.lock:
        parents = id_list(args().get("parent", ""))
        if parents:  # as WordPress does (post_parent__in): only those products' children
            found = [s.products.get(pid) for pid in sorted(parents)]
            candidates = [s.products[v] for p in found if p is not None for v in p.variations]
        else:
            candidates = [p for p in s.products.values() if p.type == "variation"]
        return listing(_select(s, candidates), variation_json, "variations")


@bp.post("/products/<int:pid>/variations")
def create_variation(pid: int) -> Response:
    need("create")
    s = store()
    with s.lock:
        return ok(variation_json(s, s.new_variation(pid, **_writable(body()))), 201)


@bp.get("/products/<int:pid>/variations/<int:vid>")
def get_variation(pid: int, vid: int) -> Response:
    need("view")
    s = store()
    with s.lock:
        return ok(variation_json(s, s.variation(pid, vid)))


@bp.route("/products/<int:pid>/variations/<int:vid>", methods=EDIT)
def update_variation(pid: int, vid: int) -> Response:
    need("edit")
    s = store()
    with s.lock:
        s.variation(pid, vid)
        fields = _writable(body())
        if fields.get("manage_stock") == "parent":
            fields["manage_stock"] = False
        return ok(variation_json(s, s.update_product(vid, **fields)))


@bp.post("/products/batch")
def batch_products() -> Response:
    need("batch")
    s = store()
    data = body()
    check_batch_size(data)
    out: dict[str, list[Any]] = {}
    with s.lock:
        if "create" in data:
            out["create"] = [
                _try(lambda d=d: product_json(s, s.new_product(**d))) for d in data["create"]
            ]
        if "update" in data:
            out["update"] = [
                _try(lambda d=d: product_json(s, s.update_product(_id(d), **_writable(d))))
                for d in data["update"]
            ]
        if "delete" in data:
            out["delete"] = [_try(lambda i=i: _delete(s, int(i))) for i in data["delete"]]
    return ok(out)


def check_batch_size(data: dict[str, Any]) -> None:
    """More than 100 objects across create, update and delete is refused with 413."""
    count = sum(len(data.get(k) or []) for k in ("create", "update", "delete"))
    if count > BATCH_LIMIT:
        raise WooError(
            "woocommerce_rest_request_entity_too_large",
            f"Unable to accept more than {BATCH_LIMIT} items for this request.",
            413,
        )


def _id(d: dict[str, Any]) -> int:
    s = store()
    pid = int(d.get("id", 0))
    if pid not in s.products:
        raise WooError("woocommerce_rest_product_invalid_id", "Invalid ID.", 400)
    return pid


def _delete(s: WooStore, pid: int) -> dict[str, Any]:
    before = product_json(s, s.product(pid))
    s.delete_product(pid, force=True)
    return before


def _try(fn: Any) -> dict[str, Any]:
    """Batch items fail one by one: `{"id", "error": {code, message, data}}`."""
    try:
        return fn()
    except WooError as e:
        return {"id": 0, "error": e.body()}


def _writable(d: dict[str, Any]) -> dict[str, Any]:
    """Drop read-only fields a client may echo back (id, dates, backorders_allowed, …)."""
    readonly = {
        "id",
        "backorders_allowed",
        "backordered",
        "price",
        "date_created",
        "date_modified",
        "date_created_gmt",
        "date_modified_gmt",
        "_links",
        "type",
    }
    return {k: v for k, v in d.items() if k not in readonly}
