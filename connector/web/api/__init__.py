"""JSON API v1: importing the resources registers every operation on the blueprint."""

from __future__ import annotations

from typing import Any

from connector.web.api import (
    reorder,  # noqa: F401  (the reorder list, its CSV, the merchant's reorder webhook)
    resources,  # noqa: F401  (registers the operations)
    tasks,  # noqa: F401  (merchant tasks, order changes)
)
from connector.web.api.openapi import build_document
from connector.web.api.routing import api_v1


@api_v1.get("/openapi.json")
def openapi_json() -> dict[str, Any]:
    return build_document()


__all__ = ["api_v1"]
