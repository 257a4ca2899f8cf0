"""Errors a scenario or mutation raises when the shop refuses an action."""

from __future__ import annotations


class SandboxError(Exception):
    """The shop refused the action; `code` mirrors the Shopify user-error code where one exists."""

    def __init__(self, message: str, code: str = "INVALID", field: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class NotFound(SandboxError):
    """No object with that id in this shop."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} does not exist", code="NOT_FOUND", field=["id"])


class OutOfStock(SandboxError):
    """A DENY variant cannot sell more than is available (Shopify refuses the checkout)."""

    def __init__(self, sku: str, available: int, wanted: int) -> None:
        super().__init__(
            f"Not enough stock for {sku}: {available} available, {wanted} wanted",
            code="OUT_OF_STOCK",
        )
