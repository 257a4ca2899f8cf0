"""Flask glue shared by the route modules: the store, auth gate, JSON in and out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Response, current_app, g, jsonify, request

from .errors import WooError
from .query import paginate
from .rest import API
from .store import WooStore
from .webhooks import WebhookDispatcher

DENIED = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": (
        "woocommerce_rest_cannot_delete",
        "Sorry, you are not allowed to delete this resource.",
    ),
    "batch": (
        "woocommerce_rest_cannot_batch",
        "Sorry, you are not allowed to batch manipulate this resource.",
    ),
}


def store() -> WooStore:
    """The store this app serves."""
    return current_app.extensions["woo_store"]


def dispatcher() -> WebhookDispatcher:
    """The webhook dispatcher of this app."""
    return current_app.extensions["woo_dispatcher"]


def need(action: str) -> None:
    """Permission callback: an anonymous request gets the controller's 401 (rest_authorization_required_code)."""  # noqa: E501
    if getattr(g, "woo_key", None) is None:
        code, message = DENIED[action]
        raise WooError(code, message, 401)


def args() -> dict[str, str]:
    """Query parameters as PHP's $_GET sees them: the last of duplicates wins."""
    return {k: v[-1] for k, v in request.args.lists()}


def body() -> dict[str, Any]:
    """Request parameters from a JSON or form body (WordPress accepts both)."""
    data = request.get_json(silent=True)
    if isinstance(data, dict):
        return data
    return dict(request.form.items())


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer."""
    response = jsonify(data)
    response.status_code = status
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def listing(items: Sequence[Any], render: Any, path: str) -> Response:
    """A paginated collection answer with X-WP-Total, X-WP-TotalPages and Link."""
    s = store()
    page, headers = paginate(items, args(), s.settings.site_url.rstrip("/") + API + "/" + path)
    return ok([render(s, item) for item in page], headers=headers)


def flag(value: Any) -> bool:
    """A boolean parameter as WordPress reads it ("true", "1", true)."""
    return value is True or str(value).lower() in ("1", "true", "yes")
