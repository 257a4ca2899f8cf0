"""`/_sandbox/…`: a small JSON control surface so demos and other processes can play merchant.

Each endpoint maps to one scenario method on the store; refusals answer 422 with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from sandbox.shopify.errors import NotFound, SandboxError

blueprint = Blueprint("shopify_control", __name__, url_prefix="/_sandbox")


def _state() -> Any:
    return current_app.extensions["shopify_sandbox"]


def _lines(raw: list[Any]) -> list[tuple[str, int]]:
    return [
        (line["variant_id"], int(line.get("quantity", 1)))
        if isinstance(line, dict)
        else (line[0], int(line[1]))
        for line in raw
    ]


ACTIONS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "place-order": lambda s, b: {
        "order_id": s.place_order(
            _lines(b["lines"]),
            shipping=b.get("shipping", "Standard"),
            email=b.get("email"),
            locale=b.get("locale", "en"),
        )
    },
    "restock": lambda s, b: {
        "available": s.restock(b["variant_id"], int(b["quantity"]), b.get("location_id")).available
    },
    "cancel": lambda s, b: {"order_id": s.cancel_order(b["order_id"]).id},
    "edit": lambda s, b: {
        "order_id": s.edit_order_quantity(b["order_id"], b["line_item_id"], int(b["quantity"])).id
    },
    "fulfil": lambda s, b: {"order_id": s.fulfil_order(b["order_id"]).id},
    "update-product": lambda s, b: {
        "product_id": s.update_product(b["product_id"], **b.get("fields", {})).id
    },
    "set-variant-policy": lambda s, b: {
        "variant_id": s.update_variants(
            b["product_id"], [{"id": b["variant_id"], "inventoryPolicy": b["policy"]}]
        )[0].id
    },
    "fail": lambda s, b: s.fail_next(int(b.get("n", 1)), int(b.get("status", 500))),
    "slow": lambda s, b: s.slow_answers(float(b.get("seconds", 0))),
    "throttle-storm": lambda s, b: s.throttle_storm(),
    "drop-webhook": lambda s, b: s.drop_next_webhook(),
    "compliance": lambda s, b: {
        "event_id": s.trigger_compliance(b["topic"], b.get("url")).event_id
    },
    "uninstall": lambda s, b: s.uninstall(),
}


@blueprint.post("/<action>")
def act(action: str) -> Response | tuple[Response, int]:
    handler = ACTIONS.get(action)
    if handler is None:
        abort(404)
    body = request.get_json(silent=True) or {}
    try:
        result = handler(_state().store, body)
    except NotFound as exc:
        return jsonify({"error": exc.message, "code": exc.code}), 404
    except SandboxError as exc:
        return jsonify({"error": exc.message, "code": exc.code}), 422
    except (KeyError, TypeError, ValueError) as exc:
        return jsonify({"error": f"bad request: {exc}"}), 400
    return jsonify({"ok": True, **(result or {})})


@blueprint.get("/state")
def state() -> Response:
    sandbox = _state()
    return jsonify({**sandbox.store.summary(), "webhook_deliveries": len(sandbox.delivery.log)})


@blueprint.get("/bulk/<int:number>.jsonl")
def bulk_file(number: int) -> Response:
    body = _state().bulk.files.get(number)
    if body is None:
        abort(404)
    return Response(body, mimetype="application/jsonl")
