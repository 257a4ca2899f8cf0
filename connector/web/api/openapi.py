"""The OpenAPI 3.1 document, generated from the declared operations and their pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from connector import __version__
from connector.web.api.routing import OPERATIONS, Operation, openapi_path, path_parameters
from connector.web.api.schemas import ErrorBody

_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    400: "Malformed request or query parameter",
    401: "Missing or unknown bearer token",
    403: "The token may not act on that shop",
    404: "No such resource in this shop",
    409: "Conflicts with the current state",
    413: "Body larger than 1 MiB",
    422: "A field failed validation",
}


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(op: Operation, refs: dict[Any, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return refs[(model, "serialization" if model is not op.body else "validation")]

    error = {"application/json": {"schema": refs[(ErrorBody, "serialization")]}}
    success: dict[str, Any] = {"description": "Success"}
    if op.media_type:
        success["content"] = {op.media_type: {"schema": {"type": "string"}}}
    elif op.response:
        success["content"] = {"application/json": {"schema": ref(op.response)}}
    responses: dict[str, Any] = {str(op.status): success}
    for status in sorted(
        {401, *op.errors, *((400,) if op.query else ()), *((400, 413, 422) if op.body else ())}
    ):
        responses[str(status)] = {"description": _STATUS_TEXT[status], "content": error}
    document: dict[str, Any] = {
        "operationId": f"{op.method}_{openapi_path(op.rule)}".replace("/", "_").strip("_"),
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": path_parameters(op.rule)
        + (_query_parameters(op.query, schemas) if op.query else []),
        "responses": responses,
    }
    if op.body:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(op.body)}},
        }
    return document


def build_document() -> dict[str, Any]:
    models: set[tuple[type[BaseModel], str]] = {(ErrorBody, "serialization")}
    for op in OPERATIONS:
        if op.response:
            models.add((op.response, "serialization"))
        if op.body:
            models.add((op.body, "validation"))
    ordered = sorted(models, key=lambda item: (item[0].__name__, item[1]))
    refs, top = models_json_schema(ordered, ref_template=_REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(openapi_path(op.rule), {})[op.method] = _operation(op, refs, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Backorder Connector API",
            "version": __version__,
            "description": "Backorders, ETAs, incoming stock and notifications of one shop.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
