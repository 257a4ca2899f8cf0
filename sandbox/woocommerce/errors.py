"""WooCommerce's REST error, `{"code", "message", "data": {"status"}}` (WP_Error as JSON)."""

from __future__ import annotations

from typing import Any


class WooError(Exception):
    """An error the REST layer renders exactly as WordPress renders a WP_Error."""

    def __init__(self, code: str, message: str, status: int, **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.data = data

    def body(self) -> dict[str, Any]:
        """The JSON body WordPress sends for this error."""
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.data},
        }


class OutOfStock(WooError):
    """Storefront checkout refused a line: WooCommerce will not sell what it cannot cover."""

    def __init__(self, message: str) -> None:
        super().__init__("woocommerce_rest_product_out_of_stock", message, 400)


def invalid_id(resource: str) -> WooError:
    """The 404 a controller answers for an unknown id (woocommerce_rest_<resource>_invalid_id)."""
    return WooError(f"woocommerce_rest_{resource}_invalid_id", "Invalid ID.", 404)
